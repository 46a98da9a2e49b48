// Runs one pickle symbolically: the stack, memo and marks of CPython's C unpickler, but every object is a node
// in an ObjectGraph and every import, call and BUILD is recorded as an Effect instead of happening.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "io/budget.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/result.hpp"
#include "pickle/decoder.hpp"
#include "pickle/object_graph.hpp"

namespace picklewall::detail {

// Why a pickle ended before STOP.
struct PickleFailure {
  ErrorCode code;        // malformed or limit_exceeded
  std::string message;
  std::uint64_t offset;  // where decoding or execution failed
  std::string limit;     // name of the Limits field when code == limit_exceeded
};

struct PickleProgram {
  ObjectGraph graph;
  std::uint64_t start = 0;  // offset of the first opcode in the stream
  std::uint64_t end = 0;    // offset after STOP, or of the failing opcode
  bool stopped = false;     // reached STOP
  std::optional<Value> root;        // what the load returns
  std::uint64_t leftover_items = 0; // objects left on the stack under the root at STOP
  std::vector<Value> leftover_values;  // the first few of them
  std::optional<PickleFailure> failure;
  int protocol = 0;         // protocol in force at the end (PROTO may appear more than once)
  std::uint64_t opcode_count = 0;
  std::uint64_t memory_bytes = 0;  // working memory the machine held at the end (graph, memo, stack, nested)
  std::uint64_t memo_overwrites = 0;   // PUTs to a memo key already holding a value
  std::uint64_t first_memo_overwrite_offset = 0;
  // Objects that were alone on the stack and then thrown away (POP/POP_MARK emptied it): real writers build one
  // object from the bottom of the stack up; a spliced payload empties the stack and builds another result.
  std::uint64_t dropped_roots = 0;
  std::uint64_t first_dropped_root_offset = 0;
  std::vector<Value> dropped_root_values;  // the first few
  // Set when the returned object is a call whose arguments include a dropped root: the object the pickle built
  // first is handed to a function whose result is what the loader returns (Sleepy Pickle's "run last on the root").
  std::optional<std::uint64_t> call_on_dropped_root_offset;
  // Constants pushed only to be popped (INT n; POP): splice tools leave these as markers; real writers never do.
  std::uint64_t popped_constants = 0;
  std::uint64_t first_popped_constant_offset = 0;
  // joblib: the pickles that object arrays were written as.
  std::vector<PickleProgram> nested;
  // joblib: where each NumpyArrayWrapper's raw array bytes are in the stream (convert reads them from here).
  struct JoblibArrayData {
    NodeId wrapper;
    std::uint64_t offset;
    std::uint64_t length;
  };
  std::vector<JoblibArrayData> joblib_arrays;
  // joblib: array padding joblib reads but never writes (a length other than 1-16, or bytes other than 0xFF).
  std::uint64_t odd_joblib_padding = 0;
  std::uint64_t first_odd_joblib_padding_offset = 0;

  // How this program was read (see Reading), and what the decoder noticed that another reading may see
  // differently (memory reading only).
  Reading reading = Reading::memory;
  bool file_may_differ = false;
  bool python_may_differ = false;
  std::uint64_t dropped_bytes = 0;       // file reading: frame bytes an instruction's read dropped
  std::uint64_t first_drop_offset = 0;
  // The same bytes under the other readings where they decode differently (read_pickle_stream fills this).
  std::vector<PickleProgram> other_readings;
};

struct MachineOptions {
  GraphDetail detail = GraphDetail::effects;
  // joblib.load reads each array's raw bytes straight from the stream right after the BUILD of its
  // NumpyArrayWrapper; with this on, the machine skips them exactly (and runs an object array's nested pickle)
  // instead of decoding array data as opcodes. Needs GraphDetail::full to read the wrapper's state.
  bool joblib_arrays = false;
  // Bytes already held for this file by earlier pickles of the same stream: they count against
  // Limits::max_memory_per_file too.
  std::uint64_t memory_in_use = 0;
  // The input is a read-only file mapping: pages already decoded are dropped from this process as the machine
  // moves on (they stay in the page cache and fault back if a string is looked at again), so resident memory
  // follows the machine's budget rather than the size of the pickle.
  bool release_consumed_input = false;
  // Read as plain pickle.loads does, with no persistent_load: a persistent id (PERSID, BINPERSID) raises there.
  bool persistent_load_fails = false;
  Reading reading = Reading::memory;
};

// Runs from `start` until STOP, an error, or a limit. `budget` is the whole file's (read every 4096 opcodes).
PickleProgram run_pickle(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
                         const Budget& budget, MachineOptions options = {});

}  // namespace picklewall::detail

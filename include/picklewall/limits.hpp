// Every budget the engine enforces on hostile input lives here, with its default. Hitting one is reported as a
// finding (rule "limit.<name>") and the file can never be judged safe; it is never a crash.
//
// The table below is the one source of the limits: the struct's fields, the command's --max-* flags, the
// Python keyword arguments, the verdict cache's key and the documentation all come from it, so a limit added
// here is settable and documented everywhere at once.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace picklewall {

// X(name, type, default, unit, description). `unit` is count, bytes or seconds.
#define PICKLEWALL_LIMITS(X)                                                                                     \
  /* Pickle virtual machine. */                                                                                  \
  X(max_opcodes, std::uint64_t, 200'000'000, count, "opcodes run per pickle")                                   \
  X(max_stack_depth, std::uint64_t, 1'000'000, count, "objects on the pickle VM's stack at once")               \
  /* Nesting: CPython's pickler recurses once per level, so no writer nests past its recursion limit (1,000 */ \
  /* by default); anything that walks the loaded object recursively (repr, deepcopy, == ) crashes on more.  */ \
  X(max_marks, std::uint64_t, 10'000, count, "MARKs open at once (nesting of tuples, lists and dicts)")          \
  X(max_nesting_depth, std::uint64_t, 10'000, count, "containers nested inside each other")                     \
  X(max_memo_entries, std::uint64_t, 10'000'000, count, "distinct memo keys per pickle")                        \
  X(max_graph_nodes, std::uint64_t, 50'000'000, count, "object-graph nodes kept per pickle")                    \
  X(max_container_items, std::uint64_t, 100'000'000, count, "container items kept per pickle")                  \
  X(max_pickles_per_stream, std::uint64_t, 64, count, "consecutive pickles read from one byte stream")          \
  X(max_line_bytes, std::uint64_t, 1'000'000, bytes, "one text-protocol argument line (GLOBAL, INT, STRING)")   \
  /* Real module and attribute paths have a handful of parts; a walk of hundreds (`os.path.os.path...`) is */   \
  /* built to stall a scanner. Such a name is still judged in full; the limit is reported beside it. */         \
  X(max_name_parts, std::uint64_t, 64, count, "dotted parts of one imported name (module and attribute walk)")  \
  /* Containers and files. */                                                                                    \
  X(max_archive_members, std::uint64_t, 100'000, count, "members of one archive")                               \
  X(max_archive_depth, std::uint64_t, 4, count, "archives, compressed streams and embedded pickles nested")     \
  X(max_decompressed_bytes, std::uint64_t, 1ull << 30, bytes, "one member or stream after inflating")           \
  /* A zip of a hundred bombs must not hold a hundred budgets in memory. */                                     \
  X(max_total_decompressed_bytes, std::uint64_t, 2ull << 30, bytes, "all members of one file after inflating")  \
  /* Single-pass deflate tops out near 1032:1: this catches bombs of zeros, real pickles are 2-10:1. */          \
  X(max_decompression_ratio, std::uint64_t, 1000, count, "inflated bytes per compressed byte")                  \
  X(max_files, std::uint64_t, 10'000'000, count, "files visited by one directory walk")                         \
  /* numpy refuses .npy headers over 10,000 characters, but not under allow_pickle=True, the one mode in which */ \
  /* an object dtype runs code: longer headers are still evaluated, up to this. */                              \
  X(max_npy_header_bytes, std::uint64_t, 1'000'000, bytes, "one .npy header, evaluated as a Python literal")   \
  /* A load gives every view and tied weight its own bytes: a few storages can name terabytes of views. */      \
  X(max_tensor_expansion, std::uint64_t, 16, count, "bytes of tensors a load may make per byte of its file")     \
  /* Names are built by joining keys down the object: deep nesting with long keys would make each name, and */  \
  /* their sum, grow with the square of the depth. Real names are a few hundred bytes at most. */              \
  X(max_tensor_name_bytes, std::uint64_t, 4096, bytes, "one tensor's dotted name (convert and load)")            \
  /* Time: read by every stage (machine, judgement, decoding, inflating, archives, inspect, convert). */        \
  X(max_seconds_per_file, double, 120.0, seconds, "wall time for one file, every stage together")              \
  /* With the decompression budget this bounds what one file can make the scanner hold, whatever its size. */  \
  X(max_memory_per_file, std::uint64_t, 2ull << 30, bytes, "working memory of the pickle machine for one file")

struct Limits {
#define PICKLEWALL_LIMIT_FIELD(name, type, value, unit, description) type name = value;
  PICKLEWALL_LIMITS(PICKLEWALL_LIMIT_FIELD)
#undef PICKLEWALL_LIMIT_FIELD
};

enum class LimitUnit { count, bytes, seconds };

// One row of the table, for code that handles every limit alike (flags, keyword arguments, cache keys). A
// limit is either an integer (`integer` set) or a number of seconds (`seconds` set).
struct LimitInfo {
  std::string_view name;
  LimitUnit unit;
  std::string_view description;
  std::uint64_t Limits::*integer = nullptr;
  double Limits::*seconds = nullptr;
};

std::span<const LimitInfo> limit_table();

}  // namespace picklewall

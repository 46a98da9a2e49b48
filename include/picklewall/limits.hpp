// Every budget the engine enforces on hostile input lives here, with its default. Hitting one is reported as a
// finding (rule "limit.<name>") and the file can never be judged safe; it is never a crash.
#pragma once

#include <cstdint>

namespace picklewall {

struct Limits {
  // Pickle virtual machine.
  std::uint64_t max_opcodes = 200'000'000;      // per pickle stream
  std::uint64_t max_stack_depth = 1'000'000;    // objects on the VM stack at once
  std::uint64_t max_marks = 100'000;            // open MARKs (nesting of tuples/lists/dicts built with MARK)
  // Containers nested deeper than this: CPython's pickler recurses per level, so no real writer gets near it,
  // and whatever walks the loaded object recursively would crash on it.
  std::uint64_t max_nesting_depth = 100'000;
  std::uint64_t max_memo_entries = 10'000'000;  // distinct memo keys
  std::uint64_t max_graph_nodes = 50'000'000;   // object-graph nodes kept per stream (containers, strings, calls)
  std::uint64_t max_container_items = 100'000'000;  // container children kept across the stream
  std::uint64_t max_pickles_per_stream = 64;    // consecutive pickles read from one byte stream
  std::uint64_t max_line_bytes = 1'000'000;     // text-protocol argument lines (GLOBAL, INT, STRING, ...)
  // Containers and files.
  std::uint64_t max_archive_members = 100'000;  // members of one archive
  std::uint64_t max_archive_depth = 4;          // archives inside archives
  std::uint64_t max_decompressed_bytes = 1ull << 30;  // per member after inflating
  // All members of one file together: a zip of a hundred bombs must not hold a hundred budgets in memory.
  std::uint64_t max_total_decompressed_bytes = 2ull << 30;
  // Inflated bytes per compressed byte. Single-pass deflate tops out near 1032:1, so this catches bombs built
  // from runs of zeros while real pickles (about 2-10:1) never come close.
  std::uint64_t max_decompression_ratio = 1000;
  std::uint64_t max_files = 10'000'000;          // files visited by one directory walk
  // Time: checked every few thousand opcodes, so one hostile file cannot stall a batch.
  double max_seconds_per_file = 120.0;
  // Working memory of the pickle machine for one stream (object graph, memo, VM stack, earlier pickles of the
  // same stream), checked with the clock. With the decompression budget above it bounds what one file can make
  // the scanner hold, whatever the file's size: a batch of N workers needs at most N times the two.
  std::uint64_t max_memory_per_file = 2ull << 30;
};

}  // namespace picklewall

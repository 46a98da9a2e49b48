// What the targets share. Limits: the defaults scaled down so that one input cannot take libFuzzer's whole memory
// (2 GB RSS) or time budget, while every limit still trips on inputs a mutator can reach.
#pragma once
#include <chrono>
#include <cstdint>
#include <span>

#include "picklewall/limits.hpp"
#include "pickle/pickle_stream.hpp"

namespace picklewall::fuzz {

inline Limits fuzz_limits() {
  Limits limits;
  limits.max_opcodes = 2'000'000;
  limits.max_memo_entries = 200'000;
  limits.max_graph_nodes = 1'000'000;
  limits.max_container_items = 2'000'000;
  limits.max_decompressed_bytes = 64 << 20;
  limits.max_total_decompressed_bytes = 128 << 20;
  limits.max_memory_per_file = 256 << 20;
  limits.max_seconds_per_file = 10;
  return limits;
}

inline detail::Budget fuzz_budget(const Limits& limits) { return detail::Budget(limits); }

// Up to `max_pickles` pickles from the input under the fuzzing limits, with the full object graph kept.
inline detail::PickleStream fuzz_stream(std::span<const std::uint8_t> input, std::uint64_t max_pickles,
                                        bool joblib_arrays = false) {
  const Limits limits = fuzz_limits();
  return detail::read_pickle_stream(input, 0, limits, fuzz_budget(limits), max_pickles,
                                    detail::MachineOptions{detail::GraphDetail::full, joblib_arrays});
}

}  // namespace picklewall::fuzz

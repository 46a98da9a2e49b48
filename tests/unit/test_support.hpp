// Small helpers for building pickle bytes in tests.
#pragma once

#include <chrono>
#include <deque>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "pickle/pickle_stream.hpp"
#include "pickle/symbolic_machine.hpp"

namespace picklewall::test {

inline std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Programs hold views into their input (strings are inline values), and tests pass temporaries: keep every
// input alive until the test binary exits.
inline detail::PickleProgram run(const std::string& pickle, const Limits& limits = {}) {
  static std::deque<std::string> inputs;
  const detail::Budget budget(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  return detail::run_pickle(bytes_of(inputs.emplace_back(pickle)), 0, limits, budget);
}

// A budget no unit test reaches.
inline const detail::Budget& no_time_limit() {
  static const detail::Budget budget(std::chrono::steady_clock::time_point::max());
  return budget;
}

inline std::vector<std::string> globals_of(const detail::PickleProgram& program) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < program.graph.global_count(); ++i) out.push_back(program.graph.global(i).qualified());
  return out;
}

inline std::string u32(std::uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

inline std::string u64(std::uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

}  // namespace picklewall::test

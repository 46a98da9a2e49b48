#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {

bool looks_like_pickle(const PickleProgram& program, std::span<const std::uint8_t> input) {
  if (program.start + 1 < input.size() && input[program.start] == static_cast<std::uint8_t>(Opcode::PROTO) &&
      input[program.start + 1] <= 5)
    return true;
  if (program.stopped) return true;
  for (const Effect& effect : program.graph.effects())
    if (effect.kind != EffectKind::import_global) return true;
  return false;
}

PickleStream read_pickle_stream(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
                                std::chrono::steady_clock::time_point deadline, std::uint64_t max_pickles) {
  PickleStream stream;
  if (max_pickles == 0) max_pickles = limits.max_pickles_per_stream;
  std::uint64_t position = start;
  while (position < input.size()) {
    if (stream.pickles.size() >= max_pickles) {
      stream.pickle_limit_reached = max_pickles == limits.max_pickles_per_stream;
      break;
    }
    PickleProgram program = run_pickle(input, position, limits, deadline);
    // After the first pickle, bytes that do not decode as one are trailing data, not another pickle.
    if (!stream.pickles.empty() && !looks_like_pickle(program, input)) break;
    const bool stopped = program.stopped;
    position = program.end;
    stream.pickles.push_back(std::move(program));
    if (!stopped) break;
  }
  if (!stream.pickles.empty() && stream.pickles.back().stopped && position < input.size()) {
    stream.trailing_offset = position;
    stream.trailing_bytes = input.size() - position;
  } else if (!stream.pickles.empty() && !stream.pickles.back().stopped) {
    stream.trailing_offset = input.size();
  }
  return stream;
}

}  // namespace picklewall::detail

#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {
namespace {

// A dotted Python identifier (ASCII letters, digits, underscores; or any non-ASCII byte, as identifiers may be).
bool is_module_name(std::string_view text) {
  if (text.empty()) return false;
  bool at_start = true;
  for (unsigned char c : text) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
      continue;
    }
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    if (!letter && !(c >= '0' && c <= '9' && !at_start)) return false;
    at_start = false;
  }
  return !at_start;
}

// Whether the other reading decoded the bytes into a different program than the memory reading did.
bool reads_differently(const PickleProgram& memory, const PickleProgram& other) {
  if (other.reading == Reading::file) return other.dropped_bytes > 0;
  return other.end != memory.end || other.stopped != memory.stopped || other.opcode_count != memory.opcode_count ||
         other.graph.effects().size() != memory.graph.effects().size() ||
         other.joblib_arrays.size() != memory.joblib_arrays.size();
}

// Runs the pickle at `start` again under each reading the memory reading says could see other instructions,
// keeping the ones that do: a loader using that reading runs what they hold.
void add_other_readings(PickleProgram& program, std::span<const std::uint8_t> input, std::uint64_t start,
                        const Limits& limits, const Budget& budget, MachineOptions options) {
  for (Reading reading : {Reading::file, Reading::python}) {
    const bool may_differ = reading == Reading::file ? program.file_may_differ : program.python_may_differ;
    if (!may_differ) continue;
    options.reading = reading;
    options.memory_in_use += program.memory_bytes;
    PickleProgram other = run_pickle(input, start, limits, budget, options);
    if (reads_differently(program, other)) {
      program.memory_bytes += other.memory_bytes;
      program.other_readings.push_back(std::move(other));
    }
  }
}

}  // namespace

bool looks_like_pickle(const PickleProgram& program, std::span<const std::uint8_t> input) {
  // Evidence under any reading counts: a pickle.py loader reads on where _pickle.c stops. (One level: the other
  // readings have none of their own.)
  for (const PickleProgram& other : program.other_readings)
    if (looks_like_pickle(other, input)) return true;
  if (program.start + 1 < input.size() && input[program.start] == static_cast<std::uint8_t>(Opcode::PROTO) &&
      input[program.start + 1] <= 5)
    return true;
  // Stopping at a limit means it was not fully read: never call that "not a pickle".
  if (program.stopped || (program.failure && program.failure->code == ErrorCode::limit_exceeded)) return true;
  // Any effect is evidence, and so is importing a module a real interpreter could find: CPython imports it
  // (running the module's top level) before whatever breaks later.
  const ObjectGraph& graph = program.graph;
  for (const Effect& effect : graph.effects()) {
    if (effect.kind != EffectKind::import_global) return true;
    const GlobalRef* ref = graph.as_global(effect.target);
    if (ref != nullptr && is_module_name(ref->module)) return true;
  }
  return false;
}

bool imports_a_module(const PickleProgram& program) {
  for (const PickleProgram& other : program.other_readings)
    if (imports_a_module(other)) return true;
  const ObjectGraph& graph = program.graph;
  for (const Effect& effect : graph.effects()) {
    if (effect.kind != EffectKind::import_global) continue;
    const GlobalRef* ref = graph.as_global(effect.target);
    if (ref != nullptr && is_module_name(ref->module) && is_module_name(ref->name)) return true;
  }
  return false;
}

PickleStream read_pickle_stream(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
                                const Budget& budget, std::uint64_t max_pickles,
                                MachineOptions options) {
  PickleStream stream;
  if (max_pickles == 0) max_pickles = limits.max_pickles_per_stream;
  std::uint64_t position = start;
  while (position < input.size()) {
    if (stream.pickles.size() >= max_pickles) {
      stream.pickle_limit_reached = max_pickles == limits.max_pickles_per_stream;
      break;
    }
    PickleProgram program = run_pickle(input, position, limits, budget, options);
    if (options.reading == Reading::memory && (program.file_may_differ || program.python_may_differ))
      add_other_readings(program, input, position, limits, budget, options);
    options.memory_in_use += program.memory_bytes;
    // After the first pickle, bytes that do not decode as one are trailing data, not another pickle.
    if (!stream.pickles.empty() && !looks_like_pickle(program, input)) break;
    const bool stopped = program.stopped;
    position = program.end;
    stream.pickles.push_back(std::move(program));
    if (!stopped) break;
  }
  // One newline after STOP is what some old writers left (a text-mode file end); it can hold nothing, and no
  // loader reads it, so it is not trailing data. Anything more is.
  const bool lone_newline = input.size() - position == 1 && input[position] == '\n';
  if (!stream.pickles.empty() && stream.pickles.back().stopped && position < input.size() && !lone_newline) {
    stream.trailing_offset = position;
    stream.trailing_bytes = input.size() - position;
  } else if (!stream.pickles.empty() && !stream.pickles.back().stopped) {
    stream.trailing_offset = input.size();
  }
  return stream;
}

}  // namespace picklewall::detail

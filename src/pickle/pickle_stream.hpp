// A byte stream holding one or more consecutive pickles (legacy torch files hold five; numpy and joblib read
// more than one; attackers append a second). Each pickle is run on its own machine, as a fresh Unpickler would.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "picklewall/limits.hpp"
#include "pickle/symbolic_machine.hpp"

namespace picklewall::detail {

struct PickleStream {
  std::vector<PickleProgram> pickles;
  std::uint64_t trailing_offset = 0;  // first byte not part of any pickle
  std::uint64_t trailing_bytes = 0;
  bool pickle_limit_reached = false;
};

// Reads pickles from `start` until the data ends, a pickle fails, or `max_pickles` have been read (use 0 for
// the Limits default). Bytes after the last STOP that do not begin a pickle are reported as trailing bytes.
PickleStream read_pickle_stream(std::span<const std::uint8_t> input, std::uint64_t start, const Limits& limits,
                                const Budget& budget, std::uint64_t max_pickles = 0,
                                MachineOptions options = {});

// True when the program is evidence that the bytes really are a pickle (and not text that happens to start with
// an opcode byte): it begins with PROTO, reaches STOP, calls or builds something, or imports a module name that
// an interpreter could actually import.
bool looks_like_pickle(const PickleProgram& program, std::span<const std::uint8_t> input);

// True when the program imports a name an interpreter could import: stronger evidence than looks_like_pickle,
// for bytes that may just as well be array data (which can begin with PROTO or hold REDUCE by chance).
bool imports_a_module(const PickleProgram& program);

}  // namespace picklewall::detail

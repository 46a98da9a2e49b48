// What a load would do, as Python-like code: one statement per import, call, BUILD and mutation, in the order
// the unpickler performs them, then the object the load returns. Every line carries the offset of the opcode
// that causes it, so findings (which carry offsets too) can be shown at their line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pickle/symbolic_machine.hpp"

namespace picklewall::detail {

struct CodeLine {
  std::uint64_t offset;
  std::string text;
};

// `program` should be run with GraphDetail::full so containers and mutation items are shown.
std::vector<CodeLine> decompile(const PickleProgram& program, std::size_t max_line_chars = 240);

}  // namespace picklewall::detail

// An opcode listing with offsets, as the C unpickler reads the bytes (not as pickletools does: where the two
// disagree, attackers hide). Indented by open MARKs, so a reader sees which items a TUPLE or SETITEMS takes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "inspect/decompiler.hpp"
#include "picklewall/limits.hpp"

namespace picklewall::detail {

// Lists the opcodes from `start` up to and including the STOP at or before `end` (or until the bytes stop
// decoding, which is shown as the last line).
std::vector<CodeLine> disassemble(std::span<const std::uint8_t> input, std::uint64_t start, std::uint64_t end,
                                  const Limits& limits);

}  // namespace picklewall::detail

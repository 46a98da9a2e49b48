#include "inspect/disassembler.hpp"

#include <cstdio>

#include "pickle/decoder.hpp"
#include "pickle/opcodes.hpp"
#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

constexpr std::size_t max_argument_chars = 100;
constexpr std::size_t max_indent = 16;

std::string argument_text(const Instruction& in) {
  switch (opcode_info(static_cast<std::uint8_t>(in.opcode)).argument) {
    case ArgumentKind::none: return {};
    case ArgumentKind::float8_be: case ArgumentKind::float_line: {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.17g", in.real);
      return buffer;
    }
    case ArgumentKind::module_and_name_utf8: case ArgumentKind::module_and_name_ascii:
      return quote_text(std::string(in.text) + " " + std::string(in.name), max_argument_chars);
    case ArgumentKind::quoted_line: case ArgumentKind::raw_unicode_line: case ArgumentKind::ascii_line:
      return quote_text(in.text, max_argument_chars);
    case ArgumentKind::counted_bytes1: case ArgumentKind::counted_bytes4_signed: case ArgumentKind::counted_bytes4:
    case ArgumentKind::counted_bytes8: {
      const bool is_text = in.opcode == Opcode::SHORT_BINUNICODE || in.opcode == Opcode::BINUNICODE ||
                           in.opcode == Opcode::BINUNICODE8;
      return quote_text(in.text, max_argument_chars, !is_text);
    }
    default:
      return in.integer.fits ? std::to_string(in.integer.value) : std::string("<big int>");
  }
}

}  // namespace

std::vector<CodeLine> disassemble(std::span<const std::uint8_t> input, std::uint64_t start, std::uint64_t end,
                                  const Limits& limits) {
  std::vector<CodeLine> lines;
  Decoder decoder(input, start, limits.max_line_bytes);
  Instruction in;
  std::size_t marks = 0;
  while (decoder.position() < input.size() && decoder.position() <= end) {
    if (!decoder.next(in)) {
      lines.push_back(CodeLine{decoder.position(), "<the unpickler raises here: " + decoder.error().message + ">"});
      break;
    }
    const bool closes = in.opcode == Opcode::TUPLE || in.opcode == Opcode::LIST || in.opcode == Opcode::DICT ||
                        in.opcode == Opcode::APPENDS || in.opcode == Opcode::SETITEMS ||
                        in.opcode == Opcode::ADDITEMS || in.opcode == Opcode::FROZENSET ||
                        in.opcode == Opcode::POP_MARK || in.opcode == Opcode::INST || in.opcode == Opcode::OBJ;
    if (closes && marks > 0) --marks;
    std::string text(std::min(marks, max_indent) * 2, ' ');
    std::string name(opcode_info(static_cast<std::uint8_t>(in.opcode)).name);
    name.resize(std::max<std::size_t>(name.size() + 1, 17), ' ');  // SHORT_BINUNICODE is 16 characters
    text += name + argument_text(in);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    lines.push_back(CodeLine{in.offset, std::move(text)});
    if (in.opcode == Opcode::MARK) ++marks;
    if (in.opcode == Opcode::STOP) break;
  }
  return lines;
}

}  // namespace picklewall::detail

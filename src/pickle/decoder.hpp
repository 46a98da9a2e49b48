// Reads one pickle instruction at a time, arguments decoded exactly as CPython's C unpickler decodes them.
// The decoder has no VM state: it knows bytes, not objects. Big payloads (BINBYTES, BINUNICODE) are returned as
// views into the input, never copied.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "io/checked.hpp"
#include "picklewall/result.hpp"
#include "pickle/opcodes.hpp"
#include "pickle/text_arguments.hpp"

namespace picklewall::detail {

struct Instruction {
  Opcode opcode = Opcode::STOP;
  std::uint64_t offset = 0;  // of the opcode byte within the stream
  std::uint64_t end = 0;     // first byte after the argument
  IntegerValue integer;      // integer arguments (BININT*, INT, LONG, memo keys, PROTO, EXT, FRAME length)
  double real = 0;           // FLOAT, BINFLOAT
  std::string_view text;     // string/bytes payload; STRING/UNICODE decoded; GLOBAL/INST module
  std::string_view name;     // GLOBAL/INST: the second line
  std::string owned_text;    // backing storage when `text` had to be decoded
};

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> input, std::uint64_t start, std::uint64_t max_line_bytes)
      : input_(input), position_(start), max_line_bytes_(max_line_bytes) {}

  // Decodes the instruction at the current position and advances past it. On failure it returns false, leaves
  // the position at the failing opcode, and error() says what CPython would refuse and where. (A bool rather
  // than a Result: this runs once per opcode, tens of millions of times per file.)
  bool next(Instruction& out) {
    // Fast path, inline: opcodes with no argument or a small fixed-width integer, most of any real pickle.
    // Exactly what decode_full would produce for them.
    if (position_ + 4 < input_.size()) {
      const std::uint8_t* p = input_.data() + position_;
      const OpcodeInfo& info = opcode_info(p[0]);
      int width = 0;
      switch (info.argument) {
        case ArgumentKind::none: break;
        case ArgumentKind::uint1: width = 1; out.integer = {true, p[1], false}; break;
        case ArgumentKind::uint2: width = 2; out.integer = {true, static_cast<std::int64_t>(p[1] | (p[2] << 8)), false}; break;
        case ArgumentKind::uint4:
          width = 4;
          out.integer = {true, static_cast<std::int64_t>(load_le(p + 1, 4)), false};
          break;
        case ArgumentKind::int4:
          width = 4;
          out.integer = {true, static_cast<std::int32_t>(static_cast<std::uint32_t>(load_le(p + 1, 4))), false};
          break;
        case ArgumentKind::float8_be: {
          if (position_ + 9 > input_.size()) return next_slow(out);
          out.real = load_be_double(p + 1);
          width = 8;
          break;
        }
        case ArgumentKind::counted_bytes1: {
          // SHORT_BINUNICODE / SHORT_BINBYTES / SHORT_BINSTRING: the commonest strings in any pickle.
          const std::uint64_t length = p[1];
          if (position_ + 2 + length > input_.size()) return next_slow(out);
          out.text = std::string_view(reinterpret_cast<const char*>(p + 2), length);
          if (static_cast<Opcode>(p[0]) == Opcode::SHORT_BINUNICODE && !is_valid_utf8(out.text, true))
            return next_slow(out);  // the full decoder reports it
          width = static_cast<int>(1 + length);
          break;
        }
        default: return next_slow(out);
      }
      out.opcode = static_cast<Opcode>(p[0]);
      out.offset = position_;
      position_ += 1 + static_cast<std::uint64_t>(width);
      out.end = position_;
      return true;
    }
    return next_slow(out);
  }
  const Error& error() const { return error_; }
  // Moves past bytes that belong to the loader, not the pickle (joblib's raw array data). False if out of range.
  bool skip(std::uint64_t length) {
    if (!range_fits(position_, length, input_.size())) return false;
    position_ += length;
    return true;
  }
  void seek(std::uint64_t position) { position_ = position; }
  std::uint64_t position() const { return position_; }
  std::span<const std::uint8_t> input() const { return input_; }

 private:
  bool next_slow(Instruction& out);
  Status decode_full(Instruction& out);
  bool read_line(std::string_view& line, Error& error);
  Error truncated(const char* what, std::uint64_t need) const;

  std::span<const std::uint8_t> input_;
  std::uint64_t position_;
  std::uint64_t max_line_bytes_;
  Error error_{ErrorCode::malformed, {}};
};

}  // namespace picklewall::detail

// Reads one pickle instruction at a time, arguments decoded exactly as CPython's C unpickler decodes them.
// The decoder has no VM state: it knows bytes, not objects. Big payloads (BINBYTES, BINUNICODE) are returned as
// views into the input, never copied.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

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
  std::string owned_name;
};

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> input, std::uint64_t start, std::uint64_t max_line_bytes)
      : input_(input), position_(start), max_line_bytes_(max_line_bytes) {}

  // Decodes the instruction at the current position and advances past it. On error the position is left at
  // the failing opcode; the error says what CPython would refuse and where.
  Status next(Instruction& out);
  std::uint64_t position() const { return position_; }
  std::span<const std::uint8_t> input() const { return input_; }

 private:
  bool read_line(std::string_view& line, Error& error);
  Error truncated(const char* what, std::uint64_t need) const;

  std::span<const std::uint8_t> input_;
  std::uint64_t position_;
  std::uint64_t max_line_bytes_;
};

}  // namespace picklewall::detail

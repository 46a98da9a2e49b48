#include "pickle/decoder.hpp"

#include <cstring>

#include "io/checked.hpp"

namespace picklewall::detail {
namespace {

std::string describe_byte(std::uint8_t byte) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "0x";
  out.push_back(hex[byte >> 4]);
  out.push_back(hex[byte & 0xF]);
  return out;
}

Error malformed(std::uint64_t offset, const std::string& what) {
  return Error{ErrorCode::malformed, what + " at offset " + std::to_string(offset)};
}

}  // namespace

Error Decoder::truncated(const char* what, std::uint64_t need) const {
  return Error{ErrorCode::malformed, std::string("pickle data was truncated: ") + what + " needs " +
                                         std::to_string(need) + " bytes, " +
                                         std::to_string(input_.size() - position_) + " remain at offset " +
                                         std::to_string(position_)};
}

// Finds a line in [from, limit) without moving: up to and including '\n', at most max_line_bytes long.
bool Decoder::find_line(std::uint64_t from, std::uint64_t limit, std::string_view& line, Error& error) {
  const std::uint64_t remaining = limit - from;
  const std::uint64_t window = remaining < max_line_bytes_ + 1 ? remaining : max_line_bytes_ + 1;
  const auto* start = input_.data() + from;
  const void* newline = std::memchr(start, '\n', window);
  if (newline == nullptr) {
    error = window == remaining ? malformed(from, "pickle data was truncated: line without newline")
                                : Error{ErrorCode::limit_exceeded, "text argument longer than max_line_bytes (" +
                                                                       std::to_string(max_line_bytes_) +
                                                                       ") at offset " + std::to_string(from)};
    return false;
  }
  const auto length = static_cast<std::uint64_t>(static_cast<const std::uint8_t*>(newline) - start) + 1;
  line = std::string_view(reinterpret_cast<const char*>(start), length);
  return true;
}

// A line as the reading's readline returns it: up to and including '\n'. A line without its newline is an error.
bool Decoder::read_line(std::string_view& line, Error& error) {
  switch (reading_) {
    case Reading::memory:
      if (!find_line(position_, input_.size(), line, error)) {
        if (error.code != ErrorCode::limit_exceeded) python_may_differ_ = true;  // pickle.py reads a last line
        return false;
      }
      note_frame_crossing(line.size());
      position_ += line.size();
      return true;
    case Reading::file:
      // _Unpickler_Readline looks in its buffer first; without a newline there it drops the rest and calls the
      // file's readline().
      if (position_ < buffer_end_) {
        if (find_line(position_, buffer_end_, line, error)) {
          position_ += line.size();
          return true;
        }
        if (error.code == ErrorCode::limit_exceeded) return false;
        drop_buffer_rest();
      }
      if (!find_line(position_, input_.size(), line, error)) return false;
      position_ += line.size();
      buffer_end_ = position_;
      return true;
    case Reading::python:
      settle_python_frame();
      if (in_frame_) {
        if (find_line(position_, buffer_end_, line, error)) {
          position_ += line.size();
          return true;
        }
        if (error.code != ErrorCode::limit_exceeded) error = malformed(position_, "pickle exhausted before end of frame");
        return false;
      }
      if (!find_line(position_, input_.size(), line, error)) {
        // file.readline() at the end of the data returns what is left, newline or not (b"" when nothing is),
        // and pickle.py cuts the line's last byte whatever it is: callers do the same with line[:-1].
        if (error.code == ErrorCode::limit_exceeded) return false;
        line = std::string_view(reinterpret_cast<const char*>(input_.data() + position_), input_.size() - position_);
      }
      position_ += line.size();
      file_position_ = position_;
      return true;
  }
  return false;
}

Status Decoder::take(std::uint64_t length, std::uint64_t& at, const char* what, bool into) {
  switch (reading_) {
    case Reading::memory:
      if (!range_fits(position_, length, input_.size())) return truncated(what, length);
      note_frame_crossing(length);
      break;
    case Reading::file:
      if (range_fits(position_, length, buffer_end_)) break;
      // _Unpickler_ReadInto (BINBYTES payloads) takes what the buffer holds and the rest from the file;
      // _Unpickler_ReadImpl (everything else) reads `length` bytes from the file, dropping the buffer's rest.
      if (!into) drop_buffer_rest();
      if (!range_fits(position_, length, input_.size())) return truncated(what, length);
      at = position_;
      position_ += length;
      buffer_end_ = position_;
      return Ok{};
    case Reading::python:
      settle_python_frame();
      if (in_frame_) {
        if (!range_fits(position_, length, buffer_end_))
          return malformed(position_, "pickle exhausted before end of frame");
        break;
      }
      if (!range_fits(position_, length, input_.size())) return truncated(what, length);
      at = position_;
      position_ += length;
      file_position_ = position_;
      return Ok{};
  }
  at = position_;
  position_ += length;
  return Ok{};
}

Status Decoder::begin_frame(std::uint64_t length, std::uint64_t opcode_offset) {
  switch (reading_) {
    case Reading::memory:
      // _pickle.c reads the whole frame before going on: a frame longer than the data is an error there.
      if (!range_fits(position_, length, input_.size())) {
        python_may_differ_ = true;  // pickle.py takes what there is
        return truncated("FRAME", length);
      }
      if (position_ < frame_end_) file_may_differ_ = true;  // a frame inside a frame
      frame_end_ = position_ + length;
      return Ok{};
    case Reading::file: {
      std::uint64_t at = 0;
      if (Status status = take(length, at, "FRAME"); !status) return status;
      position_ = at;  // load_frame rewinds to the frame's start: its instructions are read from the buffer
      return Ok{};
    }
    case Reading::python: {
      if (in_frame_ && position_ < buffer_end_)
        return malformed(opcode_offset, "a new frame begins before the end of the current frame");
      const std::uint64_t from = in_frame_ ? file_position_ : position_;
      const std::uint64_t end = range_fits(from, length, input_.size()) ? from + length : input_.size();
      position_ = from;
      buffer_end_ = end;
      file_position_ = end;
      in_frame_ = true;
      return Ok{};
    }
  }
  return Ok{};
}

bool Decoder::next_slow(Instruction& out) {
  Status status = decode_full(out);
  if (status.ok()) return true;
  error_ = status.error();
  return false;
}

Status Decoder::decode_full(Instruction& out) {
  std::uint64_t opcode_offset = position_;
  if (Status status = take(1, opcode_offset, "the opcode"); !status) {
    if (position_ >= input_.size()) return Error{ErrorCode::malformed, "pickle data was truncated: no STOP opcode"};
    return status;
  }
  const std::uint8_t byte = input_[opcode_offset];
  const OpcodeInfo& info = opcode_info(byte);
  if (info.argument == ArgumentKind::invalid)
    return malformed(opcode_offset, "invalid load key " + describe_byte(byte));
  out.opcode = static_cast<Opcode>(byte);
  out.offset = opcode_offset;
  out.integer = IntegerValue{};
  out.text = {};
  out.name = {};

  const std::uint8_t* p = nullptr;
  auto fixed = [&](int width) -> Status {
    std::uint64_t at = 0;
    Status status = take(static_cast<std::uint64_t>(width), at, info.name.data());
    if (status) p = input_.data() + at;
    return status;
  };
  auto counted = [&](int width, bool is_signed, bool into) -> Status {
    if (Status status = fixed(width); !status) return status;
    std::uint64_t length = load_le(p, width);
    if (is_signed && width == 4 && (length & 0x80000000u))
      return malformed(opcode_offset, std::string(info.name) + " has a negative byte count");
    if (width == 8 && length > static_cast<std::uint64_t>(INT64_MAX))
      return malformed(opcode_offset, std::string(info.name) + " exceeds the maximum size");
    std::uint64_t at = 0;
    if (Status status = take(length, at, info.name.data(), into); !status) return status;
    out.text = std::string_view(reinterpret_cast<const char*>(input_.data() + at), length);
    return Ok{};
  };
  const bool python = reading_ == Reading::python;

  Error error{ErrorCode::malformed, {}};
  std::string_view line;
  switch (info.argument) {
    case ArgumentKind::none:
      break;
    case ArgumentKind::uint1:
      if (Status s = fixed(1); !s) return s;
      out.integer.value = p[0];
      break;
    case ArgumentKind::uint2:
      if (Status s = fixed(2); !s) return s;
      out.integer.value = static_cast<std::int64_t>(load_le(p, 2));
      break;
    case ArgumentKind::int4:
      if (Status s = fixed(4); !s) return s;
      out.integer.value = static_cast<std::int32_t>(static_cast<std::uint32_t>(load_le(p, 4)));
      break;
    case ArgumentKind::uint4:
      if (Status s = fixed(4); !s) return s;
      out.integer.value = static_cast<std::int64_t>(load_le(p, 4));
      break;
    case ArgumentKind::uint8: {  // FRAME
      if (Status s = fixed(8); !s) return s;
      std::uint64_t length = load_le(p, 8);
      if (length > static_cast<std::uint64_t>(INT64_MAX))
        return malformed(opcode_offset, "FRAME length exceeds the system's maximum");
      if (Status s = begin_frame(length, opcode_offset); !s) return s;
      out.integer.value = static_cast<std::int64_t>(length);
      break;
    }
case ArgumentKind::float8_be: {
      if (Status s = fixed(8); !s) return s;
      out.real = load_be_double(p);
      break;
    }
    case ArgumentKind::decimal_line: {
      if (!read_line(line, error)) return error;
      auto value = python ? parse_python_decimal_line(line) : parse_decimal_line(line);
      if (!value) return malformed(opcode_offset, std::string(info.name) + " argument is not a decimal integer");
      if (!value->fits) return malformed(opcode_offset, std::string(info.name) + " argument is too large");
      if (value->value < 0) return malformed(opcode_offset, "negative " + std::string(info.name) + " argument");
      out.integer = *value;
      break;
    }
    case ArgumentKind::int_line:
    case ArgumentKind::long_line: {
      if (!read_line(line, error)) return error;
      auto value = info.argument == ArgumentKind::int_line ? (python ? parse_python_int_line(line) : parse_int_line(line))
                                                           : (python ? parse_python_long_line(line) : parse_long_line(line));
      if (!value) return malformed(opcode_offset, std::string("invalid literal for ") + info.name.data());
      out.integer = *value;
      out.text = line.substr(0, line.size() - 1);
      break;
    }
    case ArgumentKind::float_line: {
      if (!read_line(line, error)) return error;
      auto value = python ? parse_python_float_line(line) : parse_float_line(line);
      if (!value) {
        if (reading_ == Reading::memory && parse_python_float_line(line)) python_may_differ_ = true;
        return malformed(opcode_offset, "could not convert FLOAT argument to float");
      }
      out.real = *value;
      break;
    }
    case ArgumentKind::quoted_line: {
      if (!read_line(line, error)) return error;
      auto value = decode_quoted_string(line);
      if (!value) return malformed(opcode_offset, "the STRING opcode argument must be quoted and validly escaped");
      out.owned_text = std::move(*value);
      out.text = out.owned_text;
      break;
    }
    case ArgumentKind::raw_unicode_line: {
      if (!read_line(line, error)) return error;
      auto value = decode_raw_unicode_escape(line.substr(0, line.size() - 1));
      if (!value) return malformed(opcode_offset, "UNICODE argument is not valid raw-unicode-escape");
      out.owned_text = std::move(*value);
      out.text = out.owned_text;
      break;
    }
    case ArgumentKind::ascii_line: {
      if (!read_line(line, error)) return error;
      out.text = line.substr(0, line.size() - 1);
      if (!is_ascii(out.text)) return malformed(opcode_offset, "persistent IDs in protocol 0 must be ASCII strings");
      break;
    }
    case ArgumentKind::module_and_name_utf8:
    case ArgumentKind::module_and_name_ascii: {
      const bool ascii = info.argument == ArgumentKind::module_and_name_ascii;
      std::string_view module_line, name_line;
      // _pickle.c refuses an empty line here; pickle.py hands "" to find_class, which imports the module when
      // only the name is empty.
      if (!read_line(module_line, error)) return error;
      if (module_line.size() < 2 && !python) {
        python_may_differ_ = reading_ == Reading::memory;
        return malformed(opcode_offset, "pickle data was truncated: empty module name");
      }
      if (!read_line(name_line, error)) return error;
      if (name_line.size() < 2 && !python) {
        python_may_differ_ = reading_ == Reading::memory;
        return malformed(opcode_offset, "pickle data was truncated: empty global name");
      }
      out.text = module_line.substr(0, module_line.empty() ? 0 : module_line.size() - 1);
      out.name = name_line.substr(0, name_line.empty() ? 0 : name_line.size() - 1);
      bool valid = ascii ? is_ascii(out.text) && is_ascii(out.name)
                         : is_valid_utf8(out.text, false) && is_valid_utf8(out.name, false);
      if (!valid) return malformed(opcode_offset, std::string(info.name) + " names must be " + (ascii ? "ASCII" : "UTF-8"));
      break;
    }
    case ArgumentKind::counted_bytes1:
    case ArgumentKind::counted_bytes4_signed:
    case ArgumentKind::counted_bytes4:
    case ArgumentKind::counted_bytes8: {
      const int width = info.argument == ArgumentKind::counted_bytes1 ? 1
                        : info.argument == ArgumentKind::counted_bytes8 ? 8 : 4;
      // BINBYTES, SHORT_BINBYTES, BINBYTES8 and BYTEARRAY8 payloads are read with _Unpickler_ReadInto.
      const bool into = out.opcode == Opcode::BINBYTES || out.opcode == Opcode::SHORT_BINBYTES ||
                        out.opcode == Opcode::BINBYTES8 || out.opcode == Opcode::BYTEARRAY8;
      Status status = counted(width, info.argument == ArgumentKind::counted_bytes4_signed, into);
      if (!status) return status;
      const bool is_unicode = out.opcode == Opcode::BINUNICODE || out.opcode == Opcode::SHORT_BINUNICODE ||
                              out.opcode == Opcode::BINUNICODE8;
      if (is_unicode && !is_valid_utf8(out.text, true))
        return malformed(opcode_offset, std::string(info.name) + " payload is not valid UTF-8");
      break;
    }
    case ArgumentKind::long1:
    case ArgumentKind::long4: {
      Status status = counted(info.argument == ArgumentKind::long1 ? 1 : 4, true, false);
      if (!status) return status;
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(out.text.data());
      const std::size_t n = out.text.size();
      if (n > 8) {
        // Beyond int64 unless the high bytes are pure sign extension.
        bool negative = (bytes[n - 1] & 0x80) != 0;
        out.integer.fits = true;
        for (std::size_t i = 8; i < n; ++i)
          if (bytes[i] != (negative ? 0xFF : 0x00)) out.integer.fits = false;
        if (out.integer.fits && ((bytes[7] & 0x80) != 0) != negative) out.integer.fits = false;
      }
      if (out.integer.fits && n > 0) {
        std::uint64_t raw = load_le(bytes, static_cast<int>(n < 8 ? n : 8));
        if (n < 8 && (bytes[n - 1] & 0x80)) raw |= ~0ull << (8 * n);
        out.integer.value = static_cast<std::int64_t>(raw);
      }
      break;
    }
    case ArgumentKind::invalid:
      break;
  }
  out.end = position_;
  return Ok{};
}

}  // namespace picklewall::detail

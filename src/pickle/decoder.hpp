// Reads one pickle instruction at a time, arguments decoded exactly as one of CPython's unpicklers decodes them
// (see Reading). The decoder has no VM state: it knows bytes, not objects. Big payloads (BINBYTES, BINUNICODE)
// are returned as views into the input, never copied.
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

// How a loader turns the bytes into instructions. The same bytes can be different instructions to different
// loaders, and an attacker picks the bytes so that the reading a scanner uses sees data while the loader runs a
// payload; every reading a real loader uses is modelled, each as CPython 3.11 does it.
enum class Reading : std::uint8_t {
  // _pickle.c over the whole input: pickle.loads, and pickle.load from a buffered file whose frames fit in the
  // reader's buffer (peek hands _pickle.c everything buffered, and it skips exactly what it used).
  memory,
  // _pickle.c over a file object without peek (io.BytesIO, which torch.load wraps each zip member's pickle in).
  // A FRAME's content is read into a buffer with one read(); an instruction whose fixed-size read or line does
  // not fit in what is left of that buffer drops the rest and reads on from the file, i.e. from the frame's
  // end. BINBYTES-style payloads (readinto) take the rest of the buffer first and lose nothing.
  file,
  // pickle.py (pickle._Unpickler; joblib.load, pickle._loads): frames are BytesIO objects that may be shorter
  // than declared, an instruction may not cross a frame's end, text numbers are Python's int() and float(),
  // and joblib reads array bytes from the underlying file, i.e. after the current frame.
  python,
};

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
  Decoder(std::span<const std::uint8_t> input, std::uint64_t start, std::uint64_t max_line_bytes,
          Reading reading = Reading::memory)
      : input_(input), position_(start), max_line_bytes_(max_line_bytes), reading_(reading),
        buffer_end_(start), file_position_(start) {}

  // Decodes the instruction at the current position and advances past it. On failure it returns false, leaves
  // the position at the failing opcode, and error() says what CPython would refuse and where. (A bool rather
  // than a Result: this runs once per opcode, tens of millions of times per file.)
  bool next(Instruction& out) {
    // Fast path, inline: opcodes with no argument or a small fixed-width integer, most of any real pickle.
    // Exactly what decode_full would produce for them.
    if (position_ + 4 < input_.size() && reading_ == Reading::memory) {
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
      note_frame_crossing(1 + static_cast<std::uint64_t>(width));
      position_ += 1 + static_cast<std::uint64_t>(width);
      out.end = position_;
      return true;
    }
    return next_slow(out);
  }
  const Error& error() const { return error_; }

  // For callers that decode simple instructions straight from the bytes: true when the next `width` bytes are
  // read contiguously from position() under this reading; then advance(width) moves past them.
  bool contiguous(std::uint64_t width) {
    switch (reading_) {
      case Reading::memory: return true;
      case Reading::file: return position_ == buffer_end_ || position_ + width <= buffer_end_;
      case Reading::python:
        settle_python_frame();
        return !in_frame_ || position_ + width <= buffer_end_;
    }
    return false;
  }
  void advance(std::uint64_t width) {
    if (reading_ == Reading::memory) note_frame_crossing(width);
    position_ += width;
    if (position_ > buffer_end_) buffer_end_ = position_;
    if (reading_ == Reading::python && !in_frame_) file_position_ = position_;
  }

  // Bytes the loader reads from the file itself, not through the unpickler (joblib's array data and padding,
  // an object array's own pickle): where they start, and moving past them. Under pickle.py that is the file
  // position, which is the current frame's end while the frame still holds instructions.
  std::uint64_t raw_position() {
    if (reading_ == Reading::python) {
      settle_python_frame();
      return in_frame_ ? file_position_ : position_;
    }
    if (reading_ == Reading::memory && position_ < frame_end_) python_may_differ_ = true;
    return position_;
  }
  bool skip_raw(std::uint64_t length) {
    const std::uint64_t at = raw_position();
    if (!range_fits(at, length, input_.size())) return false;
    set_raw_position(at + length);
    return true;
  }
  void set_raw_position(std::uint64_t position) {
    if (reading_ == Reading::python && in_frame_) {
      file_position_ = position;
      return;
    }
    position_ = position;
    if (position_ > buffer_end_) buffer_end_ = position_;
    file_position_ = position_;
  }

  std::uint64_t position() const { return position_; }
  // Where the loader's file is once the pickle ends: the next pickle of a stream starts here. _pickle.c without
  // peek has read its whole buffer; pickle.py has read its whole frame.
  std::uint64_t consumed_position() const {
    if (reading_ == Reading::file) return buffer_end_ > position_ ? buffer_end_ : position_;
    if (reading_ == Reading::python && in_frame_) return file_position_;
    return position_;
  }
  std::span<const std::uint8_t> input() const { return input_; }
  Reading reading() const { return reading_; }

  // Under Reading::memory: whether another reading could see different instructions. file: an instruction
  // crossed a frame's end, or a frame began inside another. python: a FLOAT or FRAME _pickle.c refuses, or raw
  // bytes read while a frame still held instructions.
  bool file_may_differ() const { return file_may_differ_; }
  bool python_may_differ() const { return python_may_differ_; }
  // For the machine: something it refuses that pickle.py does not (INST imports before it looks for its mark).
  void note_python_may_differ() {
    if (reading_ == Reading::memory) python_may_differ_ = true;
  }
  // Under Reading::file: bytes left in a frame's buffer that an instruction's read dropped.
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }
  std::uint64_t first_drop_offset() const { return first_drop_offset_; }

 private:
  bool next_slow(Instruction& out);
  Status decode_full(Instruction& out);
  bool read_line(std::string_view& line, Error& error);
  // One read of `length` bytes as the reading does it; `at` is where they are in the input.
  Status take(std::uint64_t length, std::uint64_t& at, const char* what, bool into = false);
  Status begin_frame(std::uint64_t length, std::uint64_t opcode_offset);
  bool find_line(std::uint64_t from, std::uint64_t limit, std::string_view& line, Error& error);
  Error truncated(const char* what, std::uint64_t need) const;
  void drop_buffer_rest() {
    if (position_ < buffer_end_) {
      if (dropped_bytes_ == 0) first_drop_offset_ = position_;
      dropped_bytes_ += buffer_end_ - position_;
    }
    position_ = buffer_end_;
  }
  void settle_python_frame() {
    // pickle.py's _Unframer: a read from an exhausted frame ends the frame and goes to the file.
    if (in_frame_ && position_ >= buffer_end_) {
      in_frame_ = false;
      position_ = file_position_;
    }
  }
  void note_frame_crossing(std::uint64_t width) {
    if (position_ < frame_end_ && position_ + width > frame_end_) file_may_differ_ = true;
  }

  std::span<const std::uint8_t> input_;
  std::uint64_t position_;
  std::uint64_t max_line_bytes_;
  Reading reading_;
  std::uint64_t buffer_end_;     // file: end of _pickle.c's buffer (its file position); python: the frame's end
  std::uint64_t file_position_;  // python: the underlying file's position while a frame is being read
  bool in_frame_ = false;        // python
  std::uint64_t frame_end_ = 0;  // memory: end of the last frame, to notice crossings
  bool file_may_differ_ = false;
  bool python_may_differ_ = false;
  std::uint64_t dropped_bytes_ = 0;
  std::uint64_t first_drop_offset_ = 0;
  Error error_{ErrorCode::malformed, {}};
};

}  // namespace picklewall::detail

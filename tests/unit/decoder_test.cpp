#include "pickle/decoder.hpp"

#include <deque>

#include <gtest/gtest.h>

#include "test_support.hpp"

using namespace picklewall;
using namespace picklewall::detail;
using namespace std::string_literals;

namespace {

// Decodes the first instruction. The data is padded so the inline fast path and the full decoder both get
// exercised: the fast path needs a few bytes of look-ahead.
// Instructions hold views into their input, and tests pass temporaries: keep every input alive until the
// test binary exits.
Status decode_one(const std::string& data, Instruction& out) {
  static std::deque<std::string> inputs;
  Decoder decoder(test::bytes_of(inputs.emplace_back(data)), 0, 1'000'000);
  if (decoder.next(out)) return Ok{};
  return decoder.error();
}

}  // namespace

TEST(Decoder, GlobalReadsTwoUtf8Lines) {
  Instruction in;
  ASSERT_TRUE(decode_one("cos\nsystem\n", in).ok());
  EXPECT_EQ(in.opcode, Opcode::GLOBAL);
  EXPECT_EQ(in.text, "os");
  EXPECT_EQ(in.name, "system");
  EXPECT_FALSE(decode_one("cos\nsys", in).ok());          // line without newline
  EXPECT_FALSE(decode_one("c\nsystem\n", in).ok());       // empty module
  EXPECT_FALSE(decode_one("c\xff\nsystem\n", in).ok());   // not UTF-8
}

TEST(Decoder, InstNamesMustBeAscii) {
  Instruction in;
  EXPECT_TRUE(decode_one("ios\nsystem\n", in).ok());
  EXPECT_FALSE(decode_one("i\xc3\xa9\nsystem\n", in).ok());
}

TEST(Decoder, CountedPayloadsAreViewsAndBounded) {
  Instruction in;
  const std::string data = "B"s + test::u32(3) + "abc";
  Decoder decoder(test::bytes_of(data), 0, 1'000'000);
  ASSERT_TRUE(decoder.next(in));
  EXPECT_EQ(in.text, "abc");
  EXPECT_EQ(in.text.data(), data.data() + 5);  // not copied
  EXPECT_FALSE(decode_one("B"s + test::u32(4) + "abc", in).ok());
}

TEST(Decoder, HugeDeclaredLengthsFailCleanly) {
  Instruction in;
  EXPECT_FALSE(decode_one("\x8e"s + test::u64(1ull << 63) + "x", in).ok());          // BINBYTES8 2^63
  EXPECT_FALSE(decode_one("\x8e"s + test::u64(~0ull) + "x", in).ok());               // 2^64-1
  EXPECT_FALSE(decode_one("\x8d"s + test::u64((1ull << 63) - 1) + "x", in).ok());    // BINUNICODE8
  EXPECT_FALSE(decode_one("\x95"s + test::u64(1ull << 62) + ".", in).ok());          // FRAME past the end
  EXPECT_FALSE(decode_one("T"s + test::u32(0x80000000u) + "x", in).ok());            // BINSTRING negative
  EXPECT_FALSE(decode_one("\x8b"s + test::u32(0xFFFFFFFFu) + "x", in).ok());         // LONG4 negative
}

TEST(Decoder, Long1SignExtends) {
  Instruction in;
  ASSERT_TRUE(decode_one("\x8a\x01\xff", in).ok());
  EXPECT_EQ(in.integer.value, -1);
  ASSERT_TRUE(decode_one("\x8a\x02\x00\x80"s, in).ok());
  EXPECT_EQ(in.integer.value, -32768);
  ASSERT_TRUE(decode_one("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"s, in).ok());
  EXPECT_FALSE(in.integer.fits);
}

TEST(Decoder, FastPathAgreesWithTheFullDecoder) {
  // Fixed-width opcodes followed by enough bytes take the inline path; at the end of data the full decoder.
  for (const std::string& data : {"K\x07NNNN"s, "M\x01\x02NNNN"s, "J\xff\xff\xff\xffNNNN"s, "j\x01\x00\x00\x80NNNN"s,
                                  "K\x07"s, "M\x01\x02"s, "J\xff\xff\xff\xff"s, "j\x01\x00\x00\x80"s}) {
    Instruction in;
    ASSERT_TRUE(decode_one(data, in).ok());
    EXPECT_EQ(in.end, 1 + (data[0] == 'K' ? 1u : data[0] == 'M' ? 2u : 4u));
    const std::int64_t expected = data[0] == 'K' ? 7 : data[0] == 'M' ? 0x0201 : data[0] == 'J' ? -1 : 0x80000001ll;
    EXPECT_EQ(in.integer.value, expected) << data;
  }
}

TEST(Decoder, FastPathStringsAndFloatsAgreeWithTheFullDecoder) {
  // Each case twice: followed by look-ahead bytes (inline fast path) and at the very end (full decoder).
  for (const std::string& tail : {"NNNNNNNN"s, ""s}) {
    Instruction in;
    ASSERT_TRUE(decode_one("\x8c\x05hello"s + tail, in).ok());
    EXPECT_EQ(in.text, "hello");
    EXPECT_EQ(in.end, 7u);
    ASSERT_TRUE(decode_one("\x8c\x02\xc3\xa9"s + tail, in).ok());  // UTF-8
    EXPECT_EQ(in.text, "\xc3\xa9");
    EXPECT_FALSE(decode_one("\x8c\x02\xc3\x28"s + tail, in).ok());  // invalid UTF-8 refused on both paths
    ASSERT_TRUE(decode_one("C\x02\xff\x00"s + tail, in).ok());      // SHORT_BINBYTES: any bytes
    EXPECT_EQ(in.text, "\xff\x00"s);
    ASSERT_TRUE(decode_one("G\x3f\xf8\x00\x00\x00\x00\x00\x00"s + tail, in).ok());
    EXPECT_DOUBLE_EQ(in.real, 1.5);
    EXPECT_EQ(in.end, 9u);
  }
  Instruction in;
  EXPECT_FALSE(decode_one("\x8c\x40short"s, in).ok());          // declared length runs past the data
  EXPECT_FALSE(decode_one("\x8c\x40" + std::string(10, 'N'), in).ok());
}

TEST(Decoder, UnknownOpcodeAndEndOfData) {
  Instruction in;
  EXPECT_FALSE(decode_one("\xff", in).ok());
  EXPECT_FALSE(decode_one("", in).ok());
}

TEST(Decoder, LineLimitIsALimitError) {
  const std::string line = "I" + std::string(100, '1') + "\n";
  Decoder decoder(test::bytes_of(line), 0, 10);
  Instruction in;
  ASSERT_FALSE(decoder.next(in));
  EXPECT_EQ(decoder.error().code, ErrorCode::limit_exceeded);
}

namespace {

// Decodes every instruction under `reading` and lists "OPCODE@offset" (and the text of string arguments).
std::vector<std::string> decode_all(const std::string& data, Reading reading, Decoder** keep = nullptr) {
  static std::deque<std::string> inputs;
  static std::deque<Decoder> decoders;
  Decoder& decoder = decoders.emplace_back(test::bytes_of(inputs.emplace_back(data)), 0, 1'000'000, reading);
  if (keep != nullptr) *keep = &decoder;
  std::vector<std::string> out;
  Instruction in;
  while (decoder.next(in)) {
    out.push_back(std::string(opcode_info(static_cast<std::uint8_t>(in.opcode)).name) + "@" +
                  std::to_string(in.offset) + (in.text.empty() ? "" : ":" + std::string(in.text)));
    if (in.opcode == Opcode::STOP) return out;
  }
  out.push_back("error: " + decoder.error().message);
  return out;
}

// PROTO 4, FRAME of `frame`, then `after`.
std::string framed(const std::string& frame, const std::string& after) {
  return "\x80\x04\x95"s + test::u64(frame.size()) + frame + after;
}

}  // namespace

TEST(DecoderReadings, FileReadingDropsTheFrameRestAnInstructionCannotUse) {
  // SHORT_BINUNICODE of 5 bytes with only "ab" left in the frame: _pickle.c without peek drops "ab" and takes
  // the next 5 bytes of the file; pickle.loads takes "ab" and 3 more.
  const std::string data = framed("\x8c\x05" "ab", "xyzC\x02" "0.N.");
  Decoder* memory = nullptr;
  Decoder* file = nullptr;
  auto in_memory = decode_all(data, Reading::memory, &memory);
  auto from_file = decode_all(data, Reading::file, &file);
  EXPECT_EQ(in_memory, (std::vector<std::string>{"PROTO@0", "FRAME@2", "SHORT_BINUNICODE@11:abxyz",
                                                 "SHORT_BINBYTES@18:0.", "NONE@22", "STOP@23"}));
  EXPECT_EQ(from_file, (std::vector<std::string>{"PROTO@0", "FRAME@2", "SHORT_BINUNICODE@11:xyzC\x02", "POP@20",
                                                 "STOP@21"}));
  EXPECT_TRUE(memory->file_may_differ());
  EXPECT_EQ(file->dropped_bytes(), 2u);
  EXPECT_EQ(file->first_drop_offset(), 13u);
  // pickle.py refuses an instruction that crosses its frame's end.
  auto python = decode_all(data, Reading::python);
  EXPECT_NE(python.back().find("pickle exhausted before end of frame"), std::string::npos);
}

TEST(DecoderReadings, FileReadingKeepsBytesPayloadsWhole) {
  // BINBYTES payloads are read with readinto: the frame's rest and then the file, nothing dropped.
  const std::string data = framed("C\x04" "ab", "cdN.");
  Decoder* file = nullptr;
  EXPECT_EQ(decode_all(data, Reading::file, &file), decode_all(data, Reading::memory));
  EXPECT_EQ(file->dropped_bytes(), 0u);
}

TEST(DecoderReadings, FileReadingLinesComeFromTheFileWhenTheFrameEndsMidLine) {
  const std::string data = framed("cbu", "iltins\nlen\n.");
  auto memory = decode_all(data, Reading::memory);
  auto file = decode_all(data, Reading::file);
  EXPECT_EQ(memory[2], "GLOBAL@11:builtins");
  EXPECT_EQ(file[2], "GLOBAL@11:iltins");
}

TEST(DecoderReadings, PythonReadingTakesFloatTextAndShortFramesCRefuses) {
  Decoder* memory = nullptr;
  auto c = decode_all("F 1.5\nN."s, Reading::memory, &memory);
  EXPECT_NE(c.back().find("FLOAT"), std::string::npos);
  EXPECT_TRUE(memory->python_may_differ());
  EXPECT_EQ(decode_all("F 1.5\nN."s, Reading::python), (std::vector<std::string>{"FLOAT@0", "NONE@6", "STOP@7"}));
  EXPECT_EQ(decode_all("F1_0.5 \nN."s, Reading::python).size(), 3u);
  EXPECT_EQ(decode_all("F1e999\nN."s, Reading::python).size(), 3u);
  EXPECT_NE(decode_all("F1__0\nN."s, Reading::python).back().find("error"), std::string::npos);
  // A FRAME declared longer than the data: _pickle.c refuses it, pickle.py reads what there is.
  const std::string short_frame = "\x80\x04\x95"s + test::u64(1000) + "N.";
  EXPECT_NE(decode_all(short_frame, Reading::memory).back().find("FRAME"), std::string::npos);
  EXPECT_EQ(decode_all(short_frame, Reading::python).back(), "STOP@12");
}

TEST(DecoderReadings, PythonNumbersAreIntNotStrtol) {
  // _pickle.c's strtol takes "010" as octal 8 and stops at a NUL; Python's int() refuses both.
  EXPECT_EQ(decode_all("I010\nN."s, Reading::memory).size(), 3u);
  EXPECT_NE(decode_all("I010\nN."s, Reading::python).back().find("error"), std::string::npos);
  EXPECT_NE(decode_all("I1\0x\nN."s, Reading::python).back().find("error"), std::string::npos);
  EXPECT_EQ(decode_all("I 1_0 \nN."s, Reading::python).size(), 3u);
}

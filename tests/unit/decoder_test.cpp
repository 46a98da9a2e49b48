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

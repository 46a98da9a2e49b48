#include "pickle/text_arguments.hpp"

#include <cmath>

#include <gtest/gtest.h>

using namespace picklewall::detail;
using namespace std::string_literals;

TEST(IntLine, DecimalHexOctalAndBool) {
  EXPECT_EQ(parse_int_line("42\n")->value, 42);
  EXPECT_EQ(parse_int_line("0x10\n")->value, 16);  // strtol base 0, where pickletools refuses
  EXPECT_EQ(parse_int_line("010\n")->value, 8);    // strtol reads a leading 0 as octal
  EXPECT_EQ(parse_int_line("-7\n")->value, -7);
  EXPECT_EQ(parse_int_line("  5\n")->value, 5);
  EXPECT_TRUE(parse_int_line("01\n")->is_bool);
  EXPECT_TRUE(parse_int_line("00\n")->is_bool);
  EXPECT_FALSE(parse_int_line("1\n")->is_bool);
}

TEST(IntLine, FallsBackToPythonIntRules) {
  EXPECT_EQ(parse_int_line("1_000\n")->value, 1000);              // strtol stops at '_', int() accepts it
  EXPECT_FALSE(parse_int_line("99999999999999999999999\n")->fits); // beyond int64 is a Python int
  EXPECT_FALSE(parse_int_line("08\n").has_value());                // octal digit 8: strtol stops, int() refuses
  EXPECT_FALSE(parse_int_line("abc\n").has_value());
  EXPECT_FALSE(parse_int_line("\n").has_value());                  // bad_readline
}

TEST(IntLine, EmbeddedNulEndsTheCString) {
  EXPECT_EQ(parse_int_line("5\0junk\n"s)->value, 5);
  EXPECT_EQ(parse_decimal_line("12\0zz\n"s)->value, 12);
}

TEST(LongLine, TrailingLAndBases) {
  EXPECT_EQ(parse_long_line("123L\n")->value, 123);
  EXPECT_EQ(parse_long_line("0x1f\n")->value, 31);
  EXPECT_FALSE(parse_long_line("12 3\n").has_value());
}

TEST(DecimalLine, MemoKeys) {
  EXPECT_EQ(parse_decimal_line("7\n")->value, 7);
  EXPECT_EQ(parse_decimal_line(" 007 \n")->value, 7);  // base 10: leading zeros allowed, spaces stripped
  EXPECT_EQ(parse_decimal_line("-1\n")->value, -1);
  EXPECT_FALSE(parse_decimal_line("0x1\n").has_value());
}

TEST(FloatLine, AcceptsWhatPyOSStringToDoubleAccepts) {
  EXPECT_DOUBLE_EQ(*parse_float_line("2.5\n"), 2.5);
  EXPECT_DOUBLE_EQ(*parse_float_line("-1e3\n"), -1000.0);
  EXPECT_TRUE(std::isinf(*parse_float_line("inf\n")));
  EXPECT_TRUE(std::isnan(*parse_float_line("nan\n")));
  EXPECT_FALSE(parse_float_line(" 1.0\n").has_value());   // no leading space
  EXPECT_FALSE(parse_float_line("1_0.0\n").has_value());  // no underscores
  EXPECT_FALSE(parse_float_line("1e999\n").has_value());  // OverflowError
  EXPECT_FALSE(parse_float_line("0x1p3\n").has_value());  // no hex floats
}

TEST(QuotedString, EscapesAsPyBytesDecodeEscape) {
  EXPECT_EQ(*decode_quoted_string("'abc'\n"), "abc");
  EXPECT_EQ(*decode_quoted_string("\"a\\x41\\n\\101\"\n"), "aA\nA");
  EXPECT_EQ(*decode_quoted_string("'a\\qb'\n"), "a\\qb");  // unknown escapes kept
  EXPECT_FALSE(decode_quoted_string("abc\n").has_value());    // must be quoted
  EXPECT_FALSE(decode_quoted_string("'abc\"\n").has_value()); // quotes must match
  EXPECT_FALSE(decode_quoted_string("'\\x4'\n").has_value()); // short \x escape
}

TEST(RawUnicodeEscape, OnlyOddBackslashRunsEscape) {
  EXPECT_EQ(*decode_raw_unicode_escape("\\u0041"), "A");
  EXPECT_EQ(*decode_raw_unicode_escape("\\\\u0041"), "\\\\u0041");  // even run: literal
  EXPECT_EQ(*decode_raw_unicode_escape("\\\\\\u0041"), "\\\\A");
  EXPECT_EQ(*decode_raw_unicode_escape("\xe9"), "\xc3\xa9");        // latin-1 byte to UTF-8
  EXPECT_FALSE(decode_raw_unicode_escape("\\u00").has_value());
  EXPECT_FALSE(decode_raw_unicode_escape("\\U00110000").has_value());
}

TEST(Utf8, SurrogatesOnlyWithSurrogatepass) {
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9", false));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80", false));
  EXPECT_TRUE(is_valid_utf8("\xed\xa0\x80", true));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf", true));  // overlong
  EXPECT_FALSE(is_valid_utf8("\xe2\x82", true));  // truncated
}

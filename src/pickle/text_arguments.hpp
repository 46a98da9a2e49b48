// Text-protocol arguments parsed exactly as CPython's C unpickler (Modules/_pickle.c) parses them, not as
// pickletools does: attackers hide in the differences. Lines passed in still end with their '\n'.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace picklewall::detail {

struct IntegerValue {
  bool fits = true;        // false: a Python int beyond int64 (value is then meaningless)
  std::int64_t value = 0;
  bool is_bool = false;    // INT "00"/"01" load as False/True
};

// INT: C strtol(base 0) on the NUL-terminated line, falling back to Python's int(line, 0) rules.
std::optional<IntegerValue> parse_int_line(std::string_view line);
// LONG: a trailing 'L' before the newline is dropped, then Python's int(line, 0) rules.
std::optional<IntegerValue> parse_long_line(std::string_view line);
// GET / PUT: Python's int(line, 10) on the NUL-terminated line.
std::optional<IntegerValue> parse_decimal_line(std::string_view line);
// FLOAT: PyOS_string_to_double: no leading space, no underscores, overflow is an error.
std::optional<double> parse_float_line(std::string_view line);
// STRING: strip the newline, require matching outer quotes, then PyBytes_DecodeEscape.
std::optional<std::string> decode_quoted_string(std::string_view line);
// UNICODE: raw-unicode-escape (only \uXXXX and \UXXXXXXXX after an odd run of backslashes), result in UTF-8.
std::optional<std::string> decode_raw_unicode_escape(std::string_view text);
// UTF-8 validity; `allow_surrogates` mirrors the 'surrogatepass' error handler used by BINUNICODE.
bool is_valid_utf8(std::string_view text, bool allow_surrogates);

// pickle.py (pickle._Unpickler, which joblib uses) parses text arguments with Python's own int() and float() on
// the bytes: no NUL truncation, and float() takes surrounding whitespace, underscores between digits and
// overflow to infinity, all of which _pickle.c refuses.
std::optional<IntegerValue> parse_python_int_line(std::string_view line);      // INT: "00"/"01" bools, else int(line, 0)
std::optional<IntegerValue> parse_python_long_line(std::string_view line);     // LONG: int(line[:-1] minus 'L', 0)
std::optional<IntegerValue> parse_python_decimal_line(std::string_view line);  // GET / PUT: int(line[:-1])
std::optional<double> parse_python_float_line(std::string_view line);          // FLOAT: float(line[:-1])
bool is_ascii(std::string_view text);

}  // namespace picklewall::detail

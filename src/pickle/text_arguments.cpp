#include "pickle/text_arguments.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace picklewall::detail {
namespace {

// C isspace in the "C" locale; Python's Py_ISSPACE is the same set for ASCII.
bool is_c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// The line as the C unpickler's parsers see it: a NUL-terminated copy, so an embedded NUL ends the text.
std::string_view as_c_string(std::string_view line) {
  auto nul = line.find('\0');
  return nul == std::string_view::npos ? line : line.substr(0, nul);
}

// 128-bit accumulation lets an int64 overflow be seen instead of wrapping; __extension__ keeps -Wpedantic quiet.
__extension__ using uint128 = unsigned __int128;
__extension__ using int128 = __int128;

struct Accumulator {
  IntegerValue result;
  bool negative = false;
  uint128 magnitude = 0;
  void add_digit(int base, int digit) {
    if (!result.fits) return;
    magnitude = magnitude * static_cast<unsigned>(base) + static_cast<unsigned>(digit);
    if (magnitude > (static_cast<uint128>(1) << 64)) result.fits = false;
  }
  IntegerValue finish() {
    if (result.fits) {
      const uint128 limit = static_cast<uint128>(INT64_MAX) + (negative ? 1 : 0);
      if (magnitude > limit) {
        result.fits = false;
      } else {
        result.value = negative ? static_cast<std::int64_t>(-static_cast<int128>(magnitude))
                                : static_cast<std::int64_t>(magnitude);
      }
    }
    return result;
  }
};

// Python's PyLong_FromString(text, NULL, base) with base 0 or 10: surrounding whitespace, a sign, base
// prefixes (base 0 only), single underscores between digits, and no leading zeros for base-0 decimals.
std::optional<IntegerValue> python_int(std::string_view text, int base) {
  std::size_t i = 0;
  while (i < text.size() && is_c_space(text[i])) ++i;
  Accumulator acc;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) acc.negative = text[i++] == '-';
  bool leading_zero_decimal = false;
  bool underscore_allowed = false;  // right after a base prefix an underscore may come first
  if (base == 0) {
    if (i + 1 < text.size() && text[i] == '0' &&
        (text[i + 1] == 'x' || text[i + 1] == 'X' || text[i + 1] == 'o' || text[i + 1] == 'O' ||
         text[i + 1] == 'b' || text[i + 1] == 'B')) {
      char prefix = static_cast<char>(text[i + 1] | 0x20);
      base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : 2;
      i += 2;
      underscore_allowed = true;
    } else {
      base = 10;
      leading_zero_decimal = i < text.size() && text[i] == '0';
    }
  }
  std::size_t digits = 0;
  bool previous_underscore = false;
  bool nonzero_seen = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      if (previous_underscore || (digits == 0 && !underscore_allowed)) return std::nullopt;
      previous_underscore = true;
      continue;
    }
    int d = digit_value(c);
    if (d >= base) break;
    if (d != 0) nonzero_seen = true;
    acc.add_digit(base, d);
    ++digits;
    previous_underscore = false;
  }
  if (digits == 0 || previous_underscore) return std::nullopt;
  if (leading_zero_decimal && nonzero_seen) return std::nullopt;  // "010" is not a base-0 literal
  while (i < text.size() && is_c_space(text[i])) ++i;
  if (i != text.size()) return std::nullopt;
  return acc.finish();
}

}  // namespace

std::optional<IntegerValue> parse_int_line(std::string_view line) {
  if (line.size() < 2) return std::nullopt;  // bad_readline
  std::string_view text = as_c_string(line);
  // strtol(s, &end, 0): whitespace, sign, "0x" prefix, leading 0 means octal.
  std::size_t i = 0;
  while (i < text.size() && is_c_space(text[i])) ++i;
  Accumulator acc;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) acc.negative = text[i++] == '-';
  int base = 10;
  std::size_t digits_start = i;
  if (i < text.size() && text[i] == '0') {
    if (i + 2 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && digit_value(text[i + 2]) < 16) {
      base = 16;
      i += 2;
      digits_start = i;
    } else {
      base = 8;
    }
  }
  std::size_t j = i;
  while (j < text.size() && digit_value(text[j]) < base) acc.add_digit(base, digit_value(text[j++]));
  bool converted = j > digits_start;
  IntegerValue value = acc.finish();
  // strtol saturates on overflow (ERANGE); both overflow and a bad end fall back to PyLong_FromString.
  bool ends_cleanly = converted && (j == text.size() || text[j] == '\n');
  if (!value.fits || !ends_cleanly) {
    auto fallback = python_int(text, 0);
    if (fallback && fallback->fits) fallback->is_bool = false;
    return fallback;
  }
  if (line.size() == 3 && (value.value == 0 || value.value == 1)) value.is_bool = true;
  return value;
}

std::optional<IntegerValue> parse_long_line(std::string_view line) {
  if (line.size() < 2) return std::nullopt;
  std::string copy(line);
  if (copy[copy.size() - 2] == 'L') copy[copy.size() - 2] = '\0';
  return python_int(as_c_string(copy), 0);
}

std::optional<IntegerValue> parse_decimal_line(std::string_view line) {
  if (line.size() < 2) return std::nullopt;
  return python_int(as_c_string(line), 10);
}

std::optional<double> parse_float_line(std::string_view line) {
  if (line.size() < 2) return std::nullopt;
  std::string_view text = as_c_string(line);
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  auto rest_is = [&](std::string_view word) {
    if (text.size() - i < word.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k)
      if ((text[i + k] | 0x20) != word[k]) return false;
    return true;
  };
  std::size_t end;
  if (rest_is("infinity")) {
    end = i + 8;
  } else if (rest_is("inf") || rest_is("nan")) {
    end = i + 3;
  } else {
    std::size_t j = i, mantissa_digits = 0;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j, ++mantissa_digits;
    if (j < text.size() && text[j] == '.') {
      ++j;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j, ++mantissa_digits;
    }
    if (mantissa_digits == 0) return std::nullopt;
    if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
      std::size_t exponent_digits = 0;
      while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k, ++exponent_digits;
      if (exponent_digits > 0) j = k;  // "1e" parses as 1 followed by junk
    }
    end = j;
  }
  if (end != text.size() && text[end] != '\n') return std::nullopt;
  std::string number(text.substr(0, end));
  errno = 0;
  char* stop = nullptr;
  double value = std::strtod(number.c_str(), &stop);
  // PyOS_string_to_double raises OverflowError for out-of-range magnitudes.
  if (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL)) return std::nullopt;
  return value;
}

std::optional<std::string> decode_quoted_string(std::string_view line) {
  if (line.size() < 2) return std::nullopt;  // bad_readline
  std::string_view text = line.substr(0, line.size() - 1);
  if (text.size() < 2 || text.front() != text.back() || (text.front() != '\'' && text.front() != '"'))
    return std::nullopt;  // "the STRING opcode argument must be quoted"
  text = text.substr(1, text.size() - 2);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= text.size()) return std::nullopt;  // "Trailing \ in string"
    c = text[i];
    switch (c) {
      case '\n': break;  // line continuation
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 't': out.push_back('\t'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 'v': out.push_back('\v'); break;
      case 'a': out.push_back('\a'); break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        int value = c - '0';
        for (int k = 0; k < 2 && i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '7'; ++k)
          value = value * 8 + (text[++i] - '0');
        out.push_back(static_cast<char>(value & 0xFF));
        break;
      }
      case 'x': {
        if (i + 2 >= text.size() || digit_value(text[i + 1]) >= 16 || digit_value(text[i + 2]) >= 16)
          return std::nullopt;  // "invalid \x escape"
        out.push_back(static_cast<char>(digit_value(text[i + 1]) * 16 + digit_value(text[i + 2])));
        i += 2;
        break;
      }
      default:  // unknown escapes are kept, backslash included
        out.push_back('\\');
        out.push_back(c);
    }
  }
  return out;
}

namespace {
void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}
}  // namespace

std::optional<std::string> decode_raw_unicode_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte != '\\') {
      append_utf8(out, byte);  // every other byte is a Latin-1 code point
      ++i;
      continue;
    }
    std::size_t run_end = i;
    while (run_end < text.size() && text[run_end] == '\\') ++run_end;
    std::size_t run = run_end - i;
    bool escape = (run % 2 == 1) && run_end < text.size() && (text[run_end] == 'u' || text[run_end] == 'U');
    if (!escape) {
      out.append(run, '\\');
      i = run_end;
      continue;
    }
    out.append(run - 1, '\\');
    std::size_t width = text[run_end] == 'u' ? 4 : 8;
    std::size_t start = run_end + 1;
    if (text.size() - start < width) return std::nullopt;  // truncated \uXXXX escape
    std::uint32_t code_point = 0;
    for (std::size_t k = 0; k < width; ++k) {
      int d = digit_value(text[start + k]);
      if (d >= 16) return std::nullopt;
      code_point = code_point * 16 + static_cast<std::uint32_t>(d);
    }
    if (code_point > 0x10FFFF) return std::nullopt;  // \Uxxxxxxxx out of range
    append_utf8(out, code_point);
    i = start + width;
  }
  return out;
}

std::optional<IntegerValue> parse_python_int_line(std::string_view line) {
  if (line == "00\n" || line == "01\n") return IntegerValue{true, line[1] == '1', true};
  return python_int(line, 0);  // the newline is trailing whitespace to int()
}

std::optional<IntegerValue> parse_python_long_line(std::string_view line) {
  if (line.empty()) return std::nullopt;
  std::string_view text = line.substr(0, line.size() - 1);
  if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
  return python_int(text, 0);
}

std::optional<IntegerValue> parse_python_decimal_line(std::string_view line) {
  if (line.empty()) return std::nullopt;
  return python_int(line.substr(0, line.size() - 1), 10);
}

std::optional<double> parse_python_float_line(std::string_view line) {
  if (line.empty()) return std::nullopt;
  std::string_view text = line.substr(0, line.size() - 1);
  // _Py_string_to_number_with_underscores: an underscore only between two digits; no NUL anywhere.
  std::string plain;
  plain.reserve(text.size());
  char previous = '\0';
  for (char c : text) {
    if (c == '\0') return std::nullopt;
    const bool digit = c >= '0' && c <= '9';
    if (c == '_') {
      if (!(previous >= '0' && previous <= '9')) return std::nullopt;
    } else {
      if (previous == '_' && !digit) return std::nullopt;
      plain.push_back(c);
    }
    previous = c;
  }
  if (previous == '_') return std::nullopt;
  // float_from_string_inner: ASCII whitespace either side, then PyOS_string_to_double must use every byte.
  std::string_view number = plain;
  while (!number.empty() && is_c_space(number.front())) number.remove_prefix(1);
  while (!number.empty() && is_c_space(number.back())) number.remove_suffix(1);
  if (number.empty()) return std::nullopt;
  std::string with_newline(number);
  with_newline.push_back('\n');
  auto strict = parse_float_line(with_newline);
  if (strict) return strict;
  // The one spelling parse_float_line refuses that float() takes: a finite-looking number that overflows.
  std::size_t i = 0;
  if (number[i] == '+' || number[i] == '-') ++i;
  std::size_t digits = 0;
  while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i, ++digits;
  if (i < number.size() && number[i] == '.') {
    ++i;
    while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i, ++digits;
  }
  if (digits == 0 || i >= number.size() || (number[i] != 'e' && number[i] != 'E')) return std::nullopt;
  ++i;
  if (i < number.size() && (number[i] == '+' || number[i] == '-')) ++i;
  std::size_t exponent_digits = 0;
  while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i, ++exponent_digits;
  if (exponent_digits == 0 || i != number.size()) return std::nullopt;
  return number.front() == '-' ? -HUGE_VAL : HUGE_VAL;
}

bool is_valid_utf8(std::string_view text, bool allow_surrogates) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size(), i = 0;
  // ASCII runs eight bytes at a time: names, keys and labels are almost always ASCII.
  while (i + 8 <= n) {
    std::uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t code_point;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2, code_point = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3, code_point = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4, code_point = c & 0x07;
    } else {
      return false;
    }
    if (n - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (p[i + k] & 0x3F);
    }
    if ((length == 3 && code_point < 0x800) || (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)))
      return false;
    if (!allow_surrogates && code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    i += length;
  }
  return true;
}

bool is_ascii(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace picklewall::detail

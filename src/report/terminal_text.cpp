#include "report/terminal_text.hpp"

namespace picklewall::detail {

const char* color_of(Verdict verdict) {
  switch (verdict) {
    case Verdict::not_a_model: return "\x1b[2m";
    case Verdict::safe: return "\x1b[32m";
    case Verdict::suspicious: return "\x1b[33m";
    case Verdict::malicious: return "\x1b[1;31m";
    case Verdict::error: return "\x1b[35m";
  }
  return "";
}

const char* color_of(Severity severity) {
  switch (severity) {
    case Severity::info: return "\x1b[2m";
    case Severity::suspicious: return "\x1b[33m";
    case Severity::malicious: return "\x1b[1;31m";
  }
  return "";
}

// Hostile member names and messages must not drive the terminal: escape control bytes.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\t') {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    } else if (c == 0x7f) {
      out += "\\x7f";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace picklewall::detail

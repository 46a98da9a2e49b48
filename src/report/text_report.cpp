#include "picklewall/report.hpp"

namespace picklewall {
namespace {

const char* color_of(Verdict verdict) {
  switch (verdict) {
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

}  // namespace

std::string render_text(const std::vector<FileReport>& reports, const TextStyle& style) {
  std::string out;
  const char* reset = style.color ? "\x1b[0m" : "";
  std::size_t counts[4] = {};
  for (const FileReport& report : reports) {
    ++counts[static_cast<int>(report.verdict)];
    std::string verdict(to_string(report.verdict));
    for (auto& c : verdict) c = static_cast<char>(std::toupper(c));
    out += style.color ? color_of(report.verdict) : "";
    out += verdict;
    out += reset;
    out += "  " + printable(report.path) + "  (" + report.format + ")\n";
    std::size_t hidden = 0;
    for (const Finding& finding : report.findings) {
      if (finding.severity == Severity::info && !style.show_info) {
        ++hidden;
        continue;
      }
      out += "  ";
      out += style.color ? color_of(finding.severity) : "";
      out += std::string(to_string(finding.severity));
      out += reset;
      out += " [" + finding.rule + "]";
      if (!finding.member.empty()) out += " in " + printable(finding.member);
      if (finding.offset) out += " at offset " + std::to_string(*finding.offset);
      out += "\n      " + printable(finding.message) + "\n";
    }
    if (hidden > 0 && report.verdict != Verdict::safe)
      out += "  (" + std::to_string(hidden) + " info finding(s) hidden; --show-info lists them)\n";
  }
  out += "\n" + std::to_string(reports.size()) + " file(s): " + std::to_string(counts[0]) + " safe, " +
         std::to_string(counts[1]) + " suspicious, " + std::to_string(counts[2]) + " malicious, " +
         std::to_string(counts[3]) + " error\n";
  return out;
}

}  // namespace picklewall

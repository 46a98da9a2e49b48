#include "picklewall/report.hpp"

#include "report/terminal_text.hpp"

namespace picklewall {

using detail::color_of;
using detail::printable;

std::string render_text(const std::vector<FileReport>& reports, const TextStyle& style) {
  std::string out;
  const char* reset = style.color ? "\x1b[0m" : "";
  std::size_t counts[5] = {};
  for (const FileReport& report : reports) {
    ++counts[static_cast<int>(report.verdict)];
    std::string verdict(to_string(report.verdict));
    for (auto& c : verdict) c = c == '-' ? ' ' : static_cast<char>(std::toupper(c));
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
    if (hidden > 0 && report.verdict != Verdict::safe && report.verdict != Verdict::not_a_model)
      out += "  (" + std::to_string(hidden) + " info finding(s) hidden; --show-info lists them)\n";
  }
  const auto count = [&](Verdict verdict) { return std::to_string(counts[static_cast<int>(verdict)]); };
  out += "\n" + std::to_string(reports.size()) + " file(s): " + count(Verdict::safe) + " safe, " +
         count(Verdict::suspicious) + " suspicious, " + count(Verdict::malicious) + " malicious, " +
         count(Verdict::error) + " error";
  if (counts[static_cast<int>(Verdict::not_a_model)] > 0) out += ", " + count(Verdict::not_a_model) + " not a model";
  out += "\n";
  return out;
}

}  // namespace picklewall

#include "picklewall/inspect.hpp"

#include <algorithm>
#include <chrono>

#include "analysis/analyzer.hpp"
#include "inspect/decompiler.hpp"
#include "inspect/disassembler.hpp"
#include "pickle/pickle_stream.hpp"
#include "report/terminal_text.hpp"

namespace picklewall {
namespace {

// Each finding goes to the last line of its member's section that starts at or before its offset: the
// statement (or opcode) that causes it.
void place_findings(InspectReport& out) {
  for (const Finding& finding : out.report.findings) {
    InspectLine* best = nullptr;
    if (finding.offset) {
      for (InspectSection& section : out.sections) {
        if (section.member != finding.member) continue;
        for (InspectLine& line : section.lines)
          if (line.offset <= *finding.offset && (best == nullptr || line.offset >= best->offset)) best = &line;
      }
    }
    if (best != nullptr) best->findings.push_back(finding);
    else out.unplaced.push_back(finding);
  }
}

}  // namespace

Result<InspectReport> inspect_file(const std::string& path, const InspectOptions& options) {
  auto scanner = Scanner::create(options.scan);
  if (!scanner) return scanner.error();
  const Limits& limits = scanner.value().options().limits;
  InspectReport out;
  std::size_t budget = options.max_lines;
  auto visit = [&](const PickleStreamView& view) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(limits.max_seconds_per_file));
    const detail::MachineOptions machine{detail::GraphDetail::full, view.joblib_arrays};
    const auto stream = detail::read_pickle_stream(view.bytes, view.start, limits, deadline, view.pickles, machine);
    for (std::size_t i = 0; i < stream.pickles.size(); ++i) {
      const detail::PickleProgram& program = stream.pickles[i];
      InspectSection section;
      section.member = detail::pickle_member(std::string(view.member), i, stream.pickles.size());
      const auto lines = options.view == InspectView::disassembly
                             ? detail::disassemble(view.bytes, program.start, program.end, limits)
                             : detail::decompile(program);
      for (const detail::CodeLine& line : lines) {
        if (budget == 0) {
          ++out.lines_not_shown;
          continue;
        }
        --budget;
        section.lines.push_back(InspectLine{line.offset, line.text, {}});
      }
      out.sections.push_back(std::move(section));
    }
  };
  out.report = scanner.value().scan_file_visiting(path, visit);
  if (out.report.verdict == Verdict::error)
    return Error{ErrorCode::io, out.report.findings.empty() ? path + ": cannot be read"
                                                            : out.report.findings.front().message};
  if (out.sections.empty())
    return Error{ErrorCode::unsupported, path + ": no pickle in this file (format: " + out.report.format +
                                             "), so loading it runs nothing that inspect could show"};
  place_findings(out);
  return out;
}

std::string render_inspect_text(const InspectReport& report, bool color) {
  using detail::color_of;
  using detail::printable;
  const char* reset = color ? "\x1b[0m" : "";
  auto finding_text = [&](const Finding& finding, const std::string& indent) {
    return indent + (color ? color_of(finding.severity) : "") + "^ " + std::string(to_string(finding.severity)) +
           " [" + finding.rule + "] " + printable(finding.message) + reset + "\n";
  };
  std::string out;
  out += std::string(color ? color_of(report.report.verdict) : "") + "# " +
         std::string(to_string(report.report.verdict)) + reset + "  " + printable(report.report.path) + "  (" +
         report.report.format + ")\n";
  for (const Finding& finding : report.unplaced) {
    std::string where = finding.member.empty() ? "" : " in " + printable(finding.member);
    if (finding.offset) where += " at offset " + std::to_string(*finding.offset);
    out += std::string("# ") + (color ? color_of(finding.severity) : "") + std::string(to_string(finding.severity)) +
           " [" + finding.rule + "]" + where + ": " + printable(finding.message) + reset + "\n";
  }
  for (const InspectSection& section : report.sections) {
    out += "\n# --- " + (section.member.empty() ? std::string("pickle") : printable(section.member)) + " ---\n";
    for (const InspectLine& line : section.lines) {
      char offset[24];
      std::snprintf(offset, sizeof offset, "%8llu  ", static_cast<unsigned long long>(line.offset));
      out += offset + printable(line.code) + "\n";
      for (const Finding& finding : line.findings) out += finding_text(finding, std::string(10, ' '));
    }
  }
  if (report.lines_not_shown > 0)
    out += "\n# ... " + std::to_string(report.lines_not_shown) + " more line(s) not shown (raise --max-lines)\n";
  return out;
}

}  // namespace picklewall

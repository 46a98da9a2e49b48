#include "picklewall/inspect.hpp"

#include <algorithm>
#include <map>
#include <string_view>

#include "analysis/analyzer.hpp"
#include "inspect/decompiler.hpp"
#include "inspect/disassembler.hpp"
#include "pickle/pickle_stream.hpp"
#include "report/terminal_text.hpp"

namespace picklewall {
namespace {

// Each finding goes to the last line of its member's section that starts at or before its offset: the
// statement (or opcode) that causes it. Sections are found by member and lines by binary search over their
// offsets (in stream order), so ten thousand findings over two thousand lines cost no more than sorting them.
void place_findings(InspectReport& out) {
  std::multimap<std::string_view, InspectSection*> sections;
  for (InspectSection& section : out.sections) sections.emplace(section.member, &section);
  for (const Finding& finding : out.report.findings) {
    InspectLine* best = nullptr;
    if (finding.offset) {
      const auto [first, last] = sections.equal_range(finding.member);
      for (auto it = first; it != last; ++it) {
        std::vector<InspectLine>& lines = it->second->lines;  // in stream order: sorted by offset (see below)
        auto after = std::upper_bound(lines.begin(), lines.end(), *finding.offset,
                                      [](std::uint64_t offset, const InspectLine& line) { return offset < line.offset; });
        if (after == lines.begin()) continue;
        InspectLine& line = *std::prev(after);
        if (best == nullptr || line.offset >= best->offset) best = &line;
      }
    }
    if (best != nullptr) best->findings.push_back(finding);
    else out.unplaced.push_back(finding);
  }
}

}  // namespace

namespace {

// `scan` runs the scan of the file with the visitor that decompiles each pickle it reads.
template <class Scan>
Result<InspectReport> inspect_with(const std::string& path, const InspectOptions& options, const Scan& scan) {
  auto scanner = Scanner::create(options.scan);
  if (!scanner) return scanner.error();
  const Limits& limits = scanner.value().options().limits;
  InspectReport out;
  std::size_t lines_left = options.max_lines;
  // One budget for the scan and for re-reading its pickles with the full graph: inspect is bounded as a scan is.
  const detail::Budget budget(limits, options.scan.cancel);
  auto visit = [&](const PickleStreamView& view) {
    const detail::MachineOptions machine{detail::GraphDetail::full, view.joblib_arrays};
    const auto stream = detail::read_pickle_stream(view.bytes, view.start, limits, budget, view.pickles, machine);
    for (std::size_t i = 0; i < stream.pickles.size(); ++i) {
      const detail::PickleProgram& program = stream.pickles[i];
      InspectSection section;
      section.member = detail::pickle_member(std::string(view.member), i, stream.pickles.size());
      const auto lines = options.view == InspectView::disassembly
                             ? detail::disassemble(view.bytes, program.start, program.end, limits)
                             : detail::decompile(program);
      for (const detail::CodeLine& line : lines) {
        if (lines_left == 0) {
          ++out.lines_not_shown;
          continue;
        }
        --lines_left;
        section.lines.push_back(InspectLine{line.offset, line.text, {}});
      }
      out.sections.push_back(std::move(section));
    }
  };
  out.report = scan(scanner.value(), Scanner::PickleVisitor(visit));
  if (out.report.verdict == Verdict::error)
    return Error{ErrorCode::io, out.report.findings.empty() ? path + ": cannot be read"
                                                            : out.report.findings.front().message};
  if (out.sections.empty())
    return Error{ErrorCode::unsupported, path + ": no pickle in this file (format: " + out.report.format +
                                             "), so loading it runs nothing that inspect could show"};
  // Decompiled and disassembled lines follow the stream, so each section is sorted by offset; kept so.
  for (InspectSection& section : out.sections)
    std::stable_sort(section.lines.begin(), section.lines.end(),
                     [](const InspectLine& a, const InspectLine& b) { return a.offset < b.offset; });
  place_findings(out);
  return out;
}

}  // namespace

Result<InspectReport> inspect_file(const std::string& path, const InspectOptions& options) {
  return inspect_with(path, options, [&](const Scanner& scanner, const Scanner::PickleVisitor& visit) {
    return scanner.scan_file_visiting(path, visit);
  });
}

Result<InspectReport> inspect_descriptor(int fd, const std::string& name, const InspectOptions& options) {
  return inspect_with(name, options, [&](const Scanner& scanner, const Scanner::PickleVisitor& visit) {
    return scanner.scan_descriptor(fd, name, std::string(), &visit);
  });
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

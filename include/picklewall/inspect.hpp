// `picklewall inspect`: what loading a file would do, statement by statement (or opcode by opcode), with each
// finding shown at the line that causes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

enum class InspectView {
  decompiled,   // Python-like code: imports, calls, BUILDs, mutations, the returned object
  disassembly,  // every opcode with its offset, as the C unpickler reads it
};

struct InspectOptions {
  ScanOptions scan;
  InspectView view = InspectView::decompiled;
  std::size_t max_lines = 2000;  // over all sections; the rest is counted, not shown
};

struct InspectLine {
  std::uint64_t offset = 0;
  std::string code;
  std::vector<Finding> findings;  // findings whose offset falls on this line
};

struct InspectSection {
  std::string member;  // as findings name it: "" for the file itself, "archive/data.pkl", "... [pickle 2]"
  std::vector<InspectLine> lines;
};

struct InspectReport {
  FileReport report;                    // the scan of the same file
  std::vector<InspectSection> sections;  // one per pickle the scan read
  std::vector<Finding> unplaced;         // findings with no line (containers, nested pickles, whole-file rules)
  std::size_t lines_not_shown = 0;
};

// Errors: the file cannot be read, or holds no pickle at all (nothing a load would run).
Result<InspectReport> inspect_file(const std::string& path, const InspectOptions& options);
// The same for the file `fd` is open on, named `name` (a worker process is handed descriptors, not paths).
Result<InspectReport> inspect_descriptor(int fd, const std::string& name, const InspectOptions& options);

std::string render_inspect_text(const InspectReport& report, bool color);

}  // namespace picklewall

// Rendering reports: text for people, JSON for scripts (schema 1, see design.md), SARIF 2.1.0 for code-scanning UIs.
#pragma once

#include <string>
#include <vector>

#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

struct TextStyle {
  bool color = false;
  bool show_info = false;  // list info-level findings too
};

std::string render_text(const std::vector<FileReport>& reports, const TextStyle& style);
std::string render_json(const std::vector<FileReport>& reports);
std::string render_sarif(const std::vector<FileReport>& reports);

// Writes `content` to `path` atomically: a sibling temporary file, flushed, fsynced and renamed into place, so a
// reader never sees a partial report and a failure leaves any previous file untouched.
Status write_file_atomically(const std::string& path, const std::string& content);

const char* version();

}  // namespace picklewall

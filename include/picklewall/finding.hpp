// Findings and verdicts: the contract users script against (see design.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace picklewall {

// Severity of one finding. The verdict of a file is the highest severity among its findings.
enum class Severity { info, suspicious, malicious };

// Ordered from "nothing to do" to "stop": not_a_model is a file in no model format (text, an archive of text),
// analysed and holding nothing a loader would run; safe is a model file shown to hold only data.
enum class Verdict { not_a_model, safe, suspicious, malicious, error };

std::string_view to_string(Severity severity);
std::string_view to_string(Verdict verdict);

struct Finding {
  std::string rule;     // stable id, e.g. "global.dangerous", "structure.trailing-bytes"
  Severity severity = Severity::info;
  std::string message;  // what was found and why it matters, in one or two sentences
  std::string member;   // where inside the file: archive member / pickle index ("" for the file itself)
  std::optional<std::uint64_t> offset;  // byte offset of the opcode inside the member's pickle stream
  std::string symbol;   // the global involved ("module.name"), if any
};

Verdict verdict_of(const std::vector<Finding>& findings);

}  // namespace picklewall

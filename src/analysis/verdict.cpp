#include "picklewall/finding.hpp"

namespace picklewall {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::info: return "info";
    case Severity::suspicious: return "suspicious";
    case Severity::malicious: return "malicious";
  }
  return "info";
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::not_a_model: return "not-a-model";
    case Verdict::safe: return "safe";
    case Verdict::suspicious: return "suspicious";
    case Verdict::malicious: return "malicious";
    case Verdict::error: return "error";
  }
  return "error";
}

Verdict verdict_of(const std::vector<Finding>& findings) {
  Severity worst = Severity::info;
  for (const Finding& finding : findings)
    if (finding.severity > worst) worst = finding.severity;
  switch (worst) {
    case Severity::info: return Verdict::safe;
    case Severity::suspicious: return Verdict::suspicious;
    case Severity::malicious: return Verdict::malicious;
  }
  return Verdict::safe;
}

}  // namespace picklewall

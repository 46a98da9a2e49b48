#include <nlohmann/json.hpp>

#include "picklewall/report.hpp"

namespace picklewall {

namespace {

// Member names and messages come from hostile files: replace invalid UTF-8 instead of failing to render.
std::string dump(const nlohmann::ordered_json& document) {
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string render_json(const std::vector<FileReport>& reports) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  std::size_t counts[5] = {};
  for (const FileReport& report : reports) {
    nlohmann::ordered_json findings = nlohmann::ordered_json::array();
    for (const Finding& finding : report.findings) {
      findings.push_back({{"rule", finding.rule},
                          {"severity", to_string(finding.severity)},
                          {"message", finding.message},
                          {"member", finding.member},
                          {"offset", finding.offset ? nlohmann::ordered_json(*finding.offset) : nlohmann::ordered_json(nullptr)},
                          {"symbol", finding.symbol}});
    }
    files.push_back({{"path", report.path},
                     {"format", report.format},
                     {"verdict", to_string(report.verdict)},
                     {"sha256", report.sha256},
                     {"size", report.size},
                     {"findings", std::move(findings)},
                     {"globals", report.globals}});
    ++counts[static_cast<int>(report.verdict)];
  }
  nlohmann::ordered_json document = {
      {"schema", 1},
      {"tool", {{"name", "picklewall"}, {"version", version()}}},
      {"files", std::move(files)},
      {"summary",
       {{"files", reports.size()},
        {"safe", counts[static_cast<int>(Verdict::safe)]},
        {"suspicious", counts[static_cast<int>(Verdict::suspicious)]},
        {"malicious", counts[static_cast<int>(Verdict::malicious)]},
        {"error", counts[static_cast<int>(Verdict::error)]},
        {"not-a-model", counts[static_cast<int>(Verdict::not_a_model)]}}},
  };
  return dump(document);
}

}  // namespace picklewall

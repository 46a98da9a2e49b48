// SARIF 2.1.0 for code-scanning UIs: one result per non-info finding, rules collected from the findings.
#include <map>

#include <nlohmann/json.hpp>

#include "picklewall/report.hpp"

namespace picklewall {

std::string render_sarif(const std::vector<FileReport>& reports) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  std::map<std::string, std::size_t> rule_index;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const FileReport& report : reports) {
    for (const Finding& finding : report.findings) {
      if (finding.severity == Severity::info) continue;
      if (!rule_index.contains(finding.rule)) {
        rule_index[finding.rule] = rules.size();
        rules.push_back({{"id", finding.rule},
                         {"name", finding.rule},
                         {"shortDescription", {{"text", finding.rule}}}});
      }
      nlohmann::ordered_json location = {{"physicalLocation", {{"artifactLocation", {{"uri", report.path}}}}}};
      if (finding.offset && finding.member.empty())
        location["physicalLocation"]["region"] = {{"byteOffset", *finding.offset}, {"byteLength", 1}};
      if (!finding.member.empty())
        location["logicalLocations"] = nlohmann::ordered_json::array({{{"name", finding.member}, {"kind", "member"}}});
      std::string text = finding.message;
      if (!finding.member.empty()) text = "[" + finding.member + "] " + text;
      nlohmann::ordered_json result = {{"ruleId", finding.rule},
                               {"ruleIndex", rule_index[finding.rule]},
                               {"level", finding.severity == Severity::malicious ? "error" : "warning"},
                               {"message", {{"text", text}}},
                               {"locations", nlohmann::ordered_json::array({location})},
                               {"properties", {{"verdict", to_string(report.verdict)}, {"sha256", report.sha256}}}};
      if (finding.offset) result["properties"]["offset"] = *finding.offset;
      if (!finding.symbol.empty()) result["properties"]["symbol"] = finding.symbol;
      results.push_back(std::move(result));
    }
  }
  nlohmann::ordered_json document = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", nlohmann::ordered_json::array({{{"tool", {{"driver", {{"name", "picklewall"},
                                                            {"version", version()},
                                                            {"rules", std::move(rules)}}}}},
                                       {"results", std::move(results)}}})},
  };
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace picklewall

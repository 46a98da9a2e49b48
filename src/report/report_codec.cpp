#include "report/report_codec.hpp"

namespace picklewall::detail {

std::optional<Severity> severity_named(std::string_view name) {
  for (Severity severity : {Severity::info, Severity::suspicious, Severity::malicious})
    if (to_string(severity) == name) return severity;
  return std::nullopt;
}

std::optional<Verdict> verdict_named(std::string_view name) {
  for (Verdict verdict : {Verdict::not_a_model, Verdict::safe, Verdict::suspicious, Verdict::malicious, Verdict::error})
    if (to_string(verdict) == name) return verdict;
  return std::nullopt;
}

// Strings go in as CBOR byte strings: nlohmann's text strings must be UTF-8 to be written back out as JSON,
// and these need not be.
namespace {

nlohmann::json binary(const std::string& text) {
  return nlohmann::json::binary(std::vector<std::uint8_t>(text.begin(), text.end()));
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_binary()) {
    const auto& bytes = value.get_binary();
    return std::string(bytes.begin(), bytes.end());
  }
  return value.get<std::string>();  // throws for anything else: the caller turns that into "no report"
}

}  // namespace

nlohmann::json report_to_json(const FileReport& report) {
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& finding : report.findings)
    findings.push_back({binary(finding.rule), to_string(finding.severity), binary(finding.message),
                        binary(finding.member), finding.offset ? nlohmann::json(*finding.offset) : nlohmann::json(nullptr),
                        binary(finding.symbol)});
  nlohmann::json globals = nlohmann::json::array();
  for (const std::string& global : report.globals) globals.push_back(binary(global));
  return {{"path", binary(report.path)},   {"format", binary(report.format)},
          {"verdict", to_string(report.verdict)}, {"sha256", report.sha256},
          {"size", report.size},           {"findings", std::move(findings)},
          {"globals", std::move(globals)}};
}

std::optional<FileReport> report_from_json(const nlohmann::json& document) {
  if (!document.is_object()) return std::nullopt;
  try {
    FileReport report;
    report.path = text_of(document.at("path"));
    report.format = text_of(document.at("format"));
    const auto verdict = verdict_named(document.at("verdict").get<std::string>());
    if (!verdict) return std::nullopt;
    report.verdict = *verdict;
    report.sha256 = document.at("sha256").get<std::string>();
    report.size = document.at("size").get<std::uint64_t>();
    for (const auto& global : document.at("globals")) report.globals.push_back(text_of(global));
    for (const auto& item : document.at("findings")) {
      Finding finding;
      finding.rule = text_of(item.at(0));
      const auto severity = severity_named(item.at(1).get<std::string>());
      if (!severity) return std::nullopt;
      finding.severity = *severity;
      finding.message = text_of(item.at(2));
      finding.member = text_of(item.at(3));
      if (!item.at(4).is_null()) finding.offset = item.at(4).get<std::uint64_t>();
      finding.symbol = text_of(item.at(5));
      report.findings.push_back(std::move(finding));
    }
    return report;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

namespace {

nlohmann::json text_list(const std::vector<std::string>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& item : items) out.push_back(binary(item));
  return out;
}

std::vector<std::string> texts_of(const nlohmann::json& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(text_of(item));
  return out;
}

}  // namespace

nlohmann::json convert_result_to_json(const ConvertResult& result) {
  nlohmann::json conversions = nlohmann::json::array();
  for (const ConvertReport& report : result.conversions) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const ConvertedTensor& tensor : report.tensors)
      tensors.push_back({binary(tensor.name), tensor.dtype, tensor.shape});
    nlohmann::json dropped = nlohmann::json::array();
    for (const auto& [alias, kept] : report.dropped) dropped.push_back({binary(alias), binary(kept)});
    conversions.push_back({{"input", binary(report.input)},
                           {"output", binary(report.output)},
                           {"scan", report_to_json(report.scan)},
                           {"tensors", std::move(tensors)},
                           {"dropped", std::move(dropped)},
                           {"skipped", text_list(report.skipped)},
                           {"bytes_written", report.bytes_written},
                           {"verified", report.verified}});
  }
  return {{"conversions", std::move(conversions)},
          {"copied", text_list(result.copied)},
          {"left_out", text_list(result.left_out)}};
}

std::optional<ConvertResult> convert_result_from_json(const nlohmann::json& document) {
  try {
    ConvertResult result;
    for (const auto& item : document.at("conversions")) {
      ConvertReport report;
      report.input = text_of(item.at("input"));
      report.output = text_of(item.at("output"));
      auto scan = report_from_json(item.at("scan"));
      if (!scan) return std::nullopt;
      report.scan = std::move(*scan);
      for (const auto& tensor : item.at("tensors"))
        report.tensors.push_back({text_of(tensor.at(0)), tensor.at(1).get<std::string>(),
                                  tensor.at(2).get<std::vector<std::uint64_t>>()});
      for (const auto& pair : item.at("dropped")) report.dropped[text_of(pair.at(0))] = text_of(pair.at(1));
      report.skipped = texts_of(item.at("skipped"));
      report.bytes_written = item.at("bytes_written").get<std::uint64_t>();
      report.verified = item.at("verified").get<bool>();
      result.conversions.push_back(std::move(report));
    }
    result.copied = texts_of(document.at("copied"));
    result.left_out = texts_of(document.at("left_out"));
    return result;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace picklewall::detail

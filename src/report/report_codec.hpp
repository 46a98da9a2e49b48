// A FileReport as a JSON value (for CBOR): what the verdict cache stores and what a sandboxed worker sends its
// supervisor. CBOR, not JSON text, because messages and member names quote hostile bytes that need not be
// UTF-8, and CBOR keeps them byte for byte, so a report that crossed a process or a cache renders exactly as
// a fresh one.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "picklewall/convert.hpp"
#include "picklewall/scan.hpp"

namespace picklewall::detail {

nlohmann::json report_to_json(const FileReport& report);
// Anything unexpected (a cache row written by hand, a worker that lost its mind) is nothing, never a report
// that says something the scan did not.
std::optional<FileReport> report_from_json(const nlohmann::json& document);

// A conversion's result, as a worker sends it.
nlohmann::json convert_result_to_json(const ConvertResult& result);
std::optional<ConvertResult> convert_result_from_json(const nlohmann::json& document);

std::optional<Severity> severity_named(std::string_view name);
std::optional<Verdict> verdict_named(std::string_view name);

}  // namespace picklewall::detail

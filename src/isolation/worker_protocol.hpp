// What a supervisor and its workers say to each other (over isolation/channel.hpp). Requests:
//   {"op": "configure", "policies": [[name, text]...], "limits": {name: value}, "strict", "hash", "sandbox",
//    "memory_limit"}                                      -> {"ok": true}
//   {"op": "hash"} + file                                  -> {"sha256": hex}
//   {"op": "scan", "name", "sha256"?} + file               -> {"report": FileReport}
//   {"op": "inspect", "name", "view", "max_lines"} + file  -> {"text": rendered} | {"error": ...}
// Any reply may be {"error": {"code", "message"}}; a worker stopped by its sandbox first sends
// {"sandbox": "<system call>"}.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "picklewall/limits.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall::detail {

// The argument that makes the picklewall command (or the package's worker program) a worker, and the
// descriptor its channel arrives on.
inline constexpr const char* worker_argument = "__worker";
inline constexpr int worker_channel_descriptor = 3;

nlohmann::json limits_to_json(const Limits& limits);
Limits limits_from_json(const nlohmann::json& document);

nlohmann::json error_to_json(const Error& error);
Error error_from_json(const nlohmann::json& document);

// The worker's side: serves requests on its channel until the supervisor closes it. Returns the exit code.
int run_worker();

// Called by the seccomp sandbox's SIGSYS handler path: where to tell the supervisor which call was stopped.
void report_sandbox_violations_to(int channel);

}  // namespace picklewall::detail

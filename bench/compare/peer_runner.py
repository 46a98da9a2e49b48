"""Runs one peer scanner over a list of files, in the peers' own virtualenv, and prints one JSON line per file.

Usage: peer_runner.py TOOL < paths.txt   (TOOL: picklescan | modelscan | fickling | modelaudit)
Each line: {"path", "high", "any", "error"}: `high` is the tool's top alert level (picklescan "dangerous",
ModelScan CRITICAL/HIGH, fickling "unsafe", ModelAudit "critical"), `any` is any alert the tool raises, and
`error` says the tool could not scan the file (which a pipeline may treat as a pass or a fail).
"""
import json
import os
import sys

os.environ.setdefault("PROMPTFOO_DISABLE_TELEMETRY", "1")  # ModelAudit phones home otherwise
os.environ.setdefault("MODELAUDIT_DISABLE_TELEMETRY", "1")


def picklescan_result(path):
    from picklescan.scanner import SafetyLevel, scan_file_path
    result = scan_file_path(path)
    dangerous = result.issues_count > 0 or result.infected_files > 0
    suspicious = any(g.safety != SafetyLevel.Innocuous for g in result.globals)
    return dangerous, dangerous or suspicious, "scan error" if result.scan_err else ""


def modelscan_result(path):
    from modelscan.modelscan import ModelScan
    report = ModelScan().scan(path)
    severities = {str(issue.get("severity", "")).upper() for issue in report.get("issues", [])}
    high = bool(severities & {"CRITICAL", "HIGH"})
    scanned = report.get("summary", {}).get("scanned", {}).get("total_scanned", 0)
    error = "; ".join(str(e.get("description", e)) for e in report.get("errors", []))[:200]
    if not error and scanned == 0:
        error = "not scanned (skipped)"
    return high, bool(severities), error


def fickling_result(path):
    import fickling
    safe = fickling.is_likely_safe(path)
    return (not safe), (not safe), ""


def modelaudit_result(path):
    import modelaudit.core
    result = modelaudit.core.scan_model_directory_or_file(path)
    severities = {str(getattr(issue, "severity", "") or
                      (issue.get("severity") if isinstance(issue, dict) else "")).lower()
                  for issue in result.issues}
    severities = {s.split(".")[-1] for s in severities}
    error = "scan error" if result.has_errors else ""
    return "critical" in severities, bool(severities & {"critical", "warning"}), error


RUNNERS = {"picklescan": picklescan_result, "modelscan": modelscan_result, "fickling": fickling_result,
           "modelaudit": modelaudit_result}


def main():
    runner = RUNNERS[sys.argv[1]]
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        try:
            high, any_alert, error = runner(path)
        except Exception as exception:  # a crash is a scan that did not happen
            high, any_alert, error = False, False, f"{type(exception).__name__}: {exception}"[:200]
        print(json.dumps({"path": path, "high": bool(high), "any": bool(any_alert), "error": error}), flush=True)


if __name__ == "__main__":
    main()

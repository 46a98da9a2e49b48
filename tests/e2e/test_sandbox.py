"""The sandboxed workers, seen from outside: a stand-in for an attacker who controls the process that parses a
file (a preloaded library that makes a forbidden call when the process maps that file) is stopped, and the file
is reported with the call named, while the same call goes through with --no-sandbox. And everything a scan
needs still works inside the sandbox."""
import hashlib
import json
import os
import pickle
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.harness import picklewall_binary, run_scan


def probe_library() -> Path:
    build = Path(picklewall_binary()).resolve().parent
    library = build / "tests" / "unit" / "libpicklewall_sandbox_probe.so"
    if not library.is_file():
        pytest.fail(f"the sandbox probe {library} was not built (it is built with the unit tests)")
    return library


def run_with_probe(arguments, call: str, marker: Path, target: str, port: int = 0) -> subprocess.CompletedProcess:
    environment = dict(os.environ, LD_PRELOAD=str(probe_library()), PICKLEWALL_PROBE_CALL=call,
                       PICKLEWALL_PROBE_MARKER=str(marker), PICKLEWALL_PROBE_PORT=str(port),
                       PICKLEWALL_PROBE_TARGET=target)
    # Sanitizer builds: the probe is preloaded ahead of the sanitizer runtime, which is harmless here.
    environment["ASAN_OPTIONS"] = environment.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return subprocess.run([picklewall_binary(), *arguments], capture_output=True, text=True, timeout=60,
                          env=environment)


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    return path


@pytest.fixture
def neighbour(tmp_path) -> Path:
    path = tmp_path / "neighbour.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    return path


@pytest.mark.parametrize("call, system_call", [("exec", "execve"), ("write", "openat")])
def test_taken_over_worker_is_stopped_and_costs_only_its_file(tmp_path, model, neighbour, call, system_call):
    """The worker that maps model.pkl is taken over; the sandbox stops its forbidden call, the file is reported
    malicious with the call named, and the rest of the batch is scanned as if nothing happened."""
    marker = tmp_path / "marker"
    stopped = run_with_probe(["scan", "-f", "json", str(model), str(neighbour)], call, marker, "model.pkl")
    assert stopped.returncode == 1, stopped.stderr
    files = {f["path"]: f for f in json.loads(stopped.stdout)["files"]}
    hit = files[str(model)]
    assert hit["verdict"] == "malicious", hit
    assert [f["rule"] for f in hit["findings"]] == ["scan.sandbox-violation"]
    assert f"({system_call})" in hit["findings"][0]["message"]
    assert files[str(neighbour)]["verdict"] == "safe"
    assert not marker.exists()

    allowed = run_with_probe(["scan", "--no-sandbox", str(model)], call, marker, "model.pkl")
    assert marker.exists(), f"the probe's {call} did not happen without the sandbox: {allowed.stderr}"


@pytest.mark.parametrize("call, system_call", [("exec", "execve"), ("write", "openat")])
def test_taken_over_inspect_worker_is_stopped(tmp_path, model, call, system_call):
    marker = tmp_path / "marker"
    stopped = run_with_probe(["inspect", str(model)], call, marker, "model.pkl")
    assert stopped.returncode == 2, stopped.stderr
    assert f"the sandbox stopped a forbidden system call ({system_call})" in stopped.stderr
    assert not marker.exists()
    run_with_probe(["inspect", "--no-sandbox", str(model)], call, marker, "model.pkl")
    assert marker.exists()


def test_report_with_a_stopped_worker_is_whole_and_committed(tmp_path, model, neighbour):
    """With --output the supervisor (which reads no input) writes the report; a worker stopped by the sandbox is
    one line of it, and nothing but the report is left in its folder."""
    reports = tmp_path / "reports"
    reports.mkdir()
    marker = tmp_path / "marker"
    stopped = run_with_probe(["scan", "-o", str(reports / "report.txt"), str(model), str(neighbour)], "exec",
                             marker, "model.pkl")
    assert stopped.returncode == 1, stopped.stderr
    assert not marker.exists()
    text = (reports / "report.txt").read_text()
    assert "MALICIOUS" in text and "scan.sandbox-violation" in text and "SAFE" in text
    assert [p.name for p in reports.iterdir()] == ["report.txt"]


def test_network_connection_is_stopped_and_reported(tmp_path, model):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    accepted = []

    def accept():
        listener.settimeout(30)
        try:
            while True:
                connection, _ = listener.accept()
                accepted.append(connection)
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    marker = tmp_path / "marker"
    try:
        stopped = run_with_probe(["scan", "-f", "json", str(model)], "connect", marker, "model.pkl", port)
        assert stopped.returncode == 1, stopped.stderr
        finding = json.loads(stopped.stdout)["files"][0]["findings"][0]
        assert finding["rule"] == "scan.sandbox-violation" and "(socket)" in finding["message"]
        assert not marker.exists()
        run_with_probe(["scan", "--no-sandbox", str(model)], "connect", marker, "model.pkl", port)
        assert marker.exists()
    finally:
        listener.close()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()


def digests(folder: Path) -> dict:
    return {path: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_mode)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_sandboxed_scan_writes_report_and_cache_and_leaves_inputs_untouched(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for index in range(20):
        (inputs / f"m{index}.pkl").write_bytes(pickle.dumps({"layer": list(range(index))}, protocol=index % 6))
    (inputs / "bad.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    for path in inputs.iterdir():
        path.chmod(0o444)
    before = digests(inputs)
    reports = tmp_path / "reports"
    reports.mkdir()
    cache = tmp_path / "verdicts.db"
    for run in range(2):  # the first run fills the cache, the second reads it
        completed = subprocess.run([picklewall_binary(), "scan", "-j", "2", "--cache", str(cache), "-f", "json",
                                    "-o", str(reports / "report.json"), str(inputs)],
                                   capture_output=True, text=True, timeout=120)
        assert completed.returncode == 1, completed.stderr
        assert "sandbox" not in completed.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["report.json"]  # no temporary file left behind
    again = run_scan("--cache", cache, inputs)
    assert [f["verdict"] for f in again.report["files"]].count("malicious") == 1
    assert digests(inputs) == before

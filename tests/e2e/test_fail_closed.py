"""Fail closed, everywhere: no file can stall, kill, blind or command picklewall. One test per way it used to fail
open (each failed before the change that fixed it), from the outside, with the real command."""
import gzip
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures import cost_inputs
from harness import load_in_child, picklewall_binary, run_scan

PAYLOAD = "open(MARKER, 'w').close()"


def probe_environment(call: str, target: str, marker: Path) -> dict:
    build = Path(picklewall_binary()).resolve().parent
    environment = dict(os.environ, LD_PRELOAD=str(build / "tests" / "unit" / "libpicklewall_sandbox_probe.so"),
                       PICKLEWALL_PROBE_CALL=call, PICKLEWALL_PROBE_TARGET=target, PICKLEWALL_PROBE_MARKER=str(marker))
    # Sanitizer builds: the probe is preloaded ahead of the runtime, and the runtime's own SIGSEGV, SIGBUS and
    # SIGABRT handlers stand aside, so a crash ends the worker as it does in a release build.
    environment["ASAN_OPTIONS"] = (environment.get("ASAN_OPTIONS", "") +
                                   ":verify_asan_link_order=0:handle_segv=0:handle_sigbus=0:handle_abort=0")
    return environment


def exec_pickle(marker: Path) -> bytes:
    """A protocol-0 pickle that runs Python source touching `marker` (pickle.loads ignores what follows STOP)."""
    source = PAYLOAD.replace("MARKER", repr(str(marker)))
    return b"cbuiltins\nexec\n(V" + source.encode() + b"\ntR."


# ---- stall -------------------------------------------------------------------------------------------------------

def test_a_walk_of_thousands_of_parts_is_judged_at_once(tmp_path):
    """One STACK_GLOBAL of 2,000 parts took 8 s (every run of parts joined and looked up)."""
    path = tmp_path / "parts.pkl"
    path.write_bytes(cost_inputs.name_parts(2_000))
    started = time.monotonic()
    report = run_scan(path).file()
    assert time.monotonic() - started < 2
    rules = {f["rule"] for f in report["findings"]}
    assert report["verdict"] == "malicious" and {"global.dangerous", "limit.max_name_parts"} <= rules


def test_memoised_long_names_are_judged_once_and_within_the_budget(tmp_path):
    """100 memo-reused globals of 1,000 parts took 100 s with --max-seconds-per-file 2, with no limit finding."""
    path = tmp_path / "memo.pkl"
    path.write_bytes(b"\x80\x04" + cost_inputs.text("os") + cost_inputs.put(0) +
                     cost_inputs.text(".".join(["b"] * 1000)) + cost_inputs.put(1) +
                     b"".join(cost_inputs.get(0) + cost_inputs.get(1) + b"\x930" for _ in range(100)) + b"N.")
    started = time.monotonic()
    report = run_scan("--max-seconds-per-file", "2", path).file()
    assert time.monotonic() - started < 2
    assert report["verdict"] == "malicious"
    assert "limit.max_name_parts" in {f["rule"] for f in report["findings"]}


# ---- kill ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("crash, expected", [("segv", "SIGSEGV"), ("abort", "SIGABRT"), ("bus", "SIGBUS"),
                                             ("kill", "SIGKILL")])
def test_a_worker_that_dies_costs_only_its_file(tmp_path, crash, expected):
    """A parser crash on one file (the probe kills the worker when it maps that file) is that file's report, and
    every other file of the batch is scanned as usual."""
    files = []
    for index in range(4):
        path = tmp_path / f"model{index}.pkl"
        path.write_bytes(pickle.dumps({"layer": list(range(index + 1))}, protocol=4))
        files.append(path)
    completed = subprocess.run([picklewall_binary(), "scan", "-j", "2", "-f", "json", str(tmp_path)],
                               capture_output=True, text=True, timeout=120,
                               env=probe_environment(crash, "model2.pkl", tmp_path / "marker"))
    assert completed.returncode == 1, completed.stderr
    reports = {Path(f["path"]).name: f for f in json.loads(completed.stdout)["files"]}
    assert len(reports) == 4
    hit = reports["model2.pkl"]
    assert hit["verdict"] == "suspicious" and hit["format"] == "not-analysed", hit
    assert expected in hit["findings"][0]["message"], hit
    expected_rule = "limit.max_memory_per_file" if crash == "kill" else "scan.worker-crashed"
    assert hit["findings"][0]["rule"] == expected_rule
    assert all(reports[f"model{i}.pkl"]["verdict"] == "safe" for i in (0, 1, 3))


@pytest.mark.parametrize("round_number", range(3))
def test_a_crash_is_blamed_on_its_file_while_answers_are_queued(tmp_path, round_number):
    """One worker, 60 small files queued in its socket, and a crash half-way: the answers it sent before it died
    are still read, the crash is blamed on the file it was on and no other, and the files queued behind it are
    scanned by the next worker."""
    for index in range(60):
        (tmp_path / f"model{index:02d}.pkl").write_bytes(pickle.dumps({"layer": [index] * (index + 1)}, protocol=4))
    crash = f"model{20 + 10 * round_number:02d}.pkl"
    completed = subprocess.run([picklewall_binary(), "scan", "-j", "1", "--no-hash", "-f", "json", str(tmp_path)],
                               capture_output=True, text=True, timeout=120,
                               env=probe_environment("segv", crash, tmp_path / "marker"))
    assert completed.returncode == 1, completed.stderr
    reports = {Path(f["path"]).name: f for f in json.loads(completed.stdout)["files"]}
    assert len(reports) == 60
    assert reports[crash]["findings"][0]["rule"] == "scan.worker-crashed"
    others = {name: report["verdict"] for name, report in reports.items() if name != crash}
    assert set(others.values()) == {"safe"}, {name: v for name, v in others.items() if v != "safe"}


def test_a_low_descriptor_limit_costs_no_file(tmp_path):
    """Requests queued to workers hold descriptors (and the kernel counts those in flight in sockets against the
    sender's RLIMIT_NOFILE): under a limit of 24, a batch of 300 small files still scans every file."""
    import resource
    for index in range(300):
        (tmp_path / f"model{index:03d}.pkl").write_bytes(pickle.dumps([index], protocol=4))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

    completed = subprocess.run([picklewall_binary(), "scan", "-j", "2", "--no-hash", "-f", "json", str(tmp_path)],
                               capture_output=True, text=True, timeout=120, preexec_fn=low_limit)
    assert completed.returncode == 0, completed.stderr[-2000:]
    verdicts = [f["verdict"] for f in json.loads(completed.stdout)["files"]]
    assert len(verdicts) == 300 and set(verdicts) == {"safe"}


def test_a_worker_that_never_answers_is_stopped_at_the_hard_limit(tmp_path):
    (tmp_path / "hangs.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    (tmp_path / "fine.pkl").write_bytes(pickle.dumps([4, 5, 6]))
    started = time.monotonic()
    completed = subprocess.run([picklewall_binary(), "scan", "--max-seconds-per-file", "1", "-f", "json", str(tmp_path)],
                               capture_output=True, text=True, timeout=120,
                               env=probe_environment("hang", "hangs.pkl", tmp_path / "marker"))
    assert time.monotonic() - started < 30
    reports = {Path(f["path"]).name: f for f in json.loads(completed.stdout)["files"]}
    assert reports["hangs.pkl"]["findings"][0]["rule"] == "limit.max_seconds_per_file"
    assert reports["fine.pkl"]["verdict"] == "safe"
    assert completed.returncode == 1


def mapped_by(pid: int, path: Path) -> bool:
    try:
        return str(path) in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def descendants(pid: int) -> list:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return children + [grandchild for child in children for grandchild in descendants(child)]


@pytest.mark.parametrize("mode", ["workers", "in-process"])
def test_a_file_truncated_while_it_is_mapped_is_reported_not_a_crash(tmp_path, mode):
    """Another process truncates the file while the scan has it mapped (the scanning process is paused there so
    the truncation lands mid-scan). The read past the new end used to raise SIGBUS and kill the command."""
    path = tmp_path / "big.pkl"
    path.write_bytes(cost_inputs.memo_entries(6_000_000))  # about 50 MB: the scan takes a while
    command = [picklewall_binary(), "scan", "-f", "json", "--no-hash", str(path)]
    if mode == "in-process":
        command.insert(2, "--no-sandbox")
    scan = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    holder = None
    while holder is None and time.monotonic() < deadline and scan.poll() is None:
        for pid in [scan.pid] + descendants(scan.pid):
            if mapped_by(pid, path):
                holder = pid
                break
    assert holder is not None, "the scan finished before it could be paused"
    os.kill(holder, signal.SIGSTOP)
    os.truncate(path, 4096)
    os.kill(holder, signal.SIGCONT)
    stdout, stderr = scan.communicate(timeout=120)
    assert scan.returncode == 2, stderr  # the file was not read as one version: an error, not a verdict
    report = json.loads(stdout)["files"][0]
    assert report["verdict"] == "error"
    assert "io.file-changed" in {f["rule"] for f in report["findings"]}, report


# ---- blind ---------------------------------------------------------------------------------------------------------

def test_fifos_and_dangling_and_looping_links_in_a_folder_are_errors(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps([1]))
    os.mkfifo(folder / "pipe.bin")
    (folder / "dangling.pt").symlink_to(folder / "gone.pt")
    (folder / "loop.pt").symlink_to(folder / "loop.pt")
    started = time.monotonic()
    scan = run_scan(folder)
    assert time.monotonic() - started < 10  # the FIFO is not opened for reading (which would wait for a writer)
    assert scan.returncode == 2
    verdicts = {Path(f["path"]).name: (f["verdict"], " ".join(x["message"] for x in f["findings"]))
                for f in scan.report["files"]}
    assert verdicts["model.pkl"][0] == "safe"
    assert verdicts["pipe.bin"][0] == "error" and "FIFO" in verdicts["pipe.bin"][1]
    assert verdicts["dangling.pt"][0] == "error" and "dangling" in verdicts["dangling.pt"][1]
    assert verdicts["loop.pt"][0] == "error" and "loop" in verdicts["loop.pt"][1]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="makes a directory unreadable to another user, which needs root")
def test_an_unreadable_directory_is_an_error_not_a_silent_skip():
    """`scan .` over an unreadable models/ holding evil.pkl printed "1 safe" and exited 0."""
    import tempfile
    tmp_path = Path(tempfile.mkdtemp(prefix="picklewall-unreadable-", dir="/tmp"))  # traversable by the other user
    tmp_path.chmod(0o755)
    (tmp_path / "readme.pkl").write_bytes(pickle.dumps("hello"))
    models = tmp_path / "models"
    models.mkdir()
    (models / "evil.pkl").write_bytes(exec_pickle(tmp_path / "marker"))
    models.chmod(0o000)
    binary = Path(picklewall_binary()).resolve()
    if not all(os.access(parent, os.X_OK, effective_ids=False) and parent.stat().st_mode & 0o001
               for parent in binary.parents):
        pytest.skip(f"{binary} is not reachable by another user")
    completed = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(binary), "scan",
                                "-f", "json", str(tmp_path)], capture_output=True, text=True, timeout=60)
    models.chmod(0o755)
    shutil.rmtree(tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    reports = {Path(f["path"]).name: f for f in json.loads(completed.stdout)["files"]}
    assert reports["models"]["verdict"] == "error"
    assert "cannot list directory" in reports["models"]["findings"][0]["message"]


def test_the_walk_limit_is_reported_not_a_silent_stop(tmp_path):
    for index in range(5):
        (tmp_path / f"m{index}.pkl").write_bytes(pickle.dumps(index))
    scan = run_scan("--max-files", "3", tmp_path)
    assert scan.returncode == 2
    rules = [f["findings"][0]["rule"] if f["findings"] else None for f in scan.report["files"]]
    assert "limit.max_files" in rules


def test_a_file_in_no_model_format_is_not_called_safe(tmp_path):
    (tmp_path / "README.md").write_text("# a model card\n")
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"w": [1.0]}))
    scan = run_scan(tmp_path)
    verdicts = {Path(f["path"]).name: f["verdict"] for f in scan.report["files"]}
    assert verdicts == {"README.md": "not-a-model", "empty.bin": "not-a-model", "model.pkl": "safe"}
    assert scan.returncode == 0  # nothing a loader would run: no reason to fail a hook
    text = subprocess.run([picklewall_binary(), "scan", str(tmp_path / "README.md")], capture_output=True, text=True)
    assert "NOT A MODEL" in text.stdout and "SAFE" not in text.stdout


@pytest.mark.parametrize("disguise", ["tar", "gguf"])
def test_a_pickle_disguised_as_another_format_is_judged_as_the_pickle_it_also_is(tmp_path, disguise):
    """pickle.loads ignores magic numbers: a protocol-0 exec pickle with `ustar` at offset 257 was judged only as
    a broken tar, and one that starts with GGUF (BINFLOAT eats the next 8 bytes) only as a bad GGUF header."""
    marker = tmp_path / "marker"
    payload = exec_pickle(marker)
    if disguise == "tar":
        data = payload.ljust(257, b" ") + b"ustar\x0000" + b"\x00" * 250
    else:
        data = b"GGUF\x03\x00\x00\x00\x00" + b"0" + payload  # BINFLOAT 8 bytes, POP, then the pickle
    path = tmp_path / f"disguised.{disguise}"
    path.write_bytes(data)
    child = load_in_child("pickle", path, marker)
    assert marker.exists(), child.stdout + child.stderr  # live: pickle.load runs it
    report = run_scan(path).file()
    assert report["verdict"] == "malicious", report
    rules = {f["rule"] for f in report["findings"]}
    assert "polyglot.pickle" in rules and "global.dangerous" in rules


# ---- convert -------------------------------------------------------------------------------------------------------

def hf_folder(folder: Path, training_args: bytes) -> Path:
    import torch
    folder.mkdir()
    torch.save({"weight": torch.ones(2, 2)}, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps({"architectures": ["Thing"]}))
    (folder / "training_args.bin").write_bytes(training_args)
    torch.save({"state": {0: {"exp_avg": torch.zeros(2, 2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
               folder / "optimizer.pt")
    return folder


def test_a_converted_folder_holds_no_pickle(tmp_path):
    """A folder conversion copied training_args.bin and optimizer.pt verbatim: an infected copy ended up in the
    "safetensors" output with exit 0."""
    marker = tmp_path / "marker"
    source = hf_folder(tmp_path / "model", exec_pickle(marker))
    out = tmp_path / "converted"
    completed = subprocess.run([picklewall_binary(), "convert", str(source), str(out)], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "model.safetensors", "optimizer.safetensors"], names
    assert "left out training_args.bin" in completed.stdout and "malicious" in completed.stdout
    scan = run_scan(out)
    assert {f["format"] for f in scan.report["files"]} <= {"safetensors", "unknown"}
    assert all(f["verdict"] in ("safe", "not-a-model") for f in scan.report["files"])
    assert not marker.exists()


def test_a_full_disk_during_a_folder_conversion_leaves_nothing(tmp_path):
    """The output folder is built aside and renamed into place whole: a write that fails (here the file size
    limit, as a full disk would) leaves neither a partial output folder nor the staging folder."""
    import torch
    source = hf_folder(tmp_path / "model", pickle.dumps({"lr": 0.1}))
    torch.save({"big": torch.zeros(2_000_000)}, source / "pytorch_model.bin")
    for mode in ([], ["--no-sandbox"]):
        out = tmp_path / ("converted" + "-".join(mode))
        completed = subprocess.run(["prlimit", "--fsize=1000000", picklewall_binary(), "convert", *mode, str(source),
                                    str(out)], capture_output=True, text=True, timeout=120,
                                   preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
        assert completed.returncode == 2, (mode, completed.stdout, completed.stderr)
        assert not out.exists(), mode
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], mode


def test_convert_runs_in_the_sandbox(tmp_path):
    """A converter taken over while it reads the checkpoint is stopped; no output appears."""
    import torch
    torch.save({"w": torch.ones(3)}, tmp_path / "model.pt")
    marker = tmp_path / "marker"
    completed = subprocess.run([picklewall_binary(), "convert", str(tmp_path / "model.pt"), str(tmp_path / "out.safetensors")],
                               capture_output=True, text=True, timeout=60,
                               env=probe_environment("exec", "model.pt", marker))
    assert completed.returncode == 2 and "the sandbox stopped a forbidden system call (execve)" in completed.stderr
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


# ---- interrupt -----------------------------------------------------------------------------------------------------

def test_ctrl_c_stops_a_scan_within_a_second_and_leaves_no_output(tmp_path):
    path = tmp_path / "slow.pkl"
    path.write_bytes(cost_inputs.distinct_globals(600_000))  # seconds of scanning, inside every limit
    report = tmp_path / "report.json"
    scan = subprocess.Popen([picklewall_binary(), "scan", "--no-hash", "-o", str(report), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert scan.poll() is None, "the scan ended before it could be interrupted"
    scan.send_signal(signal.SIGINT)
    started = time.monotonic()
    scan.communicate(timeout=30)
    assert time.monotonic() - started < 1.0
    assert scan.returncode == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.pkl"]  # no report, no temporary file

"""Soak: thousands of generated hostile files in one batch, scanned by the command in parallel in its sandboxed
workers, once as they are and once with faults injected while they are scanned. In the sanitizer pass the command is the ASan+UBSan build with LeakSanitizer on, so a crash, a memory
error, undefined behaviour or a leak anywhere in the run fails it."""
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

from fixtures.soak import soak_files
from harness import picklewall_binary, run_scan

FILES = int(os.environ.get("PICKLEWALL_SOAK_FILES", "10000"))
SEED = int(os.environ.get("PICKLEWALL_SOAK_SEED", "20261126"))


def test_ten_thousand_hostile_files_scan_without_crash_or_leak(tmp_path):
    files = soak_files(SEED, FILES)
    for index, data in enumerate(files):
        (tmp_path / f"soak_{index:05d}").write_bytes(data)
    scan = run_scan("-j", "2", tmp_path, timeout=2400)
    assert scan.returncode in (0, 1), scan.stderr[-4000:]
    assert "Sanitizer" not in scan.stderr and "runtime error" not in scan.stderr, scan.stderr[-4000:]
    verdicts = [file["verdict"] for file in scan.report["files"]]
    assert len(verdicts) == FILES
    assert "error" not in verdicts  # every file was read and judged


FAULT_FILES = int(os.environ.get("PICKLEWALL_SOAK_FAULT_FILES", "2000"))
FAULT_ROUNDS = 40


def workers_of(pid: int) -> list:
    """The supervisor's running worker processes: its children that run `picklewall __worker` and have entered
    the sandbox (so they are past starting: a worker killed while it starts is a failed start, and a program
    that never starts stops a batch by design). Found by each process's parent in /proc/PID/stat, since
    /proc/PID/task/TID/children needs a kernel option not every machine has."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The command name in parentheses may hold spaces and parentheses: the fields follow the last ')'.
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
            if (parent == pid and b"__worker" in (entry / "cmdline").read_bytes() and
                    "Seccomp:\t2" in (entry / "status").read_text()):
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def test_soak_with_truncation_and_signal_faults_injected(tmp_path):
    """While a batch of hostile files is scanned, files are truncated under it and its workers are killed with
    SIGSEGV, SIGBUS, SIGABRT and SIGKILL at random: every file is still in the report, the supervisor never
    crashes, and (in the sanitizer pass) nothing leaks or trips a sanitizer."""
    rng = random.Random(SEED)
    # Sanitizer builds: the injected SIGSEGV and SIGBUS are not memory errors, so the runtime's own handlers
    # (which would report them as such) stand aside for them; leaks and real errors are still caught.
    environment = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                       ":handle_segv=0:handle_sigbus=0:handle_abort=0")
    truncated = signalled = 0
    rules = set()
    # A release build scans the batch in a fraction of a second, so the batch is scanned again (fresh files each
    # round) until enough faults have landed; a bounded number of rounds.
    for round_number in range(FAULT_ROUNDS):
        if truncated > 100 and signalled > 5 and "scan.worker-crashed" in rules:
            break
        folder = tmp_path / f"round_{round_number}"
        folder.mkdir()
        paths = []
        for index, data in enumerate(soak_files(SEED + 1 + round_number, FAULT_FILES)):
            path = folder / f"fault_{index:05d}"
            path.write_bytes(data)
            paths.append(path)
        scan = subprocess.Popen([picklewall_binary(), "scan", "-j", "2", "-f", "json", str(folder)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        stop = threading.Event()

        def inject():
            nonlocal truncated, signalled
            # Faults start once the batch runs (its first worker has started): a program that never starts at
            # all stops a batch, by design, and that is not what this measures.
            while not stop.is_set() and not workers_of(scan.pid):
                time.sleep(0.002)
            while not stop.is_set():
                victim = rng.choice(paths)
                try:
                    os.truncate(victim, rng.randrange(max(1, victim.stat().st_size)))
                    truncated += 1
                except OSError:
                    pass
                workers = workers_of(scan.pid)
                if workers and rng.random() < 0.3:
                    try:
                        os.kill(rng.choice(workers),
                                rng.choice([signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGKILL]))
                        signalled += 1
                    except OSError:
                        pass
                time.sleep(rng.uniform(0.0005, 0.003))

        injector = threading.Thread(target=inject, daemon=True)
        injector.start()
        stdout, stderr = scan.communicate(timeout=2400)
        stop.set()
        injector.join(timeout=10)
        assert scan.returncode in (1, 2), stderr[-4000:]
        assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr[-4000:]
        assert stdout, stderr[-4000:]
        report = json.loads(stdout)  # the supervisor finished and wrote a whole report
        names = {Path(file["path"]).name for file in report["files"]}
        assert names == {path.name for path in paths}
        rules |= {finding["rule"] for file in report["files"] for finding in file["findings"]}
    assert truncated > 100 and signalled > 5, (truncated, signalled)
    assert "scan.worker-crashed" in rules  # the signals landed on workers busy with a file

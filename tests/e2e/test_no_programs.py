"""No program is ever started. libarchive runs some filters (lrzip, lzop, grzip, and any whose library it was built
without) as external programs; picklewall gives it only the filters it decodes in-process. For every read filter
and format libarchive knows, a file made for it is scanned under strace, in this process (--no-sandbox) and in
sandboxed workers: the only program ever executed is picklewall itself (the command, and its own workers), and no
process is forked, vforked, cloned (other than threads) or spawned by anything else."""
import json
import os
import re
import shutil
import subprocess

import pytest

from fixtures import libarchive_inputs
from harness import picklewall_binary

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is installed by scripts/install_deps.sh")

CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(execve|execveat|fork|vfork|clone|clone3)\((.*)$")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("libarchive")
    return {**libarchive_inputs.filters(folder / "filters"), **libarchive_inputs.formats(folder / "formats")}


def traced_scan(path, *arguments):
    """The scan's report and every process-creating system call it (and its children) made."""
    log = path.parent / (path.name + ".strace")
    # LeakSanitizer (sanitizer builds) cannot stop the world under ptrace: strace and it do not mix.
    environment = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    completed = subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", "trace=execve,execveat,fork,vfork,clone,clone3",
                                picklewall_binary(), "scan", "-f", "json", *arguments, str(path)],
                               capture_output=True, text=True, timeout=120, env=environment)
    calls = []
    for line in log.read_text().splitlines():
        match = CALL.match(line)
        if match:
            calls.append((match.group(1), match.group(2)))
    log.unlink()
    return completed, calls


def program_of(arguments: str) -> str:
    return arguments.split(",", 1)[0].strip('"')


def test_inputs_cover_every_filter_and_format(inputs):
    filters = {"bzip2", "compress", "gzip", "grzip", "lrzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz", "zstd"}
    formats = {"7zip", "ar", "cab", "cpio", "empty", "iso9660", "lha", "mtree", "rar", "rar5", "raw", "tar", "warc",
               "xar", "zip"}
    assert filters | formats <= set(inputs), sorted(filters | formats - set(inputs))
    assert all(f"{name} in gzip" in inputs for name in filters | formats)


@pytest.mark.parametrize("mode", ["in-process", "workers"])
def test_scanning_starts_no_program(inputs, mode):
    binary = picklewall_binary()
    for name, path in inputs.items():
        completed, calls = traced_scan(path, *(["--no-sandbox"] if mode == "in-process" else []))
        assert completed.returncode in (0, 1), (name, completed.returncode, completed.stderr)
        report = json.loads(completed.stdout)["files"][0]
        assert "scan.sandbox-violation" not in {f["rule"] for f in report["findings"]}, (name, report)
        executed = [program_of(arguments) for call, arguments in calls if call.startswith("execve")]
        # The command itself, then (with workers) its own workers: never anything else, not even an attempt.
        assert executed and all(program == binary for program in executed), (name, executed)
        if mode == "in-process":
            assert len(executed) == 1, (name, executed)
        for call, arguments in calls:
            if call in ("fork", "vfork"):
                pytest.fail(f"{name}: {call}({arguments}")
            if call.startswith("clone") and "CLONE_THREAD" not in arguments:
                # posix_spawn of a worker: only in worker mode, and each one execs picklewall (checked above)
                assert mode == "workers" and "CLONE_VFORK" in arguments, (name, call, arguments)


def test_the_reported_probe_a_gzip_wrapping_lrzip_is_judged_without_a_program(inputs):
    """Before the fix, this file made libarchive try execve("lrzip") on every PATH entry, and the sandboxed
    command died of SIGSYS with no report."""
    completed, calls = traced_scan(inputs["lrzip in gzip"])
    assert completed.returncode in (0, 1), completed.stderr
    report = json.loads(completed.stdout)["files"][0]
    assert report["verdict"] in ("not-a-model", "safe", "suspicious"), report
    assert not [arguments for call, arguments in calls if call.startswith("execve") and "lrzip" in arguments]

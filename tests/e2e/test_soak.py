"""Soak: thousands of generated hostile files in one batch, scanned by the command in parallel and inside its
sandbox. In the sanitizer pass the command is the ASan+UBSan build with LeakSanitizer on, so a crash, a memory
error, undefined behaviour or a leak anywhere in the run fails it."""
import os

from fixtures.soak import soak_files
from harness import run_scan

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

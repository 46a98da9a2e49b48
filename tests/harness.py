"""Shared test helpers: run the real picklewall binary, and the real loaders in child processes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def picklewall_binary() -> str:
    binary = os.environ.get("PICKLEWALL_BIN", str(ROOT / "build" / "picklewall"))
    if not Path(binary).is_file():
        pytest.exit(f"picklewall binary not found at {binary}; build first or set PICKLEWALL_BIN", returncode=2)
    return binary


class Scan:
    def __init__(self, completed: subprocess.CompletedProcess):
        self.returncode = completed.returncode
        self.stderr = completed.stderr
        self.report = json.loads(completed.stdout) if completed.stdout.strip() else None

    def file(self, index: int = 0) -> dict:
        return self.report["files"][index]

    def by_path(self) -> dict:
        return {f["path"]: f for f in self.report["files"]}


def run_scan(*arguments, timeout: float = 300) -> Scan:
    completed = subprocess.run([picklewall_binary(), "scan", "--format", "json", *map(str, arguments)],
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode in (0, 1, 2), f"picklewall crashed: rc={completed.returncode} {completed.stderr}"
    return Scan(completed)


LOADERS = {
    "pickle": "import pickle\nwith open(PATH, 'rb') as f:\n    pickle.load(f)",
    "pickle-twice": "import pickle\nwith open(PATH, 'rb') as f:\n    pickle.load(f)\n    pickle.load(f)",
    "torch": "import torch\ntorch.load(PATH, weights_only=False)",
    "numpy": "import numpy\nnumpy.load(PATH, allow_pickle=True)",
    "numpy-npz": "import numpy\nwith numpy.load(PATH, allow_pickle=True) as archive:\n    [archive[key] for key in archive.files]",
    "joblib": "import joblib\njoblib.load(PATH)",
    # keep the loaded object in OBJ for a check that the model was tampered with, or that uses it
    "pickle-keep": "import pickle\nwith open(PATH, 'rb') as f:\n    OBJ = pickle.load(f)",
    "torch-keep": "import torch\nOBJ = torch.load(PATH, weights_only=False)",
    # what a pipeline that unpacks a 7z-wrapped PyTorch archive does with its data.pkl (nullifAI)
    "7z-pickle": ("import pickle, subprocess\n"
                  "listing = subprocess.run(['7z', 'e', '-so', PATH, '-r', 'data.pkl'], capture_output=True, check=True)\n"
                  "pickle.loads(listing.stdout)"),
}


def load_in_child(loader: str, path: Path, marker: Path, setup: str = "", check: str = "", python: str = sys.executable,
                  prelude: str = "") -> subprocess.CompletedProcess:
    """Loads `path` with a real loader in a child process. Errors raised after the payload ran are expected.
    `prelude` runs first (the package tests switch picklewall's guard on there)."""
    body = LOADERS[loader]
    after = "" if check in ("", "__EXIT__") else check
    code = (f"PATH = {str(path)!r}\nMARKER = {str(marker)!r}\n{prelude}\n{setup}\n"
            f"try:\n" + "".join(f"    {line}\n" for line in body.splitlines()) +
            f"except Exception as error:\n    print('loader raised:', type(error).__name__, error)\n{after}\n")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(path.parent))


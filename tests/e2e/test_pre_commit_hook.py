"""The pre-commit hook as a repository uses it: pre-commit installs picklewall from this checkout into its own
environment (pip install . of the repository) and runs it on the staged files of a temporary git repository."""
import os
import shutil
import subprocess
import sys

import pytest

from harness import ROOT

pytestmark = pytest.mark.package


def git(repo, *arguments):
    subprocess.run(["git", "-C", str(repo), *arguments], check=True, capture_output=True)


def test_pre_commit_blocks_a_malicious_model_and_passes_a_benign_one(tmp_path):
    import torch
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "user.name", "test")
    torch.save({"weight": torch.ones(3)}, repo / "model.pt")
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", "model.pt", "train.py")
    environment = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))

    def try_hook():
        # try-repo runs the hooks of a repository at its working-tree state (uncommitted changes included).
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "picklewall"], cwd=repo,
                              capture_output=True, text=True, env=environment, timeout=1800)

    passed = try_hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "picklewall" in passed.stdout and "Passed" in passed.stdout
    marker = tmp_path / "payload-ran"
    (repo / "evil.pkl").write_bytes(b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little")
                                    + f"touch {marker}".encode() + b"\x85R.")
    git(repo, "add", "evil.pkl")
    blocked = try_hook()
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "Failed" in blocked.stdout and "MALICIOUS" in blocked.stdout and "evil.pkl" in blocked.stdout
    assert not marker.exists()
    shutil.rmtree(tmp_path / "pre-commit-home", ignore_errors=True)

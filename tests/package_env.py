"""The Python package as a user gets it: built from this checkout by pip (scikit-build-core, nanobind, from
PyPI), installed into fresh virtual environments, and driven through child processes of their interpreters."""
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT


@dataclass
class PackageEnv:
    venv: Path    # a fresh venv that also sees this machine's torch, numpy, joblib and transformers
    bare: Path    # a fresh venv with nothing but the package
    wheel: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def command(self) -> str:
        return str(self.venv / "bin" / "picklewall")

    def run(self, code: str, *, cwd=None, check: bool = True, python: str = "", timeout: float = 600):
        """Runs `code` in the venv's interpreter; returns the completed process."""
        completed = subprocess.run([python or self.python, "-c", textwrap.dedent(code)], capture_output=True,
                                   text=True, cwd=cwd, timeout=timeout)
        if check:
            assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed

    def json(self, code: str, **kwargs):
        """Runs `code`, which prints one JSON document as its last line of output."""
        return json.loads(self.run(code, **kwargs).stdout.strip().splitlines()[-1])


def pip(python: str, *arguments: str) -> None:
    completed = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments],
                               capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def create_venv(folder: Path, system_site_packages: bool) -> Path:
    arguments = [sys.executable, "-m", "venv", str(folder)]
    if system_site_packages:
        arguments.insert(3, "--system-site-packages")
    subprocess.run(arguments, check=True, timeout=300)
    return folder


def build_package(folder: Path) -> PackageEnv:
    """One wheel built from the checkout exactly as `pip install .` builds it (PEP 517, isolated build
    environment), installed into two new venvs."""
    wheelhouse = folder / "wheelhouse"
    pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(wheelhouse), str(ROOT))
    wheel = next(wheelhouse.glob("picklewall-*.whl"))
    venv = create_venv(folder / "venv", system_site_packages=True)
    bare = create_venv(folder / "bare", system_site_packages=False)
    for environment in (venv, bare):
        pip(str(environment / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel))
    return PackageEnv(venv, bare, wheel)

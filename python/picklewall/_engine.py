"""Building the native engine from the options every entry point takes: policy files and trust policy names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]

_TRUST_FOLDER = Path(__file__).resolve().parent / "policies" / "trust"


def trust_policies() -> List[str]:
    """Names of the opt-in trust policies that ship with the package (pass them as ``trust=[...]``)."""
    return sorted(p.stem for p in _TRUST_FOLDER.glob("*.toml"))


def policy_files(policies: Iterable[PathLike] = (), trust: Iterable[str] = ()) -> List[str]:
    """Trust policies by name, then the caller's policy files (later files win for the same global)."""
    if isinstance(policies, (str, os.PathLike)) or isinstance(trust, str):
        raise TypeError("policies and trust take a list (one entry is still a list: trust=['scikit-learn'])")
    files = []
    for name in trust:
        path = _TRUST_FOLDER / f"{name}.toml"
        if not path.is_file():
            raise ValueError(f"no trust policy named {name!r}; the package has: {', '.join(trust_policies())}")
        files.append(str(path))
    files.extend(os.fspath(p) for p in policies)
    return files


def engine(policies: Iterable[PathLike] = (), trust: Iterable[str] = (), strict: bool = False,
           hash_files: bool = True) -> "_native.Engine":
    return _native.Engine(policy_files(policies, trust), strict, hash_files)

"""Building the native engine from the options every entry point takes: policy files, trust policy names, limits
and where the engine runs.

Engines are kept and reused for the same options: each owns sandboxed worker processes (started on first use),
so a program that scans or guards many loads pays for starting a worker once, not on every call.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, Literal, Tuple, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]
Isolation = Literal["process", "in-process"]

# How many differently configured engines (each with its idle workers) are kept.
_KEPT_ENGINES = 8
_engines: "OrderedDict[Tuple[object, ...], _native.Engine]" = OrderedDict()
_engines_lock = threading.Lock()


@atexit.register
def _release_engines() -> None:
    """Engines (and their idle workers) end with the interpreter, before the extension module goes away."""
    with _engines_lock:
        _engines.clear()


def trust_policies() -> List[str]:
    """Names of the opt-in trust policies compiled into picklewall (pass them as ``trust=[...]``, or ``--trust``
    to the command)."""
    return list(_native.trust_policy_names())


def limit_names() -> List[str]:
    """The limits every entry point takes as keyword arguments (``max_seconds_per_file=10``, ...), the same as
    the command's ``--max-*`` flags."""
    return list(_native.limit_names())


def worker_program() -> str:
    """The program sandboxed workers run: the one shipped in the package (``PICKLEWALL_WORKER`` overrides it)."""
    return os.environ.get("PICKLEWALL_WORKER") or str(Path(__file__).with_name("picklewall-worker"))


def check_limits(limits: Dict[str, float]) -> Dict[str, float]:
    known = set(_native.limit_names())
    for name, value in limits.items():
        if name not in known:
            raise TypeError(f"unexpected keyword argument {name!r} (the limits are: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} takes a number, not {type(value).__name__}")
    return {name: float(value) for name, value in limits.items()}


def _policy_key(paths: List[str]) -> Tuple[object, ...]:
    """A policy file is re-read when it changed (size, mtime, inode): the engine judges by what it read."""
    key: List[object] = []
    for path in paths:
        try:
            info = os.stat(path)
            key.append((path, info.st_size, info.st_mtime_ns, info.st_ino))
        except OSError:
            key.append((path, None))  # the engine reports it missing
    return tuple(key)


def engine(policies: Iterable[PathLike] = (), trust: Iterable[str] = (), strict: bool = False,
           hash_files: bool = True, limits: Dict[str, float] = {}, isolation: Isolation = "process"
           ) -> "_native.Engine":
    """The built-in policy, then the named trust policies, then the caller's policy files (later files win for
    the same global); inputs parsed in sandboxed worker processes unless ``isolation="in-process"``."""
    if isinstance(policies, (str, os.PathLike)) or isinstance(trust, str):
        raise TypeError("policies and trust take a list (one entry is still a list: trust=['scikit-learn'])")
    if isolation not in ("process", "in-process"):
        raise ValueError(f"isolation must be 'process' or 'in-process', not {isolation!r}")
    paths = [os.fspath(p) for p in policies]
    names = list(trust)
    checked = check_limits(dict(limits))
    key = (_policy_key(paths), tuple(names), strict, hash_files, tuple(sorted(checked.items())), isolation)
    with _engines_lock:
        if key in _engines:
            _engines.move_to_end(key)
            return _engines[key]
    # An unknown trust name is the engine's InvalidArgumentError (a ValueError) listing the names there are.
    made = _native.Engine(paths, names, strict, hash_files, checked, isolation == "in-process", worker_program())
    with _engines_lock:
        _engines[key] = made
        while len(_engines) > _KEPT_ENGINES:
            _engines.popitem(last=False)
    return made

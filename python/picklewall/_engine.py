"""Building the native engine from the options every entry point takes: policy files and trust policy names."""

from __future__ import annotations

import os
from typing import Iterable, List, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]


def trust_policies() -> List[str]:
    """Names of the opt-in trust policies compiled into picklewall (pass them as ``trust=[...]``, or ``--trust``
    to the command)."""
    return list(_native.trust_policy_names())


def engine(policies: Iterable[PathLike] = (), trust: Iterable[str] = (), strict: bool = False,
           hash_files: bool = True) -> "_native.Engine":
    """The built-in policy, then the named trust policies, then the caller's policy files (later files win for
    the same global)."""
    if isinstance(policies, (str, os.PathLike)) or isinstance(trust, str):
        raise TypeError("policies and trust take a list (one entry is still a list: trust=['scikit-learn'])")
    # An unknown trust name is the engine's InvalidArgumentError (a ValueError) listing the names there are.
    return _native.Engine([os.fspath(p) for p in policies], list(trust), strict, hash_files)

"""picklewall.guard: makes torch.load, pickle.load/loads/Unpickler (and their pure-Python twins), numpy.load,
joblib.load, dill and cloudpickle scan before they load, and holds every unpickler in the process to the policy.

Two layers. First, while a guard is active, those functions scan their input with the static engine first and
raise :class:`UnsafeModelError` (nothing of the file has run) when the verdict is one the guard blocks;
otherwise they load exactly as before. Modules imported after the guard is switched on are patched as they are
imported. Second, an audit hook (``sys.addaudithook``) sees every ``pickle.find_class`` event, which both the C
unpickler and ``pickle.py`` raise before they import anything: while a guard is active it refuses any global the
guard's policy does not allow, whoever unpickles (a reference taken before the guard, ``pickle._loads``,
``_pickle.Unpickler``, dill, cloudpickle, torch's own unpickler, an ``Unpickler`` subclass defined earlier). That
covers every unpickling in the process while the guard is on, not only model loads.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
import threading
from types import ModuleType, TracebackType
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type

from ._api import read_stream, stream_name
from ._engine import Isolation, PathLike, engine
from ._report import Report, Verdict
from .errors import UnsafeModelError

# module -> functions guarded there, and how each names its input: (position, keyword or None).
_GUARDED: Dict[str, Dict[str, Tuple[int, Optional[str]]]] = {
    "pickle": {"load": (0, None), "loads": (0, None), "_load": (0, None), "_loads": (0, None)},
    "_pickle": {"load": (0, None), "loads": (0, None)},
    "torch": {"load": (0, "f")},
    "torch.serialization": {"load": (0, "f")},
    "numpy": {"load": (0, "file")},
    "joblib": {"load": (0, "filename")},
    "dill": {"load": (0, "file"), "loads": (0, "str")},
    "cloudpickle": {"load": (0, None), "loads": (0, None)},
}
# classes replaced by a subclass whose load() scans first: module -> class names
_GUARDED_CLASSES: Dict[str, Tuple[str, ...]] = {"pickle": ("Unpickler", "_Unpickler"), "_pickle": ("Unpickler",),
                                                "dill": ("Unpickler",)}
_TOP_LEVEL = {name.split(".")[0] for name in _GUARDED} | set(_GUARDED_CLASSES)

_lock = threading.RLock()
_active: List["Guard"] = []
_originals: Dict[Tuple[str, str], Callable[..., Any]] = {}
_state = threading.local()  # .depth > 0 while a guarded loader runs: its own nested loads are not re-scanned


class Guard:
    """Scan-before-load for the common model loaders. A context manager, or a switch (:meth:`enable`).

    ``block`` is the lowest verdict refused: ``"suspicious"`` (default: anything not shown to be data) or
    ``"malicious"``. ``policies``, ``trust`` and ``strict`` are as for :func:`picklewall.scan`.
    """

    def __init__(self, *, block: str = "suspicious", policies: Iterable[PathLike] = (), trust: Iterable[str] = (),
                 strict: bool = False, isolation: Isolation = "process", **limits: float) -> None:
        if block not in ("suspicious", "malicious"):
            raise ValueError(f"block must be 'suspicious' or 'malicious', not {block!r}")
        self.block = Verdict(block)
        self._engine = engine(policies, trust, strict, False, limits, isolation)
        self._globals: Dict[Tuple[str, str], Optional[str]] = {}  # (module, name) -> why it is refused, or None

    @property
    def active(self) -> bool:
        with _lock:
            return self in _active

    def enable(self) -> "Guard":
        """Switches the guard on until :meth:`disable` (or the end of a ``with`` block)."""
        with _lock:
            if self in _active:
                return self
            _active.append(self)
            if len(_active) == 1:
                _install()
        return self

    def disable(self) -> None:
        with _lock:
            if self not in _active:
                return
            _active.remove(self)
            if not _active:
                _uninstall()

    def __enter__(self) -> "Guard":
        return self.enable()

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.disable()

    def check(self, report: Report, what: str) -> None:
        """Raises :class:`UnsafeModelError` when the report's verdict is one this guard blocks."""
        verdict = report.verdict
        blocked = verdict.rank >= self.block.rank
        if verdict is Verdict.ERROR and self.block is Verdict.MALICIOUS:
            blocked = False  # could not be read: the loader will say so itself
        if not blocked:
            return
        shown = [str(f) for f in report.findings if f.severity.value != "info"][:5]
        lines = "".join(f"\n  {line}" for line in shown)
        raise UnsafeModelError(f"picklewall blocked {what}: the input is {verdict.value}{lines}", report)

    def check_global(self, module: str, name: str) -> None:
        """Raises :class:`UnsafeModelError` when an unpickler, while this guard decides, resolves a global its
        policy does not allow (the audit hook calls this for every ``pickle.find_class``)."""
        key = (module, name)
        refused = self._globals.get(key, "") if key in self._globals else self._judge(module, name)
        if refused:
            raise UnsafeModelError(f"picklewall blocked an unpickler importing {module}.{name}: {refused}")

    def _judge(self, module: str, name: str) -> Optional[str]:
        best, called, rule, reason = self._engine.judge_global(module, name)
        if self.block is Verdict.SUSPICIOUS:
            refused = None if best == "info" else f"{reason} [{rule}]"
        else:
            refused = f"{reason} [{rule}]" if called == "malicious" and best != "info" else None
        if len(self._globals) < 100_000:
            self._globals[(module, name)] = refused
        return refused

    def scan_input(self, source: Any, what: str) -> Any:
        """Scans a loader's input and returns what the loader should read instead (a stream that had to be
        consumed is replaced by a copy of its bytes)."""
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not os.path.exists(path):
                return source  # the loader raises its own FileNotFoundError
            self.check(Report._from_native(self._engine.scan_paths([path])), f"{what}({path!r})")
            return source
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.check(Report._from_native([self._engine.scan_bytes(bytes(source), "<bytes>")]), f"{what}(<bytes>)")
            return source
        if hasattr(source, "read"):
            name = stream_name(source)
            seekable = bool(getattr(source, "seekable", lambda: False)())
            data = read_stream(source) if seekable else source.read()
            self.check(Report._from_native([self._engine.scan_bytes(bytes(data), name)]), f"{what}({name})")
            return source if seekable else io.BytesIO(data)
        raise UnsafeModelError(f"picklewall blocked {what}: it cannot check a {type(source).__name__} input")


def guard(*, block: str = "suspicious", policies: Iterable[PathLike] = (), trust: Iterable[str] = (),
          strict: bool = False, isolation: Isolation = "process", **limits: float) -> Guard:
    """A :class:`Guard`: ``with picklewall.guard(): ...`` for a block, ``picklewall.guard().enable()`` for the
    rest of the program. Scans run in sandboxed worker processes (``isolation="in-process"`` opts out); limits
    are keyword arguments as for :func:`picklewall.scan`."""
    return Guard(block=block, policies=policies, trust=trust, strict=strict, isolation=isolation, **limits)


def _wrap(module_name: str, function_name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    position, keyword = _GUARDED[module_name][function_name]
    what = f"{module_name}.{function_name}"

    def guarded(*args: Any, **kwargs: Any) -> Any:
        current = _current_guard()
        if current is None:
            return original(*args, **kwargs)
        if len(args) > position:
            args = args[:position] + (current.scan_input(args[position], what),) + args[position + 1:]
        elif keyword is not None and keyword in kwargs:
            kwargs[keyword] = current.scan_input(kwargs[keyword], what)
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            return original(*args, **kwargs)
        finally:
            _state.depth -= 1

    guarded.__name__ = getattr(original, "__name__", function_name)
    guarded.__qualname__ = getattr(original, "__qualname__", function_name)
    guarded.__doc__ = getattr(original, "__doc__", None)
    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    guarded._picklewall_guarded = True  # type: ignore[attr-defined]
    return guarded


def _current_guard() -> Optional[Guard]:
    """The guard that decides a load on this thread now, or None (no guard, or inside a guarded load)."""
    with _lock:
        current = _active[-1] if _active else None
    return None if getattr(_state, "depth", 0) > 0 else current


def _audit(event: str, args: Tuple[Any, ...]) -> None:
    """Every ``pickle.find_class`` in the process, from any unpickler: held to the innermost active guard's
    policy, inside guarded loads too (a scanned file's globals all pass; what the scan never saw does not)."""
    if event != "pickle.find_class" or not _active:
        return
    current = _active[-1] if _active else None
    if current is None or len(args) != 2:
        return
    module, name = args
    if isinstance(module, str) and isinstance(name, str):
        current.check_global(module, name)


_audit_installed = False


def _install_audit_hook() -> None:
    """Audit hooks cannot be removed: one is added on the first guard and does nothing while none is active."""
    global _audit_installed
    if not _audit_installed:
        sys.addaudithook(_audit)
        _audit_installed = True


def _guarded_unpickler(original: Type[Any]) -> Type[Any]:
    """pickle.Unpickler whose load() scans the rest of its file first. A file that cannot seek is refused:
    reading it to scan would consume what the unpickler has to read."""

    class Unpickler(original):  # type: ignore[misc, valid-type]
        def __init__(self, file: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(file, *args, **kwargs)
            self._picklewall_file = file

        def load(self) -> Any:
            current = _current_guard()
            if current is None:
                return super().load()
            file = self._picklewall_file
            if not bool(getattr(file, "seekable", lambda: False)()):
                raise UnsafeModelError("picklewall blocked pickle.Unpickler.load: its file cannot seek, so it cannot "
                                       "be scanned before the load reads it")
            current.scan_input(file, "pickle.Unpickler.load")
            _state.depth = getattr(_state, "depth", 0) + 1
            try:
                return super().load()
            finally:
                _state.depth -= 1

    Unpickler.__qualname__ = original.__qualname__
    Unpickler.__doc__ = original.__doc__
    Unpickler._picklewall_guarded = True  # type: ignore[attr-defined]
    return Unpickler


def _patch_loaded_modules() -> None:
    for module_name, class_names in _GUARDED_CLASSES.items():
        module = sys.modules.get(module_name)
        for class_name in class_names if module is not None else ():
            current = getattr(module, class_name, None)
            if current is not None and not getattr(current, "_picklewall_guarded", False):
                _originals[(module_name, class_name)] = current
                setattr(module, class_name, _guarded_unpickler(current))
    for module_name, functions in _GUARDED.items():
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for function_name in functions:
            current = getattr(module, function_name, None)
            if current is None or getattr(current, "_picklewall_guarded", False):
                continue
            _originals[(module_name, function_name)] = current
            setattr(module, function_name, _wrap(module_name, function_name, current))


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, puts it back on the module, then guards the module's loaders."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        with _lock:
            if _active:
                _patch_loaded_modules()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Guards torch, numpy, joblib (and pickle) when they are first imported while a guard is on."""

    def __init__(self) -> None:
        self._finding = threading.local()

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in _TOP_LEVEL or getattr(self._finding, "name", None) == fullname:
            return None
        self._finding.name = fullname
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


_finder = _PatchOnImport()


def _install() -> None:
    _install_audit_hook()
    _patch_loaded_modules()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for (module_name, function_name), original in list(_originals.items()):
        module = sys.modules.get(module_name)
        if module is not None and getattr(getattr(module, function_name, None), "_picklewall_guarded", False):
            setattr(module, function_name, original)
        del _originals[(module_name, function_name)]

"""scan, load, convert and inspect: the engine's work with Python arguments and Python results."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Tuple, Union, overload

from . import _native
from ._engine import Isolation, PathLike, engine
from ._report import FileReport, Report, _file_report
from .errors import PicklewallError, UnsafeModelError

if TYPE_CHECKING:
    import numpy
    import torch

Source = Union[PathLike, bytes, bytearray, memoryview, BinaryIO]


def _is_path(source: object) -> bool:
    return isinstance(source, (str, os.PathLike))


def read_stream(stream: BinaryIO) -> bytes:
    """Everything from the stream's position on; a seekable stream is put back where it was."""
    start = stream.tell() if stream.seekable() else None
    data = stream.read()
    if start is not None:
        stream.seek(start)
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("scan reads binary file objects (open the file with 'rb')")
    return bytes(data)


def stream_name(stream: object) -> str:
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else "<stream>"


def scan(source: Union[Source, Iterable[PathLike]], *, policies: Iterable[PathLike] = (), trust: Iterable[str] = (),
         strict: bool = False, hash_files: bool = True, name: Optional[str] = None, jobs: int = 0,
         cache: Optional[PathLike] = None, isolation: Isolation = "process", **limits: float) -> Report:
    """Judges a model without running it.

    ``source`` is a path (a file, or a folder walked recursively), a list of paths, the bytes of a file, or a
    binary file object (read from its position; a seekable one is put back). Files are recognised by content.
    ``policies`` adds policy files, ``trust`` names opt-in trust policies (see :func:`trust_policies`);
    ``strict`` reports trusted code as suspicious. Paths are scanned ``jobs`` at a time (0: one per core) and,
    with ``cache`` (a SQLite file), verdicts of unchanged content are reused.

    Every input is parsed in sandboxed worker processes, never in this interpreter: a file that crashes or
    takes over a parser costs only its own report (``isolation="in-process"`` opts out). Limits are keyword
    arguments named as the command's flags (``max_seconds_per_file=10``; see :func:`limit_names`). Ctrl-C
    stops a scan within a second. The scan runs with the GIL released.
    """
    scanner = engine(policies, trust, strict, hash_files, limits, isolation)
    cache_path = os.fspath(cache) if cache is not None else ""
    if _is_path(source):
        return Report._from_native(scanner.scan_paths([os.fspath(source)], jobs, cache_path))  # type: ignore[arg-type]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Report._from_native([scanner.scan_bytes(bytes(source), name or "<bytes>")])
    if hasattr(source, "read"):
        data = read_stream(source)  # type: ignore[arg-type]
        return Report._from_native([scanner.scan_bytes(data, name or stream_name(source))])
    paths = list(source)  # type: ignore[arg-type]
    if not all(_is_path(p) for p in paths):
        raise TypeError("scan takes a path, a list of paths, bytes or a binary file object")
    return Report._from_native(scanner.scan_paths([os.fspath(p) for p in paths], jobs, cache_path))


@contextlib.contextmanager
def _report_attached(scanner: Any, path: str) -> Iterator[None]:
    """A refusal from the engine carries its message; the report behind it is attached for callers to read."""
    try:
        yield
    except UnsafeModelError as error:
        if error.report is None:
            error.report = Report._from_native(scanner.scan_paths([path]))
        raise


# safetensors dtype names -> the torch and numpy names of the same element type.
_TORCH_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool",
    "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz", "F8_E8M0": "float8_e8m0fnu",
}
_NUMPY_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
    "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?", "C64": "<c8",
}


def _torch_tensor(reader: Any, index: int, spec: Any) -> "torch.Tensor":
    import torch

    dtype = getattr(torch, _TORCH_DTYPES[spec.dtype], None)
    if dtype is None:
        raise PicklewallError("unsupported", f"tensor {spec.name!r} is {spec.dtype}, which this torch lacks")
    tensor = torch.empty(tuple(spec.shape), dtype=dtype)
    if spec.nbytes:
        reader.read_into(index, tensor.view(-1).view(torch.uint8).numpy())
    return tensor


def _numpy_array(reader: Any, index: int, spec: Any) -> "numpy.ndarray":
    import numpy

    code = _NUMPY_DTYPES.get(spec.dtype)
    if code is None:
        raise PicklewallError("unsupported", f"tensor {spec.name!r} is {spec.dtype}, which numpy has no type for; "
                                             "load it with framework='torch'")
    array = numpy.empty(tuple(spec.shape), dtype=numpy.dtype(code))
    if spec.nbytes:
        reader.read_into(index, array.reshape(-1).view(numpy.uint8))
    return array


@overload
def load(path: PathLike, framework: Literal["torch"] = ..., *, strip_code: bool = ..., key: Optional[str] = ...,
         device: Optional[str] = ..., policies: Iterable[PathLike] = ..., trust: Iterable[str] = ...,
         isolation: Isolation = ..., **limits: float) -> Dict[str, "torch.Tensor"]: ...
@overload
def load(path: PathLike, framework: Literal["numpy"], *, strip_code: bool = ..., key: Optional[str] = ...,
         device: Optional[str] = ..., policies: Iterable[PathLike] = ..., trust: Iterable[str] = ...,
         isolation: Isolation = ..., **limits: float) -> Dict[str, "numpy.ndarray"]: ...
def load(path: PathLike, framework: str = "torch", *, strip_code: bool = False, key: Optional[str] = None,
         device: Optional[str] = None, policies: Iterable[PathLike] = (), trust: Iterable[str] = (),
         isolation: Isolation = "process", **limits: float) -> Mapping[str, Any]:
    """The tensors of a model file, read without running any of its pickle.

    A stricter ``torch.load(path, weights_only=True)``: the file is scanned first and refused with
    :class:`UnsafeModelError` unless it is safe (``strip_code=True`` takes the tensors of an unsafe file anyway:
    the payload never runs and never reaches the result). Reads PyTorch checkpoints (zip and legacy, protocols
    0-5, whole ``nn.Module`` pickles as their ``state_dict`` names), pickles and joblib files of numpy arrays,
    ``.npy`` and ``.npz``. Returns a flat dict of dotted names, as safetensors names them; every name the file
    holds is kept, tied weights included. ``framework`` is ``"torch"`` (tensors, moved to ``device`` if given) or
    ``"numpy"`` (arrays; bfloat16 and float8 have no numpy type). The file is read in a sandboxed worker
    process, which hands the tensors' bytes back in shared memory (``isolation="in-process"`` reads it here).
    Tensor bytes are copied with the GIL released.
    """
    if framework not in ("torch", "numpy"):
        raise ValueError(f"framework must be 'torch' or 'numpy', not {framework!r}")
    if device is not None and framework != "torch":
        raise ValueError("device applies to framework='torch' only")
    scanner = engine(policies, trust, False, False, limits, isolation)
    with _report_attached(scanner, os.fspath(path)):
        reader = scanner.open_tensors(os.fspath(path), strip_code, key or "")
    build = _torch_tensor if framework == "torch" else _numpy_array
    result: Dict[str, Any] = {}
    for index, spec in enumerate(reader.tensors):
        value = build(reader, index, spec)
        result[spec.name] = value.to(device) if device is not None else value
    return result


@dataclass(frozen=True)
class Conversion:
    """One safetensors file written by :func:`convert`."""

    input: str
    output: str
    scan: FileReport  # the input's scan
    tensors: Tuple[Tuple[str, str, Tuple[int, ...]], ...]  # (name, dtype, shape) in file order
    dropped: Mapping[str, str]  # aliases of shared storage: dropped name -> kept name
    skipped: Tuple[str, ...]  # non-tensor leaves left out ("path: what")
    bytes_written: int
    verified: bool


class Conversions(List[Conversion]):
    """The safetensors files one :func:`convert` wrote (a list), with what else a folder conversion did:
    ``copied`` names the files copied as they are (none holds a pickle), ``left_out`` says, for each file not in
    the output, why (a pickle that is not only tensors, a verdict that is not safe, a subfolder)."""

    def __init__(self, conversions: Iterable[Conversion], *, copied: Tuple[str, ...] = (),
                 left_out: Tuple[str, ...] = ()) -> None:
        super().__init__(conversions)
        self.copied = copied
        self.left_out = left_out


def convert(source: PathLike, destination: PathLike, *, strip_code: bool = False, verify: bool = True,
            key: Optional[str] = None, policies: Iterable[PathLike] = (), trust: Iterable[str] = (),
            **limits: float) -> Conversions:
    """Converts a pickled model to safetensors without running it, in a sandboxed worker process.

    ``source`` is a checkpoint (or pickle/joblib of arrays, .npy, .npz) and ``destination`` the .safetensors file;
    or ``source`` is a Hugging Face folder (``save_pretrained(safe_serialization=False)``) and ``destination`` a
    new folder that gets ``model.safetensors`` (or the shards and their index), the other files that hold no
    pickle, and the tensors of other safe pickles as ``NAME.safetensors`` (``left_out`` on the result lists
    what stayed behind and why), ready for ``from_pretrained(..., use_safetensors=True)``; the folder appears
    whole or not at all. A source that is not safe raises
    :class:`UnsafeModelError` unless ``strip_code``. ``verify`` reads every output back and compares each tensor
    with its source. Outputs appear atomically; the source is only read.
    """
    scanner = engine(policies, trust, False, False, limits)
    with _report_attached(scanner, os.fspath(source)):
        result = scanner.convert(os.fspath(source), os.fspath(destination), strip_code, verify, key or "")
    return Conversions(
        [Conversion(c.input, c.output, _file_report(c.scan), tuple((t.name, t.dtype, tuple(t.shape)) for t in c.tensors),
                    dict(c.dropped), tuple(c.skipped), c.bytes_written, c.verified)
         for c in result.conversions],
        copied=tuple(result.copied), left_out=tuple(result.left_out))


def inspect(path: PathLike, *, disassemble: bool = False, max_lines: int = 2000, policies: Iterable[PathLike] = (),
            trust: Iterable[str] = (), strict: bool = False, isolation: Isolation = "process",
            **limits: float) -> str:
    """What loading the file would do, as ``picklewall inspect`` shows it: Python-like statements (or the opcode
    listing with ``disassemble=True``), each finding under the line that causes it. Nothing is run; the file is
    parsed in a sandboxed worker process unless ``isolation="in-process"``."""
    return str(engine(policies, trust, strict, False, limits, isolation).inspect(os.fspath(path), disassemble,
                                                                                max_lines))


__all__ = ["scan", "load", "convert", "inspect", "Conversion", "Conversions", "UnsafeModelError"]

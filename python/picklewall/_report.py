"""Scan results as Python objects: verdicts, findings, per-file reports and the report of one scan."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

from . import _native


class Verdict(str, enum.Enum):
    """What a file is judged to be. Compares equal to its name: ``Verdict.SAFE == "safe"``."""

    NOT_A_MODEL = "not-a-model"  # in no model format (text, an archive of text): nothing a loader would run
    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"
    ERROR = "error"  # the file could not be read or judged

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """Higher is worse. An unreadable file ranks above suspicious: it was not shown to be safe."""
        return _RANKS[self]


_RANKS = {Verdict.NOT_A_MODEL: -1, Verdict.SAFE: 0, Verdict.SUSPICIOUS: 1, Verdict.ERROR: 2, Verdict.MALICIOUS: 3}


class Severity(str, enum.Enum):
    INFO = "info"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One thing the scan found, with where it is and why it matters."""

    path: str  # the file it was found in
    rule: str  # stable id, e.g. "global.dangerous"
    severity: Severity
    message: str
    member: str = ""  # archive member or pickle inside the file ("" for the file itself)
    offset: Optional[int] = None  # opcode offset in that member's pickle stream
    symbol: str = ""  # the global involved ("module.name"), if any

    def __str__(self) -> str:
        where = f" in {self.member}" if self.member else ""
        at = f" at offset {self.offset}" if self.offset is not None else ""
        return f"{self.severity.value} [{self.rule}]{where}{at}: {self.message}"


@dataclass(frozen=True)
class FileReport:
    """The verdict on one file and everything behind it."""

    path: str
    format: str  # detected by content: "pytorch-zip", "pickle", "numpy", "safetensors", ...
    verdict: Verdict
    sha256: str  # "" when hashing was off or the file could not be read
    size: int
    findings: Tuple[Finding, ...]
    globals: Tuple[str, ...]  # every global a load would import, allowlisted or not

    @property
    def is_safe(self) -> bool:
        return self.verdict is Verdict.SAFE


def _file_report(native: Any) -> FileReport:
    findings = tuple(
        Finding(native.path, f.rule, Severity(f.severity), f.message, f.member, f.offset, f.symbol)
        for f in native.findings
    )
    return FileReport(native.path, native.format, Verdict(native.verdict), native.sha256, native.size, findings,
                      tuple(native.globals))


@dataclass(frozen=True)
class Report:
    """The result of one :func:`picklewall.scan`: one :class:`FileReport` per file, in a deterministic order."""

    files: Tuple[FileReport, ...]
    _engine_reports: Sequence[Any] = field(repr=False, compare=False)  # the engine's own, for rendering

    @classmethod
    def _from_native(cls, natives: Sequence[Any]) -> "Report":
        return cls(tuple(_file_report(n) for n in natives), list(natives))

    @property
    def verdict(self) -> Verdict:
        """The worst verdict over all files (not-a-model when there are none: nothing would be loaded)."""
        return max((f.verdict for f in self.files), key=lambda v: v.rank, default=Verdict.NOT_A_MODEL)

    @property
    def is_safe(self) -> bool:
        return self.verdict is Verdict.SAFE

    @property
    def findings(self) -> Tuple[Finding, ...]:
        """Every finding of every file, most severe first (stable within a severity)."""
        order = {Severity.MALICIOUS: 0, Severity.SUSPICIOUS: 1, Severity.INFO: 2}
        every = [finding for report in self.files for finding in report.findings]
        return tuple(sorted(every, key=lambda f: order[f.severity]))

    def to_json(self) -> str:
        """The JSON report, byte for byte what ``picklewall scan --format json`` prints."""
        return str(_native.render(list(self._engine_reports), "json", False))

    def to_sarif(self) -> str:
        """A SARIF 2.1.0 log, as ``picklewall scan --format sarif`` prints it."""
        return str(_native.render(list(self._engine_reports), "sarif", False))

    def to_text(self, show_info: bool = False) -> str:
        """The report as the command prints it to a file (no colour)."""
        return str(_native.render(list(self._engine_reports), "text", show_info))

    def __str__(self) -> str:
        return self.to_text()

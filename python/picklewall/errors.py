"""The exceptions picklewall raises.

Every error the engine reports arrives as a :class:`PicklewallError` whose ``code`` says what kind it is (the
engine's error codes: ``io``, ``not_found``, ``invalid_argument``, ``invalid_policy``, ``malformed``,
``limit_exceeded``, ``unsupported``, ``refused``). A file refused because of what it holds raises
:class:`UnsafeModelError`, which carries the findings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from ._report import Finding, Report


class PicklewallError(Exception):
    """The engine could not do what was asked (a file it cannot read, a bad policy, an unsupported format)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnsafeModelError(PicklewallError):
    """A model file was refused: its verdict is not one the caller accepts.

    ``report`` is the scan that decided it when one is at hand (the guard and :func:`picklewall.load` keep it);
    ``findings`` lists what was found, most severe first.
    """

    def __init__(self, message: str, report: Optional["Report"] = None) -> None:
        super().__init__("refused", message)
        self.report = report

    @property
    def findings(self) -> Sequence["Finding"]:
        if self.report is None:
            return ()
        return self.report.findings


class ModelNotFoundError(PicklewallError, FileNotFoundError):
    """The path given does not exist."""


class InvalidArgumentError(PicklewallError, ValueError):
    """An argument the engine cannot use (an unknown trust policy name, a report format it does not know)."""


def from_engine(code: str, message: str) -> PicklewallError:
    """Called by the native module to turn an engine error into the exception to raise."""
    if code == "refused":
        return UnsafeModelError(message)
    if code == "not_found":
        return ModelNotFoundError(code, message)
    if code == "invalid_argument":
        return InvalidArgumentError(code, message)
    return PicklewallError(code, message)

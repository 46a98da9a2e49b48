"""picklewall: finds code in pickled ML models without running it, loads their tensors and converts them to
safetensors through a restricted builder, and guards the usual loaders.

    import picklewall
    report = picklewall.scan("pytorch_model.bin")       # verdict, findings, to_json(), to_sarif()
    state = picklewall.load("pytorch_model.bin")        # tensors, never running the pickle
    picklewall.convert("model_dir", "model_dir_safe")   # save_pretrained folder -> safetensors
    with picklewall.guard():                            # torch.load & co. scan first
        torch.load("pytorch_model.bin")
"""

from . import _native
from ._api import Conversion, Conversions, convert, inspect, load, scan
from ._engine import limit_names, trust_policies
from ._guard import Guard, guard
from ._report import FileReport, Finding, Report, Severity, Verdict
from .errors import PicklewallError, UnsafeModelError

__version__: str = _native.__version__

__all__ = [
    "Conversion", "Conversions", "FileReport", "Finding", "Guard", "PicklewallError", "Report", "Severity", "UnsafeModelError",
    "Verdict", "convert", "guard", "inspect", "limit_names", "load", "scan", "trust_policies", "__version__",
]

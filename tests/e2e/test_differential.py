"""Differential test against CPython itself: every global a real load resolves, under any of the readings
loaders use (recorded by CPython's own unpicklers with inert stubs: pickle.loads, _pickle.c over io.BytesIO and
over open(), pickle.py; see fixtures/recording_unpickler.py), must be in picklewall's report for that file.
Disagreements are bugs."""
import json
import os

from fixtures.differential import missed_globals, record_with_cpython, write_batch
from fixtures.pickle_generator import corpus
from harness import run_scan

SEED = int(os.environ.get("PICKLEWALL_DIFF_SEED", "20261126"))
HANDMADE = int(os.environ.get("PICKLEWALL_DIFF_HANDMADE", "400"))
MUTANTS = int(os.environ.get("PICKLEWALL_DIFF_MUTANTS", "6"))


def test_picklewall_reports_every_global_cpython_resolves(tmp_path):
    items = corpus(SEED, HANDMADE, MUTANTS)
    assert len(items) >= 2000
    paths = write_batch(tmp_path, items)
    cpython = record_with_cpython(paths)
    report = run_scan(tmp_path).by_path()

    resolved_somewhere = sum(1 for result in cpython.values() if result["globals"])
    assert resolved_somewhere > len(items) // 4, "the corpus must make CPython resolve globals"
    missed = missed_globals(paths, cpython, report)
    assert missed == {}, f"{len(missed)} files: {json.dumps(dict(list(missed.items())[:5]), indent=1)}"


def test_files_where_cpython_resolves_code_are_never_safe(tmp_path):
    """A load, under any reading, that would import something outside the data allowlist must not be called
    safe."""
    items = corpus(SEED + 1, 200, 3)
    paths = write_batch(tmp_path, items)
    cpython = record_with_cpython(paths)
    report = run_scan(tmp_path).by_path()
    data_only = {"collections.OrderedDict", "collections.Counter", "collections.deque", "builtins.set",
                 "builtins.frozenset", "builtins.list", "builtins.bytearray", "builtins.object", "copyreg._reconstructor",
                 "datetime.datetime", "decimal.Decimal", "_codecs.encode", "builtins.complex", "builtins.slice"}
    wrong = [p.name for p in paths
             if set(cpython[str(p)]["globals"]) - data_only and report[str(p)]["verdict"] == "safe"]
    assert wrong == []

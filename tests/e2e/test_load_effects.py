"""What a load does beyond the calls it writes (policies/load_effects.toml), from the benign side: a wrapper is
judged as what it wraps, torch's own hook objects are not code, and an old writer's newline after STOP is not
trailing data. The attack side is tests/fixtures/mechanisms.py, proven live in test_attacks.py."""
import functools
import pickle

import pytest

from harness import run_scan


def _scan(tmp_path, name, data, *arguments):
    path = tmp_path / name
    path.write_bytes(data)
    return run_scan("--no-hash", *arguments, path).by_path()[str(path)]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_partial_of_a_data_constructor_is_data(tmp_path, protocol):
    report = _scan(tmp_path, "partial_int.pkl", pickle.dumps(functools.partial(int, base=2), protocol=protocol))
    assert report["verdict"] == "safe", report


def test_partial_of_library_code_is_judged_as_that_code(tmp_path):
    """gensim keeps functools.partial(smartirs_normalize) in its TfidfModel: exactly as dangerous as the function,
    which is third-party code that needs trust, not a payload."""
    from sklearn.metrics import f1_score
    report = _scan(tmp_path, "partial_f1.pkl", pickle.dumps(functools.partial(f1_score, average="macro"), protocol=4))
    assert report["verdict"] == "suspicious", report
    wrapped = [f for f in report["findings"] if f["symbol"] == "sklearn.metrics._classification.f1_score"]
    assert wrapped and wrapped[0]["rule"] == "global.unknown", report
    assert "functools.partial, which calls it" in wrapped[0]["message"], wrapped


def test_partial_of_a_gadget_is_malicious(tmp_path):
    import _osx_support
    report = _scan(tmp_path, "partial_gadget.pkl",
                   pickle.dumps(functools.partial(_osx_support._read_output, "true"), protocol=4))
    assert report["verdict"] == "malicious", report
    # the generated sink catalogue names it (it reaches a shell and a file write); without it, a standard-library
    # call is malicious all the same
    assert any(f["rule"] in ("global.sink", "global.stdlib-call") and f["symbol"] == "_osx_support._read_output"
               and "functools.partial, which calls it" in f["message"] for f in report["findings"]), report


def test_pruned_module_hooks_are_torch_objects_not_code(tmp_path):
    import io

    import torch
    import torch.nn.utils.prune as prune
    model = torch.nn.Linear(4, 4)
    prune.l1_unstructured(model, "weight", 0.5)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    report = _scan(tmp_path, "pruned.pt", buffer.getvalue(), "--trust", "torch-modules")
    assert report["verdict"] == "safe", report


def test_newline_after_stop_is_not_trailing_data(tmp_path):
    report = _scan(tmp_path, "newline.pkl", pickle.dumps([1, 2.5, "x"], protocol=2) + b"\n")
    assert report["verdict"] == "safe", report
    report = _scan(tmp_path, "two_newlines.pkl", pickle.dumps([1, 2.5, "x"], protocol=2) + b"\n\n")
    assert any(f["rule"] == "structure.trailing-bytes" for f in report["findings"]), report


def test_numpy_before_1_0_array_name_is_data(tmp_path):
    """numpy before 1.0 wrote numpy.core._internal._reconstruct; numpy still ships it so those pickles load."""
    import numpy as np
    data = pickle.dumps(np.arange(4.0), protocol=2)
    renamed = data.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core._internal\n_reconstruct\n")
    assert renamed != data
    assert pickle.loads(renamed).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert _scan(tmp_path, "old_numpy.pkl", renamed)["verdict"] == "safe"


def test_joblib_0_9_external_arrays_are_data_when_they_stay_beside_the_file(tmp_path):
    """joblib up to 0.9 kept each array in its own .npy beside the pickle (NDArrayWrapper); joblib.load still
    reads them. A name that leaves the folder makes joblib unpickle whatever file is there."""
    import joblib
    import numpy as np
    from joblib.numpy_pickle_compat import NDArrayWrapper
    np.save(tmp_path / "old.pkl_01.npy", np.arange(3.0))
    data = pickle.dumps({"coef": NDArrayWrapper("old.pkl_01.npy", np.ndarray)}, protocol=2)
    data = data.replace(b"joblib.numpy_pickle_compat", b"joblib.numpy_pickle")  # the name joblib 0.9 wrote
    (tmp_path / "old.pkl").write_bytes(data)
    assert joblib.load(tmp_path / "old.pkl")["coef"].tolist() == [0.0, 1.0, 2.0]
    report = run_scan("--no-hash", tmp_path / "old.pkl").by_path()[str(tmp_path / "old.pkl")]
    assert report["verdict"] == "safe", report
    assert "joblib.external-array" in {f["rule"] for f in report["findings"]}, report

    outside = pickle.dumps({"coef": NDArrayWrapper("../elsewhere/x.npy", np.ndarray)}, protocol=2)
    report = _scan(tmp_path, "escape.pkl", outside)
    assert report["verdict"] == "suspicious", report
    assert "joblib.external-array-path" in {f["rule"] for f in report["findings"]}, report

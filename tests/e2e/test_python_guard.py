"""picklewall.guard(), installed from the checkout: every live attack fixture raises UnsafeModelError from its
real loader before the payload runs (the marker never appears), and every benign file loads exactly as it does
without the guard."""
import pickle

import pytest

from fixtures import benign
from fixtures.advisories import ADVISORY_ATTACKS
from fixtures.attacks import ATTACKS as SPEC_ATTACKS, write_attacks
from harness import load_in_child

pytestmark = pytest.mark.package

ATTACKS = [attack for attack in SPEC_ATTACKS + ADVISORY_ATTACKS if not attack.not_live_because]
GUARD_ON = "import picklewall\npicklewall.guard().enable()"
EVIL_P0 = b"cos\nsystem\n(S'true'\ntR."  # protocol 0: os.system('true')


@pytest.fixture(scope="module")
def attack_files(tmp_path_factory):
    return write_attacks(tmp_path_factory.mktemp("guarded-attacks"), ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_guard_stops_every_attack_before_it_runs(attack, attack_files, package):
    _, path, marker = attack_files[attack.name]
    child = load_in_child(attack.loader, path, marker, attack.setup, python=package.python, prelude=GUARD_ON)
    assert "loader raised: UnsafeModelError picklewall blocked" in child.stdout, child.stdout + child.stderr
    assert not marker.exists(), "the payload ran under the guard"


def test_benign_files_load_unchanged_under_the_guard(package, tmp_path):
    paths = benign.write_pickles(tmp_path) + benign.write_torch(tmp_path) + benign.write_numpy_files(tmp_path)
    # a protocol-5 pickle of an out-of-band buffer cannot be loaded without the buffers it was written with
    paths = [path for path in paths if path.name != "out_of_band_p5.pkl"]
    result = package.json(f"""
        import io, json, pickle, joblib, numpy, torch, picklewall
        folder = {str(tmp_path)!r}
        arrays = {{"a": numpy.arange(10.0), "b": numpy.ones((2, 3), numpy.int32)}}
        joblib.dump(arrays, folder + "/arrays.joblib")
        joblib.dump(arrays, folder + "/arrays_zlib.joblib", compress=3)
        paths = {[str(p) for p in paths]!r} + [folder + "/arrays.joblib", folder + "/arrays_zlib.joblib"]

        def load(path):
            if path.endswith(".pt"):
                return torch.load(path, weights_only=False)
            if path.endswith(".joblib"):
                return joblib.load(path)
            if path.endswith((".npy", ".npz")):
                with open(path, "rb") as handle:
                    loaded = numpy.load(io.BytesIO(handle.read()), allow_pickle=True)
                    return dict(loaded) if hasattr(loaded, "files") else loaded
            with open(path, "rb") as handle:
                return pickle.load(handle)

        class Fingerprint(pickle.Pickler):
            # the loaded object, tensors as (dtype, shape, bytes): torch's tensor pickles carry a random id
            def reducer_override(self, obj):
                if isinstance(obj, torch.Tensor):
                    dense = obj.detach().to_dense().contiguous().reshape(-1)
                    return tuple, (("tensor", str(obj.dtype), tuple(obj.shape), bytes(dense.view(torch.uint8).numpy())),)
                return NotImplemented

        def fingerprint(value):
            out = io.BytesIO()
            Fingerprint(out, protocol=5).dump(value)
            return out.getvalue()

        differ, refused = [], []
        for path in paths:
            plain = fingerprint(load(path))
            try:
                with picklewall.guard():
                    guarded = fingerprint(load(path))
            except picklewall.UnsafeModelError as error:
                refused.append([path, str(error)])
                continue
            if guarded != plain:
                differ.append(path)
        with picklewall.guard():
            bytes_loaded = pickle.loads(pickle.dumps(arrays)) ["a"].tolist()
        print(json.dumps({{"count": len(paths), "differ": differ, "refused": refused, "loads": bytes_loaded}}))
        """)
    assert result["refused"] == [] and result["differ"] == []
    assert result["count"] == len(paths) + 2 and result["loads"] == list(range(10))


def test_guard_is_a_switch_and_patches_modules_imported_later(package, tmp_path):
    """Switched on before torch, numpy and joblib are imported, it guards them as they are imported (and
    pickle.Unpickler); switched off, every original is back."""
    (tmp_path / "unknown.pkl").write_bytes(b"\x80\x02cmy_models\nCustomNet\nq\x00)\x81q\x01.")
    (tmp_path / "safe.pkl").write_bytes(pickle.dumps({"a": [1, 2]}))
    result = package.json(f"""
        import json, os, sys, pickle
        original_loads, original_unpickler = pickle.loads, pickle.Unpickler
        import picklewall
        guard = picklewall.guard().enable()
        assert "torch" not in sys.modules and "numpy" not in sys.modules
        import torch, numpy, joblib
        def guarded():
            return [getattr(f, "_picklewall_guarded", False) for f in (pickle.loads, pickle.load, pickle.Unpickler,
                    torch.load, torch.serialization.load, numpy.load, joblib.load)]
        patched = guarded()
        path = {str(tmp_path / "unknown.pkl")!r}
        blocked = {{}}
        for name, call in (("torch", lambda: torch.load(path, weights_only=False)),
                           ("numpy", lambda: numpy.load(path, allow_pickle=True)),
                           ("joblib", lambda: joblib.load(path)),
                           ("unpickler", lambda: pickle.Unpickler(open(path, "rb")).load())):
            try:
                call()
                blocked[name] = False
            except picklewall.UnsafeModelError as error:
                blocked[name] = error.report.verdict.value
        read, write = os.pipe()
        os.write(write, pickle.dumps([1, 2]))
        os.close(write)
        try:
            pickle.Unpickler(os.fdopen(read, "rb")).load()
            pipe = "loaded"
        except picklewall.UnsafeModelError as error:
            pipe = "cannot seek" in str(error)
        safe = pickle.Unpickler(open({str(tmp_path / "safe.pkl")!r}, "rb")).load()
        guard.disable()
        restored = [not flag for flag in guarded()]
        print(json.dumps({{"patched": patched, "blocked": blocked, "restored": restored, "pipe": pipe, "safe": safe,
                          "same": [pickle.loads is original_loads, pickle.Unpickler is original_unpickler],
                          "active": guard.active}}))
        """)
    assert result["patched"] == [True] * 7 and result["restored"] == [True] * 7
    assert result["blocked"] == {"torch": "suspicious", "numpy": "suspicious", "joblib": "suspicious",
                                 "unpickler": "suspicious"}
    assert result["pipe"] is True and result["safe"] == {"a": [1, 2]}
    assert result["same"] == [True, True] and result["active"] is False


def test_block_level_trust_and_nesting(package, tmp_path):
    """block='malicious' lets unknown classes through but not code; a trust policy admits what it names; the
    innermost guard decides."""
    result = package.json(f"""
        import json, pickle, collections, picklewall
        import sklearn.linear_model
        model = sklearn.linear_model.LogisticRegression().fit([[0.0], [1.0]], [0, 1])
        data = pickle.dumps(model)
        evil = {EVIL_P0!r}
        def outcome(guard, payload):
            with guard:
                try:
                    pickle.loads(payload)
                    return "loaded"
                except picklewall.UnsafeModelError as error:
                    return error.report.verdict.value
        out = {{
            "default": outcome(picklewall.guard(), data),
            "block_malicious": outcome(picklewall.guard(block="malicious"), data),
            "block_malicious_evil": outcome(picklewall.guard(block="malicious"), evil),
            "trusted": outcome(picklewall.guard(trust=["scikit-learn"]), data),
            "trusted_strict": outcome(picklewall.guard(trust=["scikit-learn"], strict=True), data),
        }}
        with picklewall.guard():
            out["nested"] = outcome(picklewall.guard(block="malicious"), data)
            out["outer_again"] = outcome(picklewall.guard(), data)
        print(json.dumps(out))
        """)
    assert result == {"default": "suspicious", "block_malicious": "loaded", "block_malicious_evil": "malicious",
                      "trusted": "loaded", "trusted_strict": "suspicious", "nested": "loaded",
                      "outer_again": "suspicious"}


def test_guard_stops_a_poisoned_hugging_face_folder(package, tmp_path):
    """from_pretrained on a save_pretrained folder whose pytorch_model.bin carries a payload: the guard refuses
    the torch.load inside transformers, before the file is unpickled. transformers wraps what torch.load raises
    in errors of its own; the guard's error is in the chain."""
    from fixtures.attacks import exec_call, rewrite_torch_zip, touch_source
    from fixtures import opcodes as op
    marker = tmp_path / "payload-ran"
    folder = tmp_path / "model"
    package.run(f"""
        import torch, transformers
        torch.manual_seed(0)
        config = transformers.BertConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                                         intermediate_size=32, vocab_size=50, max_position_embeddings=16)
        transformers.BertModel(config).save_pretrained({str(folder)!r}, safe_serialization=False)
        """)
    weights = folder / "pytorch_model.bin"

    def splice(name, data):
        if not name.endswith("/data.pkl"):
            return data
        head, body = op.split_proto(data)
        return head + exec_call(touch_source(str(marker))) + op.POP + body
    weights.write_bytes(rewrite_torch_zip(weights.read_bytes(), splice))
    result = package.json(f"""
        import json, transformers, picklewall
        with picklewall.guard():
            try:
                transformers.BertModel.from_pretrained({str(folder)!r}, use_safetensors=False)
                outcome = "loaded"
            except Exception as raised:
                error = raised
                while error is not None and not isinstance(error, picklewall.UnsafeModelError):
                    error = error.__cause__ or error.__context__
                outcome = [error.report.verdict.value, error.findings[0].symbol] if error else repr(raised)
        print(json.dumps(outcome))
        """)
    assert result == ["malicious", "builtins.exec"]
    assert not marker.exists()

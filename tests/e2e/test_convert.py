"""`picklewall convert`: checkpoints from torch.save become safetensors equal to what Hugging Face's converter
(torch.load + safetensors' save_file) makes, without running the pickle; infected models convert to clean
tensors under --strip-code and are refused without it; hostile tensor metadata is a clear error that leaves no
file behind."""
import json
import subprocess
import sys

import pytest

from fixtures import advisories, attacks, convertible, zip_tricks
from harness import ROOT, picklewall_binary

TORCH_TRUST = ROOT / "policies" / "trust" / "torch-modules.toml"


def convert(*arguments):
    return subprocess.run([picklewall_binary(), "convert", *map(str, arguments)], capture_output=True, text=True,
                          timeout=300)


def split(path):
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + length]), data[8 + length:]


def assert_same_as_reference(output, expected, metadata, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file
    loaded = load_file(output)
    assert sorted(loaded) == sorted(expected)
    for name, tensor in expected.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name
    reference = tmp_path / "reference.safetensors"
    save_file(expected, reference, metadata=metadata)
    if len(metadata) == 1:
        assert output.read_bytes() == reference.read_bytes()
    else:
        # save_file writes __metadata__ in hash-map order (it varies between runs): same header, same bytes.
        assert split(output) == split(reference)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return convertible.write_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.mark.parametrize("name", ["all_dtypes", "all_dtypes_protocol4", "views", "disjoint_views", "tied_weights",
                                  "lightning_checkpoint", "training_checkpoint", "legacy_format", "parameters",
                                  "whole_module", "big_endian"])
def test_checkpoint_converts_to_the_reference_bytes(name, checkpoints, tmp_path):
    path, whole_module = checkpoints[name]
    output = tmp_path / "model.safetensors"
    trust = ["--policy", TORCH_TRUST] if whole_module is not None else []
    result = convert(path, output, "--verify", *trust)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout
    expected, metadata = convertible.expected_tensors(path, whole_module)
    assert_same_as_reference(output, expected, metadata, tmp_path)


def test_shared_storage_is_recorded_as_aliases(checkpoints, tmp_path):
    path, _ = checkpoints["tied_weights"]
    output = tmp_path / "tied.safetensors"
    assert convert(path, output).returncode == 0
    header, _ = split(output)
    assert header["__metadata__"] == {"format": "pt", "1.weight": "0.weight"}
    assert "1.weight" not in header


def test_non_tensor_leaves_are_listed(checkpoints, tmp_path):
    path, _ = checkpoints["training_checkpoint"]
    result = convert(path, tmp_path / "out.safetensors")
    assert result.returncode == 0
    assert "left out: epoch: 1" in result.stdout
    assert "left out: optimizer.param_groups.0.lr: 0.001" in result.stdout


def test_key_selects_a_sub_object(checkpoints, tmp_path):
    import torch
    from safetensors.torch import load_file
    path, _ = checkpoints["training_checkpoint"]
    output = tmp_path / "model_only.safetensors"
    assert convert(path, output, "--key", "model").returncode == 0
    reference = torch.load(path, weights_only=True)["model"]
    loaded = load_file(output)
    assert sorted(loaded) == sorted(reference)
    missing = convert(path, tmp_path / "x.safetensors", "--key", "nope")
    assert missing.returncode == 2 and "no such key" in missing.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_transformers_folder_converts_and_loads_with_the_same_outputs(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=99, n_positions=64))
    model.eval()
    tokens = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad():
        before = model(tokens).logits
    for variant, shard in (("single", None), ("sharded", "40KB")):
        source, target = tmp_path / f"{variant}_bin", tmp_path / f"{variant}_safetensors"
        kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(source, safe_serialization=False, **kwargs)
        result = convert(source, target, "--verify")
        assert result.returncode == 0, result.stderr
        names = sorted(p.name for p in target.iterdir())
        assert "config.json" in names and not any(name.endswith(".bin") for name in names)
        if shard:
            assert "model.safetensors.index.json" in names and len([n for n in names if n.endswith(".safetensors")]) > 1
            index = json.loads((target / "model.safetensors.index.json").read_text())
            assert all(value.startswith("model-") and value.endswith(".safetensors")
                       for value in index["weight_map"].values())
        else:
            assert "model.safetensors" in names
        reloaded = AutoModelForCausalLM.from_pretrained(target, use_safetensors=True)
        reloaded.eval()
        with torch.no_grad():
            assert torch.equal(reloaded(tokens).logits, before)


# Attack fixtures that carry a model: the clean tensors are the seeded victim's; a few payloads are whole modules.
MODEL_ATTACKS = {
    "container_torch_zip_sleepy": attacks.torch_zip_sleepy,
    "picklescan_cve_2025_1944_zip_local_name": zip_tricks.local_name_mismatch,
    "picklescan_cve_2025_1945_zip_flag_bits": advisories.flag_bits_on_unread_member,
    "picklescan_cve_2025_10156_zip_bad_crc": zip_tricks.zeroed_crc,
    **{name: build for name, build in ((a.name, a.build) for a in advisories.ADVISORY_ATTACKS)
       if name.startswith("modelscan_pickleinject_")},
    "zip_duplicate_data_pkl": zip_tricks.duplicate_data_pkl,
    "zip_pickle_under_odd_name": zip_tricks.pickle_under_odd_name,
    "fickling_pytorch_insertion": advisories.fickling_pytorch_inject("insertion"),
    "sleepy_pickle_weight_patch": advisories.sleepy_weight_patch,
    "sleepy_pickle_method_hook": advisories.sleepy_method_hook,
}


@pytest.mark.parametrize("name", sorted(MODEL_ATTACKS))
def test_infected_models_convert_to_clean_tensors_only_with_strip_code(name, tmp_path):
    import torch
    from safetensors.torch import load_file
    marker = tmp_path / "payload.marker"
    source = tmp_path / "infected.pt"
    source.write_bytes(MODEL_ATTACKS[name](str(marker)))
    output = tmp_path / "clean.safetensors"
    refused = convert(source, output)
    assert refused.returncode == 1 and "malicious" in refused.stderr and "global.dangerous" in refused.stderr
    assert not output.exists()
    result = convert(source, output, "--strip-code", "--verify")
    assert result.returncode == 0, result.stderr
    clean = attacks.victim_linear().state_dict()
    loaded = load_file(output)
    assert sorted(loaded) == sorted(clean)
    assert all(torch.equal(loaded[key], clean[key]) for key in clean)
    header, _ = split(output)
    assert header["__metadata__"] == {"format": "pt"}  # nothing of the payload reaches the output
    assert not marker.exists()


def test_legacy_format_payload_converts_with_strip_code(tmp_path):
    import torch
    from safetensors.torch import load_file
    marker = tmp_path / "payload.marker"
    source = tmp_path / "legacy.pt"
    source.write_bytes(attacks.torch_legacy_first_pickle(str(marker)))
    output = tmp_path / "clean.safetensors"
    assert convert(source, output).returncode == 1
    assert convert(source, output, "--strip-code").returncode == 0
    assert torch.equal(load_file(output)["w"], torch.ones(2))
    assert not marker.exists()


def _rebuild(offset, size, stride):
    def tuple_of(values):
        return b"(" + b"".join(b"J" + int(v).to_bytes(4, "little", signed=True) for v in values) + b"t"
    return b"J" + int(offset).to_bytes(4, "little", signed=True) + tuple_of(size) + tuple_of(stride) + b"\x89" + \
        b"ccollections\nOrderedDict\n)R"


HOSTILE = {
    "negative_size": (convertible.storage_pickle(_rebuild(0, [-2, 3], [3, 1])), 24, "negative"),
    "negative_stride": (convertible.storage_pickle(_rebuild(0, [2, 3], [-3, 1])), 24, "negative"),
    "offset_past_storage": (convertible.storage_pickle(_rebuild(4, [2, 3], [3, 1])), 24, "reaches element"),
    "numel_overflow": (convertible.storage_pickle(
        _rebuild(0, [2**31 - 1, 2**31 - 1, 2**31 - 1], [1, 1, 1])), 24, "overflow"),
    "view_past_storage": (convertible.storage_pickle(_rebuild(0, [2, 3], [6, 1])), 24, "reaches element"),
    "storage_record_too_short": (convertible.storage_pickle(_rebuild(0, [2, 3], [3, 1])), 20, "holds 20 bytes"),
    "unsupported_storage_type": (convertible.storage_pickle(_rebuild(0, [2, 3], [3, 1]),
                                                            storage_type="ComplexDoubleStorage"), 96,
                                 "cannot be stored"),
    "size_not_a_tuple": (convertible.storage_pickle(b"J\x00\x00\x00\x00K\x06(K\x01t\x89ccollections\nOrderedDict\n)R"),
                         24, "tuples"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_tensor_metadata_is_a_clear_error_with_no_output(name, tmp_path):
    data_pkl, storage_bytes, message = HOSTILE[name]
    source = tmp_path / "hostile.pt"
    source.write_bytes(convertible.torch_zip_with(data_pkl, bytes(storage_bytes)))
    output = tmp_path / "out" / "model.safetensors"
    output.parent.mkdir()
    result = convert(source, output)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert list(output.parent.iterdir()) == []  # no output, no temporary file


def test_mismatched_v3_dtype_is_refused(tmp_path):
    def unicode(text):
        return b"X" + len(text).to_bytes(4, "little") + text.encode()
    persistent = (b"(" + unicode("storage") + b"ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + b"K\x06tQ")
    call = (b"ctorch._utils\n_rebuild_tensor_v3\n(" + persistent + b"K\x00(K\x06t(K\x01t\x89"
            b"ccollections\nOrderedDict\n)Rctorch\nint64\ntR")
    source = tmp_path / "mismatch.pt"
    source.write_bytes(convertible.torch_zip_with(b"\x80\x02}" + unicode("t") + call + b"s.", bytes(24)))
    result = convert(source, tmp_path / "out.safetensors")
    assert result.returncode == 2 and "does not match its storage" in result.stderr


def test_output_never_overwrites_the_input(checkpoints):
    path, _ = checkpoints["all_dtypes"]
    before = path.read_bytes()
    result = convert(path, path)
    assert result.returncode == 2 and "is the input itself" in result.stderr
    assert path.read_bytes() == before


def test_formats_it_cannot_convert_are_named(tmp_path):
    import torch
    from safetensors.torch import save_file
    source = tmp_path / "already.safetensors"
    save_file({"x": torch.ones(2)}, source)
    result = convert(source, tmp_path / "out.safetensors")
    assert result.returncode == 2 and "picklewall reads tensors from PyTorch checkpoints" in result.stderr


def numpy_arrays():
    import numpy
    return {"f32": numpy.arange(6, dtype=numpy.float32).reshape(2, 3),
            "f64_fortran": numpy.asfortranarray(numpy.arange(6.0).reshape(2, 3)),
            "big_endian_i4": numpy.arange(5, dtype=">i4"), "bools": numpy.array([True, False]),
            "u2": numpy.arange(3, dtype=numpy.uint16), "scalar": numpy.array(2.5),
            "empty": numpy.zeros((0, 3), numpy.float32), "c8": numpy.ones(2, numpy.complex64),
            "i8_view": numpy.arange(20, dtype=numpy.int64)[::4]}


def numpy_writers(folder):
    import pickle

    import joblib
    import numpy
    arrays = numpy_arrays()
    with_strings = dict(arrays, words=numpy.array(["a", "b"]))  # not numeric: listed, left out
    files = {}
    for protocol in (2, 3, 4, 5):
        files[f"pickle_p{protocol}"] = folder / f"arrays_p{protocol}.pkl"
        files[f"pickle_p{protocol}"].write_bytes(pickle.dumps(with_strings, protocol=protocol))
    for compress in (0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lz4", 3)):
        name = "joblib_" + (compress[0] if compress else "raw")
        files[name] = folder / f"{name}.joblib"
        joblib.dump(with_strings, files[name], compress=compress)
    files["npz"] = folder / "arrays.npz"
    numpy.savez(files["npz"], **arrays)
    files["npz_compressed"] = folder / "arrays_compressed.npz"
    numpy.savez_compressed(files["npz_compressed"], **arrays)
    return files


@pytest.fixture(scope="module")
def numpy_files(tmp_path_factory):
    return numpy_writers(tmp_path_factory.mktemp("numpy"))


@pytest.mark.parametrize("name", ["pickle_p2", "pickle_p3", "pickle_p4", "pickle_p5", "joblib_raw", "joblib_zlib",
                                  "joblib_gzip", "joblib_bz2", "joblib_xz", "joblib_lz4", "npz", "npz_compressed"])
def test_numpy_arrays_convert_to_the_reference_bytes(name, numpy_files, tmp_path):
    import numpy
    from safetensors.numpy import load_file, save_file
    output = tmp_path / "arrays.safetensors"
    result = convert(numpy_files[name], output, "--verify")
    assert result.returncode == 0, result.stderr
    expected = {key: numpy.array(value, dtype=value.dtype.newbyteorder("<"), order="C")
                for key, value in numpy_arrays().items()}
    loaded = load_file(output)
    assert sorted(loaded) == sorted(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype and numpy.array_equal(loaded[key], value), key
    reference = tmp_path / "reference.safetensors"
    save_file(expected, reference, metadata={"format": "pt"})
    assert output.read_bytes() == reference.read_bytes()
    if not name.startswith("npz"):
        assert "words: a numpy array that is not converted: dtype 'U1'" in result.stdout


def test_single_npy_is_named_after_the_file(tmp_path):
    import numpy
    from safetensors.numpy import load_file
    source = tmp_path / "embedding.npy"
    array = numpy.asfortranarray(numpy.arange(12, dtype=numpy.float16).reshape(3, 4))
    numpy.save(source, array)
    assert convert(source, tmp_path / "out.safetensors", "--verify").returncode == 0
    loaded = load_file(tmp_path / "out.safetensors")
    assert list(loaded) == ["embedding"] and numpy.array_equal(loaded["embedding"], array)


def test_infected_joblib_converts_clean_with_strip_code(tmp_path):
    import numpy
    from safetensors.numpy import load_file
    from fixtures import containers
    marker = tmp_path / "payload.marker"
    source = containers.joblib_payload_after_arrays(tmp_path, str(marker))
    output = tmp_path / "clean.safetensors"
    assert convert(source, output).returncode == 1
    result = convert(source, output, "--strip-code", "--verify")
    assert result.returncode == 0, result.stderr
    loaded = load_file(output)
    assert list(loaded) == ["w"] and numpy.array_equal(loaded["w"], numpy.arange(64, dtype=numpy.float32))
    assert not marker.exists()

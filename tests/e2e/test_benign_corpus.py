"""Benign files written by the real writers must all be safe, and the real loaders must read them."""
import pickle
import pickletools
import subprocess
import sys

import pytest

from fixtures import benign
from harness import run_scan


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benign")
    paths = benign.write_pickles(folder) + benign.write_torch(folder) + benign.write_numpy_files(folder)
    return folder, paths


@pytest.fixture(scope="module")
def report(corpus):
    folder, _ = corpus
    return run_scan(folder)


def test_every_benign_file_is_safe(corpus, report):
    _, paths = corpus
    by_path = report.by_path()
    assert len(by_path) == len(paths)
    unsafe = {path: (f["verdict"], f["findings"]) for path, f in by_path.items() if f["verdict"] != "safe"}
    assert unsafe == {}
    assert report.returncode == 0


def test_no_benign_finding_above_info(report):
    for file in report.report["files"]:
        assert all(finding["severity"] == "info" for finding in file["findings"]), file


def test_formats_are_recognised(report):
    formats = {f["path"].rsplit("/", 1)[-1]: f["format"] for f in report.report["files"]}
    assert formats["torch_state_dict_p2.pt"] == "pytorch-zip"
    assert formats["torch_state_dict_legacy.pt"] == "pytorch-legacy"
    assert formats["plain_scalars_p0.pkl"] == "pickle"
    assert formats["array.npy"] == "numpy"
    assert formats["arrays.npz"] == "zip"


def test_benign_corpus_uses_every_opcode(corpus):
    """The corpus exercises every opcode of protocols 0-5 (what picklewall had to read to call it safe)."""
    _, paths = corpus
    seen = set()
    for path in paths:
        if path.suffix != ".pkl":
            continue
        data = path.read_bytes()
        try:
            for opcode, _, _ in pickletools.genops(data):
                seen.add(opcode.name)
        except Exception:
            pass  # pickletools rejects some valid C-unpickler input; the opcodes before that were counted
    all_opcodes = {opcode.name for opcode in pickletools.opcodes}
    # Opcodes that only load code or need a loader extension are exercised by the attack and unit tests.
    code_only = {"EXT1", "EXT2", "EXT4", "INST", "OBJ", "PERSID", "BINPERSID", "NEWOBJ_EX"}
    missing = all_opcodes - seen - code_only
    assert missing == set()


def test_real_loaders_read_the_corpus(corpus):
    folder, paths = corpus
    pickles = [str(p) for p in paths if p.suffix == ".pkl" and "out_of_band" not in p.name]
    code = ("import pickle, sys\n"
            "for path in sys.argv[1:]:\n"
            "    with open(path, 'rb') as f: pickle.load(f)\n")
    subprocess.run([sys.executable, "-c", code, *pickles], check=True, timeout=300)
    tensors = [str(p) for p in paths if p.suffix == ".pt"]
    code = ("import torch, sys\n"
            "for path in sys.argv[1:]: torch.load(path, weights_only=False)\n")
    subprocess.run([sys.executable, "-c", code, *tensors], check=True, timeout=300)

"""Code-bearing benign files (estimators, whole modules, DataFrames, boosters) from the real writers: never
malicious, suspicious by default, safe under the matching opt-in trust policy, and suspicious again under
--strict. The real loaders read every one of them."""
import subprocess
import sys

import pytest

from fixtures import code_bearing
from harness import picklewall_binary, run_scan


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return code_bearing.write_all(tmp_path_factory.mktemp("code_bearing"))


def _policy_arguments(item):
    return [argument for policy in item.policies for argument in ("--policy", policy)]


def test_compiled_in_trust_policies_by_name_judge_as_the_files_do(corpus):
    """--trust NAME loads the same policy as --policy policies/trust/NAME.toml: one source of truth."""
    for item in corpus:
        by_name = run_scan(*[a for policy in item.policies for a in ("--trust", policy.stem)], item.path).file()
        by_file = run_scan(*_policy_arguments(item), item.path).file()
        assert by_name["verdict"] == by_file["verdict"] == "safe", (by_name, by_file)
        assert by_name["findings"] == by_file["findings"]
    unknown = subprocess.run([picklewall_binary(), "scan", "--trust", "no-such-library", str(corpus[0].path)],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "scikit-learn" in unknown.stderr, unknown.stderr


def test_corpus_covers_the_libraries(corpus):
    names = {item.path.name.split("_")[0] for item in corpus}
    assert {"sklearn", "torch", "transformers", "pandas", "scipy"} <= names
    assert sum(1 for item in corpus if item.path.name.startswith("sklearn_") and item.path.suffix == ".pkl") >= 12


def test_code_is_suspicious_never_malicious_by_default(corpus):
    report = run_scan(*(item.path for item in corpus)).by_path()
    verdicts = {path: file["verdict"] for path, file in report.items()}
    assert set(verdicts.values()) == {"suspicious"}, verdicts
    for file in report.values():
        assert all(finding["severity"] != "malicious" for finding in file["findings"]), file


def test_safe_under_the_matching_trust_policy_and_not_under_strict(corpus):
    for item in corpus:
        trusted = run_scan(*_policy_arguments(item), item.path).file()
        assert trusted["verdict"] == "safe", trusted
        strict = run_scan("--strict", *_policy_arguments(item), item.path).file()
        assert strict["verdict"] == "suspicious", strict
        assert {f["rule"] for f in strict["findings"] if f["severity"] == "suspicious"} == {"global.trusted"}


def test_real_loaders_read_the_corpus(corpus):
    code = ("import sys, pickle, joblib, torch\n"
            "for path in sys.argv[1:]:\n"
            "    if path.endswith('.joblib'): joblib.load(path)\n"
            "    elif path.endswith('.pt'): torch.load(path, weights_only=False)\n"
            "    else:\n"
            "        with open(path, 'rb') as f: pickle.load(f)\n")
    subprocess.run([sys.executable, "-c", code, *(str(item.path) for item in corpus)], check=True, timeout=300)

"""Code-bearing benign files (estimators, whole modules, DataFrames, boosters) from the real writers: never
malicious, suspicious by default, safe under the matching opt-in trust policy, and suspicious again under
--strict. The real loaders read every one of them.

The trust policies themselves are generated (scripts/generate_trust_policies.py): exact symbols only, every
trusted function reviewed, nothing else of a library trusted (its test helpers run code), and the committed files
are what the installed libraries need."""
import importlib.util
import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

from fixtures import attacks, code_bearing
from harness import ROOT, load_in_child, picklewall_binary, run_scan


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


# --- the generated policies: exact symbols, reviewed, and what the real writers need -----------------------------

TRUST = ROOT / "policies" / "trust"
GENERATOR = ROOT / "scripts" / "generate_trust_policies.py"
POLICY_FILES = sorted(TRUST.glob("*.toml"))
EFFECTS = {"reference", "call", "build", "mutate"}


def _generator():
    """scripts/generate_trust_policies.py as a module: its resolver and its review of functions."""
    if "generate_trust_policies" not in sys.modules:
        spec = importlib.util.spec_from_file_location("generate_trust_policies", GENERATOR)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["generate_trust_policies"]


def _load(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def _trusted_by_package() -> dict:
    """(policy stem, top-level package) -> [(symbol, effects)]"""
    out = {}
    for path in POLICY_FILES:
        for rule in _load(path)["trust"]:
            for symbol in rule["symbols"]:
                out.setdefault((path.stem, symbol.split(".")[0]), []).append((symbol, rule["effects"]))
    return out


TRUSTED = _trusted_by_package()


def test_every_trust_entry_is_an_exact_symbol():
    """No module trees (`modules`) and no class-name patterns (`only_classes`): each entry names one class or
    function, never a standard-library one, and a symbol two files list means the same in both (the engine
    keeps one entry per symbol, whichever file it read last)."""
    assert {path.stem for path in POLICY_FILES} == {"gradient-boosting", "numpy-scipy-pandas", "scikit-learn",
                                                     "torch-modules", "transformers"}
    effects_of = {}
    for path in POLICY_FILES:
        policy = _load(path)
        assert set(policy) == {"policy", "trust"}, path
        assert policy["policy"]["name"] == f"trust-{path.stem}"
        assert path.read_text().startswith("# GENERATED by scripts/generate_trust_policies.py"), path
        listed = set()
        for rule in policy["trust"]:
            assert set(rule) == {"reason", "effects", "symbols"}, (path.name, sorted(rule))
            assert rule["reason"] and rule["effects"] and set(rule["effects"]) <= EFFECTS, (path.name, rule["reason"])
            assert rule["symbols"] == sorted(set(rule["symbols"])), (path.name, rule["reason"])
            for symbol in rule["symbols"]:
                parts = symbol.split(".")
                assert len(parts) >= 2 and all(part.isidentifier() for part in parts), (path.name, symbol)
                assert parts[0] not in sys.stdlib_module_names, (path.name, symbol)
                assert symbol not in listed, (path.name, symbol)
                listed.add(symbol)
                assert effects_of.setdefault(symbol, rule["effects"]) == rule["effects"], (path.name, symbol)


@pytest.mark.parametrize("policy, package", sorted(TRUSTED), ids=lambda value: value)
def test_trusted_names_resolve_and_no_trusted_function_reaches_a_sink(policy, package):
    """Every trusted name imports; every trusted function (as opposed to class) passes the generator's review:
    its own body calls or names no exec/eval/compile, import by name, process, file, socket, pickle/marshal load
    or ctypes (or it is compiled, and either reviewed by hand or never called on load)."""
    pytest.importorskip(package)
    generator = _generator()
    failures, functions = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for symbol, effects in TRUSTED[(policy, package)]:
            try:
                obj = generator.resolve_dotted(symbol)
            except ImportError as error:
                failures.append(f"{symbol}: does not resolve: {error}")
                continue
            if isinstance(obj, type):
                continue
            functions += 1
            review = generator.review_function(symbol, obj, "call" in effects)
            if review.verdict == "FAIL":
                failures.append(f"{symbol}: {review.detail}")
            assert symbol not in generator.NOT_TRUSTED
    assert failures == [], failures


def test_the_review_catches_the_reported_bypass():
    """The check is not vacuous: scikit-learn's script runner fails it (a child process and a file write)."""
    testing = pytest.importorskip("sklearn.utils._testing")
    generator = _generator()
    runner = testing.assert_run_python_script_without_output
    found = generator.sinks_in(runner)
    assert any("subprocess.check_output" in f for f in found) and any("open" in f for f in found), found
    symbol = "sklearn.utils._testing.assert_run_python_script_without_output"
    assert generator.review_function(symbol, runner, True).verdict == "FAIL"
    assert all(symbol not in symbols for symbols in TRUSTED.values())


@pytest.fixture(scope="module")
def sklearn_script_runner(tmp_path_factory):
    """A hand-written protocol-2 pickle calling sklearn.utils._testing.assert_run_python_script_without_output
    with source that creates a marker file: proven live with the real pickle.load in a child process."""
    pytest.importorskip("sklearn")
    folder = tmp_path_factory.mktemp("sklearn_script_runner")
    marker = folder / "ran.marker"
    path = folder / "sklearn_script_runner.pkl"
    path.write_bytes(attacks.sklearn_testing_runs_a_script(str(marker)))
    child = load_in_child("pickle", path, marker)
    assert marker.exists(), f"the payload must run under pickle.load: {child.stdout} {child.stderr}"
    marker.unlink()
    return path


def test_sklearn_script_runner_is_not_safe_under_the_trust_policy_files(sklearn_script_runner):
    """The reported bypass: `modules = ["sklearn"]` rated it safe. Under the generated files (read at run time),
    alone and all together, it is code outside the trust."""
    alone = run_scan("--policy", TRUST / "scikit-learn.toml", sklearn_script_runner).file()
    together = run_scan(*[a for path in POLICY_FILES for a in ("--policy", path)], sklearn_script_runner).file()
    for report in (alone, together):
        assert report["verdict"] in ("suspicious", "malicious"), report
        assert "global.trusted" not in {finding["rule"] for finding in report["findings"]}, report


def test_sklearn_script_runner_is_not_safe_under_the_compiled_in_trust(sklearn_script_runner):
    """`--trust scikit-learn` reads the copy compiled into the binary: this passes once it is rebuilt from the
    generated files."""
    report = run_scan("--trust", "scikit-learn", sklearn_script_runner).file()
    assert report["verdict"] in ("suspicious", "malicious"), report


def test_committed_trust_policies_are_what_the_generator_writes():
    """CI fails when the installed libraries pickle a class the committed policy lacks (or no longer need one it
    lists): run `python3 scripts/generate_trust_policies.py --write` and review the diff."""
    completed = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True,
                               timeout=600, cwd=str(ROOT))
    assert completed.returncode == 0, completed.stdout[-20000:] + completed.stderr[-4000:]


_WRITE_GENERATOR_OBJECTS = """
import json, pickle, sys, warnings
sys.path.insert(0, sys.argv[2])
import generate_trust_policies as generator
generator.quiet_environment()
warnings.simplefilter("ignore")
folder, index = sys.argv[1], {}
for group in generator.GROUPS:
    for library in group.libraries:
        try:
            __import__(library.module)
        except ImportError:
            continue
        for label, obj in library.writer(generator.Tally()):
            for protocol in generator.PROTOCOLS:
                path = f"{folder}/{len(index):05d}.{'pt' if library.torch_save else 'pkl'}"
                try:
                    if library.torch_save:
                        import torch
                        torch.save(obj, path, pickle_protocol=protocol)
                        pickles = generator.torch_pickles(obj, protocol)
                    else:
                        pickles = [pickle.dumps(obj, protocol=protocol)]
                        open(path, "wb").write(pickles[0])
                except Exception:
                    continue
                uses = {}
                for data in pickles:
                    generator.pickle_globals(data, uses)
                index[path] = {"group": group.stem, "label": label, "protocol": protocol,
                               "symbols": sorted(f"{m}.{n}" for m, n in uses),
                               "owners": sorted({generator.owner_of(s) for s in uses} - {None})}
json.dump(index, open(f"{folder}/index.json", "w"))
"""


def test_what_the_generator_pickles_is_safe_under_the_generated_policies(tmp_path):
    """Every object the generator builds, written by the real writer and scanned by picklewall under its policy
    (and the policies of the other libraries it names, as its header says): safe, unless it names a global no
    policy may trust (standard-library code such as builtins.getattr or functools.partial, or a NOT_TRUSTED
    class); then it is not safe."""
    generator = _generator()
    written = subprocess.run([sys.executable, "-c", _WRITE_GENERATOR_OBJECTS, str(tmp_path), str(GENERATOR.parent)],
                             timeout=600, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr[-4000:]
    index = json.loads((tmp_path / "index.json").read_text())
    allowed = set(generator.allowlisted())
    trusted = {symbol for path in POLICY_FILES for rule in _load(path)["trust"] for symbol in rule["symbols"]}
    by_policies = {}
    for path, item in index.items():
        policies = tuple(sorted({item["group"], *item["owners"]}))
        by_policies.setdefault(policies, []).append(path)
    wrong = []
    for policies, paths in sorted(by_policies.items()):
        arguments = [a for stem in policies for a in ("--policy", TRUST / f"{stem}.toml")]
        report = run_scan("--no-hash", *arguments, *paths).by_path()
        for path in paths:
            item, verdict = index[path], report[path]["verdict"]
            untrusted = sorted(set(item["symbols"]) - allowed - trusted)
            unexpected = [s for s in untrusted
                          if s.split(".")[0] not in sys.stdlib_module_names and s not in generator.NOT_TRUSTED]
            if unexpected or (verdict == "safe") != (not untrusted):
                wrong.append((item["label"], item["protocol"], verdict, untrusted))
    assert len(index) > 1000
    assert wrong == [], wrong[:20]

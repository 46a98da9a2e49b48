"""policies/python_runtime.toml names every module this Python ships, including the ones sys.stdlib_module_names
leaves out (test.*, _testcapi, _xx*): a standard-library function called at load time is malicious, so a module
missing from the list would turn a gadget into mere unknown code."""
import subprocess
import sys

from harness import ROOT, run_scan

from fixtures import opcodes as op


def test_committed_runtime_facts_are_what_the_generator_writes(tmp_path):
    written = tmp_path / "python_runtime.toml"
    subprocess.run([sys.executable, ROOT / "scripts" / "generate_python_runtime.py", written], check=True, timeout=60)
    assert written.read_text() == (ROOT / "policies" / "python_runtime.toml").read_text(), \
        "run python3 scripts/generate_python_runtime.py and review the diff"


def test_a_call_into_the_test_package_is_a_standard_library_call(tmp_path):
    path = tmp_path / "test_support.pkl"
    path.write_bytes(op.call("test.support.script_helper", "assert_python_ok", op.unicode("-c"),
                             op.unicode("pass")) + op.STOP)
    report = run_scan("--no-hash", path).by_path()[str(path)]
    assert report["verdict"] == "malicious", report
    assert any(f["rule"] == "global.stdlib-call" for f in report["findings"]), report

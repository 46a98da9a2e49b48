"""The command-line contract: exit codes, JSON schema 1, SARIF shape, atomic output, deterministic walks."""
import json
import os
import pickle
import subprocess

from harness import ROOT, picklewall_binary, run_scan


def run(*arguments):
    return subprocess.run([picklewall_binary(), *map(str, arguments)], capture_output=True, text=True, timeout=120)


def make_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b_safe.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "a_evil.bin").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    (tmp_path / "sub" / "odd.safetensors").write_bytes(b"\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01u")  # truncated pickle
    return tmp_path


def test_exit_codes(tmp_path):
    folder = make_folder(tmp_path)
    assert run("scan", folder / "b_safe.pkl").returncode == 0
    assert run("scan", folder).returncode == 1
    assert run("scan", "--fail-on", "malicious", folder / "sub").returncode == 0
    assert run("scan", "--fail-on", "malicious", folder).returncode == 1
    missing = run("scan", folder / "nope.pt")
    assert missing.returncode == 2 and "no such file" in missing.stdout
    assert run("scan").returncode == 2
    assert run("scan", "--format", "yaml", folder).returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("--version").returncode == 0


def test_json_contract(tmp_path):
    folder = make_folder(tmp_path)
    report = run_scan(folder).report
    assert report["schema"] == 1
    assert report["tool"]["name"] == "picklewall" and report["tool"]["version"]
    paths = [f["path"] for f in report["files"]]
    assert paths == [str(folder / "a_evil.bin"), str(folder / "b_safe.pkl"), str(folder / "sub" / "odd.safetensors")]
    evil = report["files"][0]
    assert evil["verdict"] == "malicious" and evil["format"] == "pickle" and len(evil["sha256"]) == 64
    finding = evil["findings"][0]
    assert set(finding) >= {"rule", "severity", "message", "member", "offset", "symbol"}
    assert finding["symbol"] == "os.system" and finding["offset"] == 21  # the REDUCE that calls it
    assert report["summary"] == {"files": 3, "safe": 1, "suspicious": 1, "malicious": 1, "error": 0, "not-a-model": 0}
    # judged by content, not by extension
    assert report["files"][2]["format"] == "pickle"


def test_sarif_shape(tmp_path):
    folder = make_folder(tmp_path)
    sarif = json.loads(run("scan", "--format", "sarif", folder).stdout)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    for result in run_["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def test_output_file_is_written_atomically_and_inputs_untouched(tmp_path):
    folder = make_folder(tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    out = tmp_path / "report.json"
    out.write_text("previous")
    assert run("scan", "--format", "json", "--output", out, folder).returncode == 1
    assert json.loads(out.read_text())["schema"] == 1
    assert not [p for p in tmp_path.iterdir() if ".picklewall-" in p.name]
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file() and p != out}
    assert {p: v for p, v in before.items() if p != out} == after
    # an output that cannot be written is an error with a message, and the old file stays
    blocked = run("scan", "--output", tmp_path / "missing-dir" / "r.json", folder)
    assert blocked.returncode == 2 and "cannot create" in blocked.stderr


def test_text_output_names_the_problem(tmp_path):
    folder = make_folder(tmp_path)
    text = run("scan", folder).stdout
    assert "MALICIOUS" in text and "os.system is called at load time" in text
    assert "3 file(s): 1 safe, 1 suspicious, 1 malicious, 0 error" in text


def test_bad_policy_file_is_a_usage_error(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text("[[allow]]\nsymbols = ['x.y']\n")
    result = run("scan", "--policy", policy, tmp_path)
    assert result.returncode == 2 and "reason" in result.stderr


def test_symlink_loops_are_walked_once(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.pkl").write_bytes(pickle.dumps(1))
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    report = run_scan(tmp_path).report
    assert [f["path"] for f in report["files"]] == [str(tmp_path / "d" / "x.pkl")]


def test_policy_option_takes_one_file_and_paths_follow(tmp_path):
    """`--policy FILE PATH...`: the paths after a policy are scanned, not read as more policies."""
    import sklearn.linear_model
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(sklearn.linear_model.LinearRegression()))
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"w": [1.0]}))
    trust = ROOT / "policies" / "trust" / "scikit-learn.toml"
    result = run("scan", "--format", "json", "--policy", trust, model, other)
    assert result.returncode == 0, result.stderr
    verdicts = {f["path"]: f["verdict"] for f in json.loads(result.stdout)["files"]}
    assert verdicts == {str(model): "safe", str(other): "safe"}

"""The Python package, installed from the checkout into fresh venvs and used as a user would: the command, scan,
load (tensors equal to the real loaders'), convert (a Hugging Face folder that from_pretrained loads), inspect,
the GIL released during engine calls, and the shipped type stubs."""
import json
import subprocess

import pytest

from fixtures import attacks
from harness import ROOT

pytestmark = pytest.mark.package

EVIL = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueR."  # os.system('true') at load


def write_models(folder):
    """A benign state dict and a Sleepy-Pickle copy of it (data.pkl runs exec first), as real torch archives."""
    import io

    import torch
    buffer = io.BytesIO()
    torch.save(attacks.victim_linear().state_dict(), buffer)
    (folder / "benign.pt").write_bytes(buffer.getvalue())
    marker = folder / "payload-ran"
    (folder / "sleepy.pt").write_bytes(attacks.torch_zip_sleepy(str(marker)))
    return folder / "benign.pt", folder / "sleepy.pt", marker


def test_command_and_module_are_installed(package, tmp_path):
    benign, sleepy, marker = write_models(tmp_path)
    version = subprocess.run([package.command, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == "picklewall " + package.json(
        "import json, picklewall; print(json.dumps(picklewall.__version__))")
    assert subprocess.run([package.command, "scan", str(benign)], capture_output=True).returncode == 0
    flagged = subprocess.run([package.python, "-m", "picklewall", "scan", str(sleepy)], capture_output=True, text=True)
    assert flagged.returncode == 1 and "MALICIOUS" in flagged.stdout
    assert not marker.exists()
    installed = package.json("import json, picklewall, pathlib; "
                             "print(json.dumps(sorted(p.name for p in pathlib.Path(picklewall.__file__).parent.iterdir())))")
    assert {"_native.pyi", "py.typed", "__init__.py"} <= set(installed)


def test_the_package_needs_nothing_else(package, tmp_path):
    """No run-time dependencies: in a venv without numpy or torch, scanning, the command and the guard work."""
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    bare = str(package.bare / "bin" / "python")
    result = package.json(f"""
        import importlib.util, json, pickle, picklewall
        blocked = False
        with picklewall.guard():
            try:
                pickle.loads({EVIL!r})
            except picklewall.UnsafeModelError:
                blocked = True
        print(json.dumps({{"numpy": importlib.util.find_spec("numpy") is not None,
                          "verdict": picklewall.scan({str(tmp_path / "evil.pkl")!r}).verdict.value,
                          "blocked": blocked}}))
        """, python=bare)
    assert result == {"numpy": False, "verdict": "malicious", "blocked": True}
    command = subprocess.run([str(package.bare / "bin" / "picklewall"), "scan", str(tmp_path)], capture_output=True)
    assert command.returncode == 1


def test_scan_takes_paths_bytes_and_file_objects(package, tmp_path):
    benign, sleepy, marker = write_models(tmp_path)
    result = package.json(f"""
        import io, json, pathlib, picklewall
        benign, sleepy = {str(benign)!r}, {str(sleepy)!r}
        data = pathlib.Path(sleepy).read_bytes()
        out = {{}}
        out["path"] = picklewall.scan(sleepy).verdict.value
        out["pathlib"] = picklewall.scan(pathlib.Path(benign)).verdict.value
        out["bytes"] = picklewall.scan(data).verdict.value
        out["bytearray"] = picklewall.scan(bytearray(data)).verdict.value
        out["memoryview"] = picklewall.scan(memoryview(data)).verdict.value
        stream = io.BytesIO(b"xx" + data)
        stream.seek(2)
        out["stream"] = picklewall.scan(stream).verdict.value
        out["stream_position"] = stream.tell()
        with open(sleepy, "rb") as handle:
            report = picklewall.scan(handle)
            out["file_name"] = report.files[0].path
        out["list"] = [f.verdict.value for f in picklewall.scan([benign, sleepy]).files]
        folder = picklewall.scan(pathlib.Path(benign).parent)
        out["folder"] = {{pathlib.Path(f.path).name: f.verdict.value for f in folder.files}}
        out["folder_verdict"] = folder.verdict.value
        finding = picklewall.scan(sleepy).findings[0]
        out["finding"] = [finding.rule, finding.severity.value, finding.member, finding.offset, finding.symbol,
                          finding.path]
        out["safe"] = [picklewall.scan(benign).is_safe, picklewall.scan(sleepy).is_safe]
        out["format"] = picklewall.scan(benign).files[0].format
        out["sha256"] = picklewall.scan(benign).files[0].sha256
        out["no_hash"] = picklewall.scan(benign, hash_files=False).files[0].sha256
        print(json.dumps(out))
        """)
    assert result["path"] == result["bytes"] == result["bytearray"] == result["memoryview"] == "malicious"
    assert result["stream"] == "malicious" and result["stream_position"] == 2
    assert result["file_name"] == str(sleepy)
    assert result["pathlib"] == "safe" and result["list"] == ["safe", "malicious"]
    assert result["folder"] == {"benign.pt": "safe", "sleepy.pt": "malicious"} and result["folder_verdict"] == "malicious"
    rule, severity, member, offset, symbol, path = result["finding"]
    assert severity == "malicious" and symbol == "builtins.exec" and member.endswith("data.pkl")
    assert isinstance(offset, int) and path == str(sleepy)
    assert result["safe"] == [True, False] and result["format"] == "pytorch-zip"
    import hashlib
    assert result["sha256"] == hashlib.sha256(benign.read_bytes()).hexdigest() and result["no_hash"] == ""
    assert not marker.exists()


def test_reports_render_as_the_command_does(package, tmp_path):
    write_models(tmp_path)
    rendered = package.json(f"""
        import json, picklewall
        report = picklewall.scan({str(tmp_path)!r})
        print(json.dumps([report.to_json(), report.to_sarif(), report.to_text()]))
        """)
    for index, form in enumerate(("json", "sarif", "text")):
        cli = subprocess.run([package.command, "scan", "--format", form, "--color", "never", str(tmp_path)],
                             capture_output=True, text=True)
        assert rendered[index] == cli.stdout, form
    assert json.loads(rendered[0])["summary"]["malicious"] == 1


def test_scan_with_threads_and_a_cache(package, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    write_models(models)
    cache = tmp_path / "verdicts.sqlite"
    rendered = package.json(f"""
        import json, picklewall
        first = picklewall.scan({str(models)!r}, jobs=2, cache={str(cache)!r})
        second = picklewall.scan({str(models)!r}, jobs=2, cache={str(cache)!r})
        try:
            picklewall.scan({str(models)!r}, cache={str(cache)!r}, hash_files=False)
            refused = ""
        except picklewall.errors.InvalidArgumentError as error:
            refused = str(error)
        print(json.dumps([first.to_json(), second.to_json(), refused]))
        """)
    cli = subprocess.run([package.command, "scan", "--format", "json", "-j", "1", str(models)],
                         capture_output=True, text=True)
    assert rendered[0] == rendered[1] == cli.stdout
    assert cache.is_file() and "content hash" in rendered[2]


def test_scan_errors_are_exceptions(package, tmp_path):
    result = package.json(f"""
        import json, picklewall
        out = {{}}
        try:
            picklewall.scan({str(tmp_path / "missing.pt")!r})
        except FileNotFoundError as error:
            out["missing"] = [type(error).__name__, error.code]
        try:
            picklewall.scan(b"", policies=[{str(tmp_path / "no-policy.toml")!r}])
        except picklewall.PicklewallError as error:
            out["policy"] = error.code
        try:
            picklewall.scan(b"", trust=["no-such-trust"])
        except ValueError as error:
            out["trust"] = str(error)
        try:
            picklewall.scan(b"", trust="scikit-learn")
        except TypeError:
            out["trust_string"] = True
        print(json.dumps(out))
        """)
    assert result["missing"] == ["ModelNotFoundError", "not_found"]
    assert result["policy"] == "not_found"
    assert "scikit-learn" in result["trust"] and result["trust_string"] is True


def test_load_returns_what_torch_load_returns(package, tmp_path):
    """Tensors equal (dtype, shape, bytes) to torch.load's for zip and legacy checkpoints, protocols 2-5, every
    dtype safetensors holds, views, shared storage, nested checkpoints and whole nn.Modules."""
    result = package.json(f"""
        import json, pickle, torch, picklewall
        folder = {str(tmp_path)!r}
        torch.manual_seed(0)
        def flatten(value, prefix=""):
            if isinstance(value, torch.nn.Module):
                value = value.state_dict()
            if isinstance(value, torch.Tensor):
                return {{prefix: value}}
            out = {{}}
            items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
            for key, item in items:
                out.update(flatten(item, f"{{prefix}}.{{key}}" if prefix else str(key)))
            return out
        dtypes = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.uint8, torch.int16,
                  torch.int32, torch.int64, torch.bool, torch.complex64, torch.float8_e4m3fn, torch.float8_e5m2,
                  torch.uint16, torch.uint32, torch.uint64]
        base = torch.arange(24.0)
        shared = torch.nn.Linear(3, 3)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
        cases = {{
            "dtypes": {{str(d): (torch.arange(6) % 3).to(d).reshape(2, 3) for d in dtypes}},
            "views": {{"base": base, "slice": base[3:9], "transposed": base.view(4, 6).t(), "step": base[::5],
                      "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4)}},
            "tied": {{"encoder.weight": shared.weight, "decoder.weight": shared.weight}},
            "nested": {{"epoch": 4, "model": model.state_dict(), "layers": [torch.ones(2), (torch.zeros(3),)]}},
            "state_dict": model.state_dict(),
        }}
        out = {{}}
        for name, obj in cases.items():
            variants = {{"p2": dict(pickle_protocol=2), "p5": dict(pickle_protocol=5)}}
            if name != "dtypes":
                variants["legacy"] = dict(_use_new_zipfile_serialization=False)
            for variant, options in variants.items():
                path = f"{{folder}}/{{name}}_{{variant}}.pt"
                torch.save(obj, path, **options)
                expected = flatten(torch.load(path, weights_only=False))  # our own file: the reference reader
                loaded = picklewall.load(path)
                same = sorted(expected) == sorted(loaded) and all(
                    loaded[k].dtype == expected[k].dtype and loaded[k].shape == expected[k].shape
                    and torch.equal(loaded[k].contiguous().reshape(-1).view(torch.uint8),
                                    expected[k].contiguous().reshape(-1).view(torch.uint8))
                    for k in expected)
                out[f"{{name}}_{{variant}}"] = same
        path = f"{{folder}}/module.pt"
        torch.save(model, path)
        try:
            picklewall.load(path)
            out["module_refused"] = False
        except picklewall.UnsafeModelError as error:
            out["module_refused"] = error.report.verdict.value
        loaded = picklewall.load(path, trust=["torch-modules"])
        expected = model.state_dict()
        out["module_trusted"] = sorted(loaded) == sorted(expected) and all(torch.equal(loaded[k], expected[k]) for k in expected)
        out["device"] = str(picklewall.load(f"{{folder}}/state_dict_p2.pt", device="meta")["0.weight"].device)
        try:  # what picklewall.load reads and torch's weights-only unpickler does not
            torch.load(f"{{folder}}/state_dict_p5.pt", weights_only=True)
            out["weights_only_p5"] = "loaded"
        except pickle.UnpicklingError:
            out["weights_only_p5"] = "refused"
        print(json.dumps(out))
        """)
    failed = [case for case, same in result.items() if same is False]
    assert failed == []
    assert result["module_refused"] == "suspicious" and result["module_trusted"] is True
    assert result["device"] == "meta" and result.pop("weights_only_p5") == "refused"
    assert sum(1 for case in result if case.endswith(("_p2", "_p5", "_legacy"))) == 14


def test_load_numpy_files_as_numpy_loads_them(package, tmp_path):
    result = package.json(f"""
        import json, pickle, joblib, numpy, picklewall
        folder = {str(tmp_path)!r}
        arrays = {{"f4": numpy.arange(12, dtype="<f4").reshape(3, 4), "fortran": numpy.asfortranarray(numpy.ones((2, 5))),
                  "big_endian": numpy.arange(6, dtype=">i4"), "bools": numpy.array([True, False, True]),
                  "u8": numpy.arange(5, dtype=numpy.uint64), "c8": numpy.ones(3, numpy.complex64) * 1j,
                  "scalar": numpy.array(7.5), "empty": numpy.zeros((0, 2), numpy.int16),
                  "strided": numpy.arange(40, dtype=numpy.int64)[::3]}}
        expected = {{}}
        numpy.save(f"{{folder}}/one.npy", arrays["fortran"])
        expected["one.npy"] = {{"one": arrays["fortran"]}}
        numpy.savez(f"{{folder}}/many.npz", **arrays)
        expected["many.npz"] = arrays
        numpy.savez_compressed(f"{{folder}}/packed.npz", **arrays)
        expected["packed.npz"] = arrays
        for compress in (0, 3, ("lz4", 3), ("xz", 1)):
            name = f"arrays_{{compress if isinstance(compress, int) else compress[0]}}.joblib"
            joblib.dump(arrays, f"{{folder}}/{{name}}", compress=compress)
            expected[name] = arrays
        with open(f"{{folder}}/arrays.pkl", "wb") as handle:
            pickle.dump(arrays, handle, protocol=4)
        expected["arrays.pkl"] = arrays
        out = {{}}
        for name, want in expected.items():
            got = picklewall.load(f"{{folder}}/{{name}}", framework="numpy")
            out[name] = sorted(got) == sorted(want) and all(
                got[k].dtype.newbyteorder("=") == want[k].dtype.newbyteorder("=") and got[k].shape == want[k].shape
                and numpy.array_equal(got[k], want[k]) for k in want)
        torch_view = picklewall.load(f"{{folder}}/many.npz")
        out["as_torch"] = type(torch_view["f4"]).__module__ + ":" + str(torch_view["f4"].sum().item())
        print(json.dumps(out))
        """)
    assert result.pop("as_torch") == "torch:66.0"
    assert [name for name, same in result.items() if not same] == []
    assert len(result) == 8


def test_load_refuses_unsafe_files_and_never_runs_them(package, tmp_path):
    benign, sleepy, marker = write_models(tmp_path)
    result = package.json(f"""
        import json, torch, picklewall
        out = {{}}
        try:
            picklewall.load({str(sleepy)!r})
        except picklewall.UnsafeModelError as error:
            out["refused"] = [error.code, error.report.verdict.value, error.findings[0].symbol]
        stripped = picklewall.load({str(sleepy)!r}, strip_code=True)
        clean = torch.load({str(benign)!r}, weights_only=True)
        out["stripped_equal"] = sorted(stripped) == sorted(clean) and all(torch.equal(stripped[k], clean[k]) for k in clean)
        try:
            picklewall.load({str(benign)!r}, framework="jax")
        except ValueError:
            out["framework"] = True
        torch.save({{"w": torch.ones(2, dtype=torch.bfloat16)}}, {str(tmp_path / "bf16.pt")!r})
        try:
            picklewall.load({str(tmp_path / "bf16.pt")!r}, framework="numpy")
        except picklewall.PicklewallError as error:
            out["bf16_numpy"] = [error.code, "framework='torch'" in str(error)]
        from safetensors.torch import save_file
        save_file({{"w": torch.ones(1)}}, {str(tmp_path / "already.safetensors")!r})
        try:
            picklewall.load({str(tmp_path / "already.safetensors")!r})
        except picklewall.PicklewallError as error:
            out["safetensors"] = error.code
        print(json.dumps(out))
        """)
    assert result["refused"] == ["refused", "malicious", "builtins.exec"]
    assert result["stripped_equal"] is True and result["framework"] is True
    assert result["bf16_numpy"] == ["unsupported", True] and result["safetensors"] == "unsupported"
    assert not marker.exists()


def test_convert_a_save_pretrained_folder_for_from_pretrained(package, tmp_path):
    """A tiny GPT-2 (tied embeddings) saved with safe_serialization=False, in one file and in shards: the folder
    scans safe, converts, and from_pretrained(use_safetensors=True) gives back the same weights."""
    result = package.json(f"""
        import json, pathlib, torch, transformers, picklewall
        torch.manual_seed(0)
        config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=64, n_positions=32)
        model = transformers.GPT2LMHeadModel(config).eval()
        out = {{}}
        for layout, options in (("single", {{}}), ("sharded", {{"max_shard_size": "20KB"}})):
            source = pathlib.Path({str(tmp_path)!r}) / layout
            model.save_pretrained(source, safe_serialization=False, **options)
            out[layout + "_files"] = sorted(p.name for p in source.iterdir())
            out[layout + "_scan"] = picklewall.scan(source).verdict.value
            target = source.parent / (layout + "-safetensors")
            conversions = picklewall.convert(source, target)
            out[layout + "_verified"] = all(c.verified for c in conversions) and len(conversions) >= 1
            out[layout + "_converted_files"] = sorted(p.name for p in target.iterdir())
            reloaded = transformers.GPT2LMHeadModel.from_pretrained(target, use_safetensors=True).eval()
            mine, theirs = reloaded.state_dict(), model.state_dict()
            out[layout + "_equal"] = sorted(mine) == sorted(theirs) and all(torch.equal(mine[k], theirs[k]) for k in theirs)
            ids = torch.tensor([[1, 2, 3]])
            out[layout + "_same_logits"] = torch.equal(reloaded(ids).logits, model(ids).logits)
        print(json.dumps(out))
        """)
    assert "pytorch_model.bin" in result["single_files"]
    assert "pytorch_model.bin.index.json" in result["sharded_files"]
    for layout in ("single", "sharded"):
        assert result[layout + "_scan"] == "safe"
        assert result[layout + "_verified"] and result[layout + "_equal"] and result[layout + "_same_logits"], layout
        assert not any(name.endswith(".bin") for name in result[layout + "_converted_files"])
    assert "model.safetensors" in result["single_converted_files"]
    assert "model.safetensors.index.json" in result["sharded_converted_files"]


def test_convert_refuses_unsafe_input_unless_told(package, tmp_path):
    benign, sleepy, marker = write_models(tmp_path)
    result = package.json(f"""
        import json, os, picklewall
        from safetensors.torch import load_file
        out = {{}}
        try:
            picklewall.convert({str(sleepy)!r}, {str(tmp_path / "out.safetensors")!r})
        except picklewall.UnsafeModelError as error:
            out["refused"] = error.report.verdict.value
        out["left_nothing"] = not os.path.exists({str(tmp_path / "out.safetensors")!r})
        [conversion] = picklewall.convert({str(sleepy)!r}, {str(tmp_path / "out.safetensors")!r}, strip_code=True)
        out["stripped"] = [conversion.scan.verdict.value, conversion.verified, [t[0] for t in conversion.tensors]]
        out["keys"] = sorted(load_file({str(tmp_path / "out.safetensors")!r}))
        print(json.dumps(out))
        """)
    assert result == {"refused": "malicious", "left_nothing": True,
                      "stripped": ["malicious", True, ["bias", "weight"]], "keys": ["bias", "weight"]}
    assert not marker.exists()


def test_inspect_shows_what_a_load_would_do(package, tmp_path):
    benign, sleepy, marker = write_models(tmp_path)
    result = package.json(f"""
        import json, picklewall
        print(json.dumps([picklewall.inspect({str(sleepy)!r}), picklewall.inspect({str(sleepy)!r}, disassemble=True)]))
        """)
    decompiled, listing = result
    assert "exec(" in decompiled and "malicious [global.dangerous]" in decompiled
    assert "STACK_GLOBAL" in listing or "GLOBAL" in listing
    assert not marker.exists()


def test_engine_calls_release_the_gil(package, tmp_path):
    """While a scan hashes a large file in one thread, another thread keeps running Python: the longest pause
    the main thread sees is a small part of the scan's duration (with the GIL held it would be all of it)."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(768 << 20)
    result = package.json(f"""
        import json, threading, time, picklewall
        spans = []
        def work():
            started = time.monotonic()
            picklewall.scan({str(big)!r})
            spans.append(time.monotonic() - started)
        worker = threading.Thread(target=work)
        worker.start()
        longest, last = 0.0, time.monotonic()
        while worker.is_alive():
            now = time.monotonic()
            longest, last = max(longest, now - last), now
        worker.join()
        print(json.dumps({{"scan": spans[0], "longest_pause": longest}}))
        """)
    assert result["scan"] > 0.2, result  # long enough for the comparison to mean something
    assert result["longest_pause"] < result["scan"] / 4, result


def test_type_stubs_type_check_user_code(package, tmp_path):
    """mypy --strict accepts correct use of the API and catches misuse: the package's types are really read."""
    good = tmp_path / "good.py"
    good.write_text(
        "import picklewall\n"
        "report: picklewall.Report = picklewall.scan('model.pt', trust=['scikit-learn'])\n"
        "verdict: picklewall.Verdict = report.verdict\n"
        "rules: list[str] = [finding.rule for finding in report.findings]\n"
        "text: str = report.to_json()\n"
        "conversions: list[picklewall.Conversion] = picklewall.convert('a.bin', 'a.safetensors')\n"
        "with picklewall.guard(block='malicious') as guard:\n"
        "    active: bool = guard.active\n")
    bad = tmp_path / "bad.py"
    bad.write_text("import picklewall\n"
                   "count: int = picklewall.scan('model.pt').verdict\n"
                   "picklewall.load(42)\n")
    def mypy(path):
        return subprocess.run([package.python, "-m", "mypy", "--strict", "--no-incremental", str(path)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=600)
    checked = mypy(good)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    caught = mypy(bad)
    assert caught.returncode == 1
    assert 'has type "Verdict", variable has type "int"' in caught.stdout, caught.stdout
    assert "No overload variant of \"load\"" in caught.stdout or 'Argument 1 to "load"' in caught.stdout, caught.stdout


def test_concurrent_scans_from_threads_agree(package, tmp_path):
    """The engine runs without the GIL, so threads really scan at once: every result must still be right."""
    benign, sleepy, marker = write_models(tmp_path)
    result = package.json(f"""
        import json, threading, picklewall
        verdicts, lock = [], threading.Lock()
        def work():
            for _ in range(25):
                pair = (picklewall.scan({str(benign)!r}).verdict.value, picklewall.scan({str(sleepy)!r}).verdict.value,
                        len(picklewall.load({str(benign)!r})))
                with lock:
                    verdicts.append(pair)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps(sorted(set(map(tuple, verdicts))) + [len(verdicts)]))
        """)
    assert result == [["safe", "malicious", 2], 100]
    assert not marker.exists()


# ---- fail closed: the caller's interpreter never parses a hostile byte ----------------------------------------

def probe_environment_code(call: str, target: str, marker) -> str:
    """Python that sets the crash probe (tests/sandbox_probe) into the environment the package's workers get."""
    from pathlib import Path
    from harness import picklewall_binary
    library = Path(picklewall_binary()).resolve().parent / "tests" / "unit" / "libpicklewall_sandbox_probe.so"
    return (f"import os\nos.environ.update(LD_PRELOAD={str(library)!r}, PICKLEWALL_PROBE_CALL={call!r}, "
            f"PICKLEWALL_PROBE_TARGET={target!r}, PICKLEWALL_PROBE_MARKER={str(marker)!r})\n")


def test_a_file_that_kills_its_parser_costs_only_its_report_and_never_the_interpreter(package, tmp_path):
    """picklewall.scan, load and guard() parse in sandboxed worker processes: a parser that crashes (the probe
    kills the worker as it maps crash.pkl) or is taken over (the probe's exec) is a report; the caller's
    interpreter goes on."""
    import pickle
    (tmp_path / "crash.pkl").write_bytes(pickle.dumps([1, 2]))
    (tmp_path / "fine.pkl").write_bytes(pickle.dumps([3, 4]))
    marker = tmp_path / "marker"
    for call, rule in (("segv", "scan.worker-crashed"), ("bus", "scan.worker-crashed"),
                       ("exec", "scan.sandbox-violation")):
        result = package.json(probe_environment_code(call, "crash.pkl", marker) + f"""
import json, pathlib, picklewall
report = picklewall.scan({str(tmp_path)!r})
by_name = {{pathlib.Path(f.path).name: f for f in report.files}}
crash = by_name["crash.pkl"]
again = picklewall.scan({str(tmp_path / "fine.pkl")!r}).verdict.value  # the pool replaced its dead worker
print(json.dumps([crash.verdict.value, crash.findings[0].rule, by_name["fine.pkl"].verdict.value, again]))
""")
        assert result[1] == rule and result[2] == result[3] == "safe", (call, result)
        assert result[0] == ("malicious" if call == "exec" else "suspicious")
        assert not marker.exists()


def test_ctrl_c_stops_a_scan_within_a_second(package, tmp_path):
    from fixtures import cost_inputs
    slow = tmp_path / "slow.pkl"
    slow.write_bytes(cost_inputs.distinct_globals(600_000))  # seconds of scanning, inside every limit
    code = f"""
import json, os, signal, threading, time, picklewall
picklewall.scan(b"N.")  # a worker is up: what is measured is the stop, not the start
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
started = time.monotonic()
for isolation in ("process",):
    try:
        picklewall.scan({str(slow)!r}, isolation=isolation)
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
stopped = time.monotonic()
children = [line for line in open(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}/children").read().split()]
print(json.dumps([outcome, stopped - started, len(children)]))
"""
    outcome, seconds, children = package.json(code)
    assert outcome == "interrupted" and seconds < 2.0, (outcome, seconds)  # 1 s to the signal, then at most 1 s
    in_process = package.json(code.replace('("process",)', '("in-process",)'))
    assert in_process[0] == "interrupted" and in_process[1] < 2.0, in_process


def test_every_engine_failure_is_a_picklewall_error_and_every_string_decodes(package, tmp_path):
    """Mutated inputs to picklewall.scan(bytes) once raised UnicodeDecodeError (messages cut inside a UTF-8
    character): every string of every report is a str, and every failure a PicklewallError."""
    result = package.json(f"""
import json, random, picklewall
random.seed(7)
seeds = [b"\\x80\\x04\\x95" + bytes(8) + "\\u00e9\\u4e2d\\U0001f600".encode() * 40 + b"\\x94.",
         b"\\x80\\x02X\\x10\\x00\\x00\\x00" + ("\\u00e9" * 8).encode() + b"q\\x00cos\\nsystem\\nq\\x01h\\x00\\x85R.",
         b"PK\\x03\\x04" + "\\u00e9".encode() * 30, b"(V" + "\\u4e2d".encode() * 60 + b"\\ntR."]
checked, failures, kinds = 0, 0, set()
for round in range(4000):
    data = bytearray(random.choice(seeds))
    for _ in range(random.randint(1, 6)):
        at = random.randrange(len(data))
        data[at] = random.randrange(256)
    try:
        report = picklewall.scan(bytes(data), name="m\\xe9utant")
        for file in report.files:
            for finding in file.findings:
                assert all(isinstance(v, str) for v in (finding.rule, finding.message, finding.member, finding.symbol))
            assert isinstance(file.path, str) and isinstance(file.format, str)
        report.to_json(); report.to_text()
        checked += 1
    except picklewall.PicklewallError as error:
        failures += 1
    except Exception as error:
        kinds.add(type(error).__name__)
print(json.dumps([checked, failures, sorted(kinds)]))
""", timeout=900)
    checked, failures, kinds = result
    assert kinds == [] and checked + failures == 4000, result


def test_the_guard_holds_every_unpickler_to_its_policy(package, tmp_path):
    """pickle._loads, pickle._Unpickler, _pickle.loads, _pickle.Unpickler, a `from pickle import loads` taken
    before the guard, cloudpickle and dill imported before it, and an Unpickler subclass defined before it all
    ran a payload under guard(): the audit hook on pickle.find_class refuses what the policy does not allow,
    whoever unpickles."""
    marker = tmp_path / "payload-ran"
    evil = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    result = package.json(f"""
import io, json, os, pickle, _pickle, collections
from pickle import loads as taken_before
import cloudpickle, dill
class Earlier(pickle.Unpickler):
    pass
import picklewall
EVIL = {evil!r}
attempts = {{
    "pickle.loads": lambda: pickle.loads(EVIL), "pickle._loads": lambda: pickle._loads(EVIL),
    "pickle._Unpickler": lambda: pickle._Unpickler(io.BytesIO(EVIL)).load(),
    "_pickle.loads": lambda: _pickle.loads(EVIL), "_pickle.Unpickler": lambda: _pickle.Unpickler(io.BytesIO(EVIL)).load(),
    "taken before": lambda: taken_before(EVIL), "cloudpickle.loads": lambda: cloudpickle.loads(EVIL),
    "dill.loads": lambda: dill.loads(EVIL), "subclass from before": lambda: Earlier(io.BytesIO(EVIL)).load(),
}}
out = {{}}
with picklewall.guard():
    for name, attempt in attempts.items():
        try:
            attempt()
            out[name] = "ran"
        except picklewall.UnsafeModelError:
            out[name] = "blocked"
    benign = pickle.dumps({{"a": [1, 2.5, "x"], "b": collections.OrderedDict(c=(1,))}}, protocol=2)
    out["benign through a reference taken before"] = repr(taken_before(benign))
print(json.dumps(out))
""")
    benign = result.pop("benign through a reference taken before")
    assert set(result.values()) == {"blocked"}, result
    assert "OrderedDict" in benign
    assert not marker.exists()

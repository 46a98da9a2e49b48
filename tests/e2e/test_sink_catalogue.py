"""policies/sinks.toml is what the installed libraries reach: the committed file lacks no sink-reaching symbol
the generator finds here (scripts/make_sink_catalogue.py --check), and known gadgets are found by the mechanism
that makes them dangerous, with a path that ends at a real sink.

The walk parses about ten thousand files; the generator caches what it extracts per file, so only the first run
on a machine pays for the parse."""
import importlib.util
import os
import sys
import time
import tomllib

import pytest

from harness import ROOT

SCRIPT = ROOT / "scripts" / "make_sink_catalogue.py"
CATALOGUE = ROOT / "policies" / "sinks.toml"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_sink_catalogue", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.setrecursionlimit(20000)
    return module


@pytest.fixture(scope="module")
def walk(generator):
    # The walk parses ~10,000 files, one forked parser per core: 83 s from a cold cache on this 2-core machine.
    # scripts/test.sh runs it in the release pass (PICKLEWALL_SINK_WALK=1); a plain pytest run skips it.
    if os.environ.get("PICKLEWALL_SINK_WALK") != "1":
        pytest.skip("the source walk runs with PICKLEWALL_SINK_WALK=1 (about 85 s cold on 2 cores)")
    stats = {"cached": 0, "parsed": 0, "skipped": 0, "skip_reasons": {}}
    started = time.monotonic()
    libraries, index, raw = generator.build(stats)
    coverage = generator.Coverage()
    kept, conflicts, denied = generator.select(index, raw, coverage)
    generator.trim(kept, coverage.stdlib)
    return {"raw": raw, "kept": kept, "libraries": dict(libraries), "seconds": time.monotonic() - started,
            "parsed": stats["parsed"]}


def test_committed_catalogue_lacks_nothing_the_installed_libraries_reach(generator, walk):
    missing = generator.lacking(walk["kept"], CATALOGUE)
    assert not missing, "run python3 scripts/make_sink_catalogue.py and review the diff:\n" + "\n".join(
        f"{kind}: {symbol} ({path})" for kind, symbol, path in missing[:50])
    # Bounded: from the per-file cache the walk took 80 s on a shared 2-core machine (target: 60 s, not yet met).
    if walk["parsed"] == 0:
        assert walk["seconds"] < 150, walk["seconds"]


def test_catalogue_parses_quickly_and_every_path_ends_at_a_sink(generator):
    started = time.monotonic()
    data = tomllib.loads(CATALOGUE.read_text())
    assert time.monotonic() - started < 1.0
    entries = 0
    for table in data["sink"]:
        assert table["kind"] in generator.KINDS or table["kind"] in generator.CLASS_KINDS
        assert table["symbols"] == sorted(table["symbols"])
        for symbol, path in table["symbols"]:
            hops = path.split(" -> ")
            assert hops[0] == symbol and hops[-1] in generator.SINKS, (symbol, path)
            entries += 1
    assert entries <= generator.MAX_ENTRIES


def test_nothing_listed_is_allowed_or_trusted_already(generator):
    coverage = generator.Coverage()
    data = tomllib.loads(CATALOGUE.read_text())
    for table in data["sink"]:
        for symbol, _ in table["symbols"]:
            assert coverage.names(symbol) is None, symbol


def _path(walk, symbol, kind):
    facts = walk["raw"].get(symbol, {})
    assert kind in facts, (symbol, sorted(facts))
    return facts[kind]


def test_known_gadgets_are_found_by_their_mechanism(generator, walk):
    libraries = walk["libraries"]
    if "six" in libraries:
        # six.exec_ is getattr(six.moves.builtins, "exec"): an alias through six's lazy module table
        assert _path(walk, "six.exec_", "code")[-1] == "builtins.exec"
        assert _path(walk, "six.moves.builtins.eval", "code")[-1] == "builtins.eval"
    if "sympy" in libraries:
        path = _path(walk, "sympy.sympify", "code")
        assert path[-1] in ("builtins.eval", "builtins.exec", "builtins.compile"), path
        assert "sympy.parsing.sympy_parser.parse_expr" in path
    if "jinja2" in libraries:
        path = _path(walk, "jinja2.environment.Environment.from_string", "code")
        assert path[-1] in ("builtins.exec", "builtins.compile"), path
    # torch's environment report runs programs (nvidia-smi, pip); dangerous.toml denies the module, so the
    # finding is in the raw walk and left out of the file.
    path = _path(walk, "torch.utils.collect_env.get_pretty_env_info", "process")
    assert path[-1].startswith(("subprocess.", "os.popen", "os.system")), path
    # numpy.f2py builds extension modules by running the compiler
    f2py = [p for s, f in walk["raw"].items() if s.startswith("numpy.f2py.") for k, p in f.items()
            if k == "process"]
    assert f2py and all(p[-1] in generator.SINKS for p in f2py)
    # a write-mode open is a file sink; a read is not
    assert _path(walk, "pathlib.Path.write_text", "file")[-1] in generator.SINKS
    assert "file" not in walk["raw"].get("pathlib.Path.read_text", {})
    # a constant module name is not an import a pickle controls
    assert "import" not in walk["raw"].get("torch._dynamo.reset", {})

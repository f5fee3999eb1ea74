"""Takes a checkpoint out of fmnist: a standalone training script (with the weights as a plain state_dict), an ONNX
model and a torch.export program. The two model files take images as they are, (N, 1, 28, 28) floats in [0, 1], and
return the 10 class probabilities: the normalisation and the softmax are inside, so no fmnist code is needed."""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

import torch
from torch import nn

from fmnist import __version__
from fmnist.data.dataset import CLASSES, MEAN, STD
from fmnist.export.script import render_script
from fmnist.store.checkpoints import Checkpoint

FORMATS = {"script": ".py", "onnx": ".onnx", "pt2": ".pt2"}
WEIGHTS_SUFFIX = ".pt"
INPUT_NAME, OUTPUT_NAME = "image", "probabilities"
EXAMPLE_BATCH = 4  # traced with 4 images; the batch dimension is exported as dynamic

# torch.export and the ONNX exporter trace through process-wide state: one export at a time (the app's sessions share
# a process).
_export_lock = threading.Lock()


class Probabilities(nn.Module):
    """Images (N, 1, 28, 28) in [0, 1] -> class probabilities (N, 10): the normalisation, the MLP and the softmax."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp = mlp

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = ((image - MEAN) / STD).reshape(image.shape[0], 784)
        return torch.softmax(self.mlp(x), dim=1)


def probabilities_model(ckpt: Checkpoint) -> Probabilities:
    return Probabilities(ckpt.model("cpu")).eval()


def metadata(ckpt: Checkpoint) -> dict[str, str]:
    """What a user of the file needs to know, as strings (ONNX metadata_props, the pt2 file's extra file)."""
    acc = (ckpt.meta.get("metrics") or {}).get("test_acc")
    return {
        "classes": json.dumps(list(CLASSES)),
        "fmnist_version": __version__,
        "checkpoint": ckpt.name,
        "architecture": ckpt.config.describe(),
        "test_accuracy": f"{acc:.2f}" if isinstance(acc, (int, float)) else "",
        "input": "image: float32 (N, 1, 28, 28), pixels in [0, 1] (0 = black), white item on black as Fashion-MNIST",
        "output": "probabilities: float32 (N, 10), softmax over the classes, in the order of 'classes'",
    }


def _example() -> tuple[torch.Tensor]:
    return (torch.rand(EXAMPLE_BATCH, 1, 28, 28),)


def _dynamic_shapes() -> dict:
    return {INPUT_NAME: {0: torch.export.Dim("batch", min=1, max=1 << 20)}}


def to_pt2(ckpt: Checkpoint) -> bytes:
    """A torch.export program (torch.export.load(f).module()(images)); the metadata is its extra file fmnist.json."""
    with _export_lock, torch.no_grad():
        program = torch.export.export(probabilities_model(ckpt), _example(), dynamic_shapes=_dynamic_shapes())
        buf = io.BytesIO()
        torch.export.save(program, buf, extra_files={"fmnist.json": json.dumps(metadata(ckpt))})
    return buf.getvalue()


def to_onnx(ckpt: Checkpoint) -> bytes:
    """The ONNX model (torch's dynamo exporter), its metadata in metadata_props."""
    with _export_lock, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals say nothing to a user
        program = torch.onnx.export(probabilities_model(ckpt), _example(), dynamo=True, verbose=False,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes=_dynamic_shapes())
    program.model.doc_string = f"fmnist {ckpt.config.describe()}: Fashion-MNIST class probabilities"
    program.model.metadata_props.update(metadata(ckpt))
    with tempfile.TemporaryDirectory() as tmp:  # ONNXProgram.save writes to a path only
        path = Path(tmp) / "model.onnx"
        program.save(path)
        return path.read_bytes()


def script_weights(ckpt: Checkpoint) -> bytes:
    """The weights under the script's names (its MLP keeps the layers in `self.layers`), saved as a plain state_dict
    that torch.load(..., weights_only=True) reads without running code."""
    buf = io.BytesIO()
    torch.save({f"layers.{k}": v.contiguous() for k, v in ckpt.state.items()}, buf)
    return buf.getvalue()


def to_script(ckpt: Checkpoint, script_name: str | None = None, weights_name: str | None = None) -> str:
    script_name = script_name or ckpt.name + FORMATS["script"]
    weights_name = weights_name or Path(script_name).stem + WEIGHTS_SUFFIX
    return render_script(ckpt.meta, ckpt.config, ckpt.name, script_name, weights_name)


def export_files(ckpt: Checkpoint, fmt: str, out: Path) -> dict[Path, bytes]:
    """The files of one export, by path: the script comes with its weights next to it (same name, .pt)."""
    if fmt == "script":
        weights = out.with_suffix(WEIGHTS_SUFFIX)
        return {out: to_script(ckpt, out.name, weights.name).encode(), weights: script_weights(ckpt)}
    return {out: to_onnx(ckpt) if fmt == "onnx" else to_pt2(ckpt)}


def out_path(name: str, fmt: str, out: str | os.PathLike | None) -> Path:
    """--out checked: a file with the format's suffix in an existing folder, or a folder to put <name><suffix> in
    (the default: the current folder). ValueError (bad arguments) with a one-line message otherwise."""
    suffix = FORMATS[fmt]
    path = Path(out) if out else Path(name + suffix)
    if path.is_dir():
        path = path / (name + suffix)
    if path.suffix != suffix:
        raise ValueError(f"--out for --format {fmt} must end in {suffix} (got {path.name!r})")
    if not path.parent.is_dir():
        raise ValueError(f"--out: the folder {str(path.parent)!r} does not exist")
    return path


def write(files: dict[Path, bytes]) -> list[Path]:
    """Each file atomically (a hidden temp file renamed into place), so no half-written export is left behind;
    OSError (a full disk, no permission) propagates with nothing left over."""
    for path, data in files.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep the file from other users of a shared folder
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(path)) from None  # named by the file asked for, not the temp
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return list(files)


_cache: dict[tuple, bytes] = {}
_cache_lock = threading.Lock()
CACHE_ENTRIES = 12


def export_bytes(path: Path, kind: str) -> bytes:
    """The bytes of one download for a checkpoint file ("script", "weights", "onnx" or "pt2"), made on first ask
    and kept per file version (path, size, modification time), so the app makes each at most once."""
    from fmnist.store.checkpoints import load

    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, kind)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    ckpt = load(path)
    make = {"script": lambda: to_script(ckpt).encode(), "weights": lambda: script_weights(ckpt),
            "onnx": lambda: to_onnx(ckpt), "pt2": lambda: to_pt2(ckpt)}[kind]
    data = make()
    with _cache_lock:
        while len(_cache) >= CACHE_ENTRIES:
            _cache.pop(next(iter(_cache)))  # the oldest first
        _cache[key] = data
    return data

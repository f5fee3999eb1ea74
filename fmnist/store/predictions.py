"""A checkpoint's test-set predictions kept on disk, so that a server started again (or a second server) shows
Evaluate and Explore without classifying the 10,000 test images again: 1.5 s of a core for the shipped default model
(784-2048-2048-10), half a minute for the CNN on a busy 2-core machine.

A file is named after what the predictions were made from: the checkpoint's bytes (a copy of the file finds them, a
file saved again does not), the test set's files and this format's version. NumPy only: the app's server reads them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from fmnist.data.dataset import CACHE_DIR, DataError, find_files
from fmnist.inspect.evaluation import Evaluation

VERSION = "v1"
KEEP = 64  # files; about 0.5 MB each: the oldest go first
FIELDS = ("accuracy", "loss", "confusion", "predictions", "probabilities")


def key(checkpoint: Path) -> str:
    digest = hashlib.sha256(VERSION.encode())
    with open(checkpoint, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    for split in ("test_images", "test_labels"):
        path = find_files()[split]
        st = path.stat()
        digest.update(f"|{split}={path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def _path(checkpoint: Path, folder: Path | None) -> Path:
    return (folder or CACHE_DIR) / f"predictions-{key(Path(checkpoint))}.npz"


def load(checkpoint: Path, folder: Path | None = None) -> Evaluation | None:
    """The predictions kept for this checkpoint file, or None (none kept, or unreadable: they are made again)."""
    try:
        path = _path(checkpoint, folder)
        with np.load(path) as z:
            ev = Evaluation(float(z["accuracy"]), float(z["loss"]), z["confusion"], z["predictions"],
                            z["probabilities"])
        os.utime(path)  # recently used: kept longer
        return ev
    except (OSError, ValueError, KeyError, DataError):
        return None


def save(checkpoint: Path, ev: Evaluation, folder: Path | None = None) -> None:
    """Keeps the predictions, atomically; nothing happens where the folder cannot be written."""
    try:
        path = _path(checkpoint, folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{name: getattr(ev, name) for name in FIELDS})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(path.parent)
    except (OSError, DataError):
        pass


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("predictions-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)

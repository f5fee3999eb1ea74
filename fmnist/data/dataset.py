"""Finds, validates and loads the four Fashion-MNIST IDX files; keeps them as tensors, once per process.

A folder may also hold a subset in the same format: each file the first images (and their labels) of the full one,
written with its own count in the header; a slow machine's class demo, or a browser test that trains the lesson's
presets to the end, trains on that in seconds.

torch is imported only by the functions that make tensors, so the app's server can read the files (and name the
classes) without paying for it. The normalised copy that training reads is written once to a cache file and
memory-mapped by every process that trains (the app's workers, the CLI), so they share one copy in the page cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from fmnist import env

if TYPE_CHECKING:
    import torch

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MEAN, STD = 0.5, 0.5
FILES = {
    "train_images": ("train-images-idx3-ubyte", 2051, 60_000),
    "train_labels": ("train-labels-idx1-ubyte", 2049, 60_000),
    "test_images": ("t10k-images-idx3-ubyte", 2051, 10_000),
    "test_labels": ("t10k-labels-idx1-ubyte", 2049, 10_000),
}
PROJECT_DATA = env.ROOT / "data"
DEBIAN_DATA = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Get it one of two ways: on Debian/Ubuntu run `apt-get install -y dataset-fashion-mnist`, "
    "or connect to the internet and run `python -m fmnist data`, which downloads it when it is not found."
)


class DataError(RuntimeError):
    """The dataset is missing or damaged; the message names the file and the fix."""


@dataclass(frozen=True)
class Dataset:
    train_images: torch.Tensor  # uint8 (60000, 28, 28)
    train_labels: torch.Tensor  # int64 (60000,)
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path
    files: dict[str, Path] | None = None  # where it was read from; None for a dataset made in memory


def _candidates(data_dir: str | os.PathLike | None) -> list[Path]:
    explicit = data_dir or env.data_dir()
    if explicit:
        return [Path(explicit)]
    return [PROJECT_DATA, DEBIAN_DATA]


def _find_file(folder: Path, stem: str) -> Path | None:
    # torchvision keeps its files under ROOT/FashionMNIST/raw; accept that layout as well as a flat folder.
    for sub in (folder, folder / "FashionMNIST" / "raw"):
        for name in (stem, stem + ".gz"):
            if (sub / name).is_file():
                return sub / name
    return None


def download_root() -> Path:
    """Where `python -m fmnist data` downloads to: FMNIST_DATA_DIR when set (it is then the only place searched),
    else ./data."""
    return env.data_dir() or PROJECT_DATA


def find_files(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The four files from the first folder that has all of them; DataError lists what each place lacked."""
    report = []
    for folder in _candidates(data_dir):
        found = {key: _find_file(folder, stem) for key, (stem, _, _) in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
        missing = [FILES[k][0] for k, v in found.items() if v is None]
        report.append(f"{folder}: missing {', '.join(missing)}")
    raise DataError("Fashion-MNIST not found (" + "; ".join(report) + "). " + HOW_TO_GET)


def _read_bytes(path: Path, size: int = -1) -> bytes:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            return f.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read ({exc}). Delete it and fetch the data again. {HOW_TO_GET}") from exc


def idx_count(path: Path) -> int:
    """How many images or labels an IDX file says it holds (its header alone is read)."""
    return int.from_bytes(_read_bytes(path, 8)[4:8], "big")


def read_idx(path: Path, magic: int, count: int) -> np.ndarray:
    """Reads one IDX file and checks it is the Fashion-MNIST file it claims to be: `count` items, or fewer (a
    subset), never more."""
    raw = _read_bytes(path)
    ndim = magic - 2048
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise DataError(f"{path}: not an IDX file of this kind (magic {found!r}, expected {magic}). {HOW_TO_GET}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = [count] + ([28, 28] if ndim == 3 else [])
    if len(dims) != len(expected) or dims[1:] != expected[1:] or not 1 <= dims[0] <= count:
        raise DataError(f"{path}: shape {dims}, expected {expected} (or fewer than {count:,} items). {HOW_TO_GET}")
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise DataError(f"{path}: holds {len(raw) - header} bytes of data, expected {size} (truncated?). {HOW_TO_GET}")
    arr = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and arr.max() > 9:
        raise DataError(f"{path}: label {int(arr.max())} is outside 0-9. {HOW_TO_GET}")
    return arr


def read_dataset(files: dict[str, Path]) -> Dataset:
    import torch

    arrays = {key: torch.from_numpy(read_idx(files[key], magic, count).copy())
              for key, (_, magic, count) in FILES.items()}
    for split in ("train", "test"):
        images, labels = files[f"{split}_images"], files[f"{split}_labels"]
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise DataError(f"{images} holds {len(arrays[f'{split}_images']):,} images but {labels} "
                            f"{len(arrays[f'{split}_labels']):,} labels. {HOW_TO_GET}")
    return Dataset(
        train_images=arrays["train_images"], train_labels=arrays["train_labels"].long(),
        test_images=arrays["test_images"], test_labels=arrays["test_labels"].long(),
        source=files["train_images"].parent, files=dict(files),
    )


_cache: dict[tuple, Dataset] = {}
_lock = threading.Lock()


def load_dataset(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Loaded once per process and shared read-only by every caller (the app's sessions included)."""
    files = find_files(data_dir)
    key = tuple(sorted((k, str(p.resolve())) for k, p in files.items()))
    with _lock:
        if key not in _cache:
            _cache[key] = read_dataset(files)
        return _cache[key]


EVAL_CHUNK = 10_000  # images evaluated at once: the memory guard (fmnist/training/memory.py) counts on it
BLACK = (0.0 - MEAN) / STD  # a black pixel after normalisation: the background, padding and saliency baseline


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 28, 28) -> float32 (..., 784), as the notebook's ToTensor + Normalize(0.5, 0.5)."""
    return (images.reshape(*images.shape[:-2], 784).float() / 255 - MEAN) / STD


_device_cache: dict[tuple, tuple[torch.Tensor, ...]] = {}
CACHE_DIR = PROJECT_DATA / "cache"
_SPLITS = ("train_images", "train_labels", "test_images", "test_labels")


def device_tensors(ds: Dataset | None, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised train/test images (N, 784) and labels on a device, made once per process, device and dataset
    (read-only by convention). `ds=None` is the dataset found on disk; it and any dataset read from files come
    from the shared cache file, so a process that trains neither decompresses the files nor holds a copy of its
    own."""
    import torch

    files = find_files() if ds is None else ds.files
    key = (_files_key(files) if files else id(ds), str(device))
    with _lock:
        if key not in _device_cache:
            cpu = _shared_cpu_tensors(files) if files else None
            if cpu is None:
                ds = ds or read_dataset(files)
                cpu = (normalize(ds.train_images), ds.train_labels, normalize(ds.test_images), ds.test_labels)
            _device_cache[key] = tuple(t.to(torch.device(device)) for t in cpu)
        return _device_cache[key]  # type: ignore[return-value]


def _files_key(files: dict[str, Path]) -> str:
    """Names the cache file after what it was made from: the files' paths, sizes and times, and the normalisation."""
    parts = [f"{MEAN}/{STD}/v1"]
    for k in _SPLITS:
        st = files[k].stat()
        parts.append(f"{k}={files[k].resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _shared_cpu_tensors(files: dict[str, Path]) -> tuple | None:
    """The four tensors memory-mapped from the cache (written first if missing); None where no cache can be written,
    and the caller keeps a private copy instead."""
    import torch

    path = CACHE_DIR / f"normalized-{_files_key(files)}.bin"
    n_train, n_test = idx_count(files["train_labels"]), idx_count(files["test_labels"])  # a subset's own counts
    sizes = [n_train * 784 * 4, n_train * 8, n_test * 784 * 4, n_test * 8]
    try:
        if not path.is_file() or path.stat().st_size != sum(sizes):
            _write_cache(path, read_dataset(files))
        flat = torch.from_file(str(path), shared=True, size=sum(sizes), dtype=torch.uint8)
    except (OSError, RuntimeError):  # a read-only or full disk: train from a private copy
        return None
    out, offset = [], 0
    for size, dtype, shape in zip(sizes, (torch.float32, torch.int64) * 2,
                                  ((n_train, 784), (n_train,), (n_test, 784), (n_test,))):
        out.append(flat[offset:offset + size].view(dtype).view(shape))
        offset += size
    return tuple(out)


def _write_cache(path: Path, ds: Dataset) -> None:
    """Atomically (temp file, then rename): processes that start at once may both write, and neither reads a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for t in (normalize(ds.train_images), ds.train_labels, normalize(ds.test_images), ds.test_labels):
                f.write(t.contiguous().numpy().tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(root: Path = PROJECT_DATA) -> dict[str, Path]:
    """torchvision's download (it prints its own progress) into ROOT/FashionMNIST/raw."""
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
    except Exception as exc:  # network errors come in many types; all mean the same to the user
        raise DataError(f"Download failed ({exc}). {HOW_TO_GET}") from exc
    return find_files(root)


def torchvision_root(files: dict[str, Path], root: Path = PROJECT_DATA) -> Path:
    """A folder torchvision's FashionMNIST accepts: it wants extracted files under ROOT/FashionMNIST/raw
    (Debian's recompressed .gz files fail its md5 check), so extract them there once."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for stem, _, _ in FILES.values():
        target = raw / stem
        if target.is_file():
            continue
        src = next(p for p in files.values() if p.name.startswith(stem))
        tmp = target.with_suffix(".part")
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, target)
    return root

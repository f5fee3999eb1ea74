import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from fmnist.data import dataset as data
from fmnist.data.dataset import CLASSES, DataError, device_tensors, find_files, load_dataset, normalize, read_idx
from tests.helpers import write_idx, write_subset


def test_real_dataset_loads_with_expected_shapes(dataset):
    assert dataset.train_images.shape == (60_000, 28, 28) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (10_000, 28, 28)
    assert dataset.train_labels.shape == (60_000,) and dataset.test_labels.dtype == torch.int64
    # Fashion-MNIST is balanced: 6,000 and 1,000 images of each class.
    assert torch.bincount(dataset.train_labels).tolist() == [6000] * 10
    assert torch.bincount(dataset.test_labels).tolist() == [1000] * 10
    assert len(CLASSES) == 10 and CLASSES[0] == "T-shirt/top" and CLASSES[9] == "Ankle boot"


def test_dataset_is_loaded_once_per_process(dataset):
    assert load_dataset() is dataset


def test_normalize_matches_totensor_and_normalize():
    imgs = torch.tensor([[[0, 255], [128, 64]]], dtype=torch.uint8).repeat(1, 14, 14)
    out = normalize(imgs)
    assert out.shape == (1, 784)
    assert out[0, 0].item() == -1.0 and out[0, 1].item() == 1.0
    assert abs(out[0, 28].item() - (128 / 255 - 0.5) / 0.5) < 1e-6


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_accepts_plain_and_gzip(tmp_path, compress):
    labels = np.arange(10, dtype=np.uint8)
    p = write_idx(tmp_path / ("l.gz" if compress else "l"), labels, compress=compress)
    assert read_idx(p, 2049, 10).tolist() == list(range(10))


def test_wrong_magic_is_named(tmp_path):
    p = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(10), magic=2051 + 100)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*magic"):
        read_idx(p, 2049, 10)


def test_short_file_is_reported_as_truncated(tmp_path):
    p = write_idx(tmp_path / "imgs", np.zeros((3, 28, 28)))
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        read_idx(p, 2051, 3)


def test_wrong_count_and_shape(tmp_path):
    p = write_idx(tmp_path / "imgs", np.zeros((3, 28, 28)))
    with pytest.raises(DataError, match=r"shape \[3, 28, 28\], expected \[2, 28, 28\] \(or fewer"):
        read_idx(p, 2051, 2)  # more images than the full set has
    assert read_idx(p, 2051, 60_000).shape == (3, 28, 28)  # fewer: a subset
    q = write_idx(tmp_path / "imgs2", np.zeros((2, 27, 28)))
    with pytest.raises(DataError, match="expected"):
        read_idx(q, 2051, 2)
    with pytest.raises(DataError, match="expected"):
        read_idx(write_idx(tmp_path / "none", np.zeros((0, 28, 28))), 2051, 2)


def test_a_subset_loads_and_trains_from_its_own_cache(tmp_path, dataset, monkeypatch):
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")  # not beside the real data's cache
    folder = write_subset(tmp_path / "small", dataset, 300, 100)
    small = load_dataset(folder)
    assert small.train_images.shape == (300, 28, 28) and small.test_labels.shape == (100,)
    assert torch.equal(small.train_images, dataset.train_images[:300])
    assert torch.equal(small.test_labels, dataset.test_labels[:100])
    x, y, xt, yt = device_tensors(small, "cpu")  # the shared cache file, sized for the subset
    assert x.shape == (300, 784) and xt.shape == (100, 784) and torch.equal(yt, dataset.test_labels[:100])
    assert torch.equal(xt, normalize(dataset.test_images[:100]))
    assert [p.stat().st_size for p in (tmp_path / "cache").iterdir()] == [(300 + 100) * (784 * 4 + 8)]


def test_a_subset_whose_images_and_labels_differ_in_number_is_refused(tmp_path, dataset):
    folder = write_subset(tmp_path / "odd", dataset, 300, 100)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", dataset.test_labels[:99].numpy(), 2049, compress=True)
    with pytest.raises(DataError, match="100 images but .*t10k-labels-idx1-ubyte.gz 99 labels"):
        load_dataset(folder)


def test_label_out_of_range(tmp_path):
    p = write_idx(tmp_path / "labels", np.array([1, 2, 11]))
    with pytest.raises(DataError, match="outside 0-9"):
        read_idx(p, 2049, 3)


def test_corrupt_gzip_names_file_and_fix(tmp_path):
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*apt-get install -y dataset-fashion-mnist"):
        read_idx(p, 2051, 10_000)


def test_missing_data_message_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as exc:
        find_files(tmp_path)
    msg = str(exc.value)
    assert "train-images-idx3-ubyte" in msg and "apt-get install -y dataset-fashion-mnist" in msg
    assert "`python -m fmnist data`" in msg


def test_the_advised_command_runs_and_downloads_where_the_data_is_looked_for(tmp_path):
    """The command in the missing-data message, run as printed: with FMNIST_DATA_DIR on an empty folder it reaches
    the download into that folder, which here fails fast on a proxy that refuses (no test downloads 30 MB)."""
    advised = re.search(r"`(python -m fmnist [^`]*)`", data.HOW_TO_GET).group(1)
    argv = [sys.executable, *shlex.split(advised)[1:]]
    refuse = "http://127.0.0.1:9"  # the discard port: connection refused
    env = {**os.environ, "FMNIST_DATA_DIR": str(tmp_path / "nowhere"), "https_proxy": refuse, "HTTPS_PROXY": refuse,
           "http_proxy": refuse, "HTTP_PROXY": refuse, "no_proxy": "", "NO_PROXY": ""}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=data.PROJECT_DATA.parent)
    assert "unrecognized arguments" not in proc.stderr and proc.returncode != 2, proc.stderr
    assert f"downloading into {tmp_path / 'nowhere'}" in proc.stderr, proc.stderr
    assert proc.returncode == 1 and "error: Download failed" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_search_order_prefers_explicit_dir_and_env(tmp_path, monkeypatch):
    src = find_files()
    for p in src.values():
        shutil.copy(p, tmp_path / p.name)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path))
    assert all(p.parent == tmp_path for p in find_files().values())
    monkeypatch.delenv("FMNIST_DATA_DIR")
    assert find_files(tmp_path)["train_images"].parent == tmp_path


def test_torchvision_layout_is_found_and_made(tmp_path):
    src = find_files()
    root = data.torchvision_root(src, tmp_path)
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(stem for stem, _, _ in data.FILES.values())
    found = find_files(tmp_path)
    assert found["test_labels"] == raw / "t10k-labels-idx1-ubyte"
    assert read_idx(found["test_labels"], 2049, 10_000).shape == (10_000,)

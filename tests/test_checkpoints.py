import json
import os
import pickle
import subprocess
import sys

import pytest
import torch

from fmnist.store import checkpoints
from fmnist.store.checkpoints import CheckpointError, CheckpointStore, load, run_meta, save


def test_round_trip_rebuilds_the_same_model(tmp_path, tiny_result, dataset):
    path = save(tmp_path / "m.safetensors", tiny_result.model, run_meta(tiny_result, "x"))
    ckpt = load(path)
    assert ckpt.config == tiny_result.config
    assert ckpt.meta["history"] == json.loads(json.dumps(tiny_result.history))
    assert ckpt.meta["normalization"] == {"mean": 0.5, "std": 0.5} and "torch" in ckpt.meta["versions"]
    x = dataset.test_images[:100].reshape(100, 784).float() / 255 * 2 - 1
    with torch.no_grad():
        assert torch.equal(ckpt.model()(x), tiny_result.model.eval()(x))


def test_truncated_and_garbage_files(tmp_path, tiny_result):
    path = save(tmp_path / "m.safetensors", tiny_result.model, run_meta(tiny_result, "tests"))
    blob = path.read_bytes()
    (tmp_path / "short.safetensors").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name in ("short", "junk", "empty"):
        with pytest.raises(CheckpointError, match=f"{name}.safetensors: not a readable safetensors checkpoint"):
            load(tmp_path / f"{name}.safetensors")


def test_foreign_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="not an fmnist checkpoint"):
        load(tmp_path / "other.safetensors")


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Boom()
    evil.marker = marker
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps({"state_dict": evil}))
    with pytest.raises(CheckpointError):
        load(bad)
    torch_pickle = tmp_path / "evil2.safetensors"
    torch.save({"x": evil}, torch_pickle)
    with pytest.raises(CheckpointError):
        load(torch_pickle)
    assert not marker.exists()


def test_metadata_that_does_not_match_weights(tmp_path, tiny_result):
    meta = run_meta(tiny_result, "tests")
    meta["config"]["hidden"] = [64]
    path = save(tmp_path / "m.safetensors", tiny_result.model, meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load(path)
    meta["config"]["hidden"] = [0]
    path = save(tmp_path / "m2.safetensors", tiny_result.model, meta)
    with pytest.raises(CheckpointError, match="config metadata is invalid"):
        load(path)


@pytest.mark.parametrize("name", ["../evil", "a/b", "/etc/passwd", "..", ".hidden", "bad\nname", "tab\tname",
                                  "", "x" * 200, "semi;colon"])
def test_bad_names_are_refused_everywhere(tmp_path, tiny_result, name):
    store = CheckpointStore(tmp_path / "ck")
    save(store.path_for("ok"), tiny_result.model, run_meta(tiny_result, "tests"))
    with pytest.raises(CheckpointError):
        store.save(name, tiny_result.model, run_meta(tiny_result, "tests"))
    with pytest.raises(CheckpointError):
        store.delete(name)
    with pytest.raises(CheckpointError):
        store.rename("ok", name)
    with pytest.raises(CheckpointError):
        store.load(name)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ck", "ok.safetensors"]


def test_store_list_rename_delete(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    store.save("default", tiny_result.model, run_meta(tiny_result, "tests"))
    name = store.unique_name(tiny_result.config, tiny_result.test_acc)
    store.save(name, tiny_result.model, run_meta(tiny_result, "tests"))
    assert store.unique_name(tiny_result.config, tiny_result.test_acc) != name  # a second run never overwrites
    (tmp_path / "broken.safetensors").write_bytes(b"nope")
    rows = store.list()
    assert rows[0]["name"] == "default" and {r["name"] for r in rows} == {"default", name, "broken"}
    assert next(r for r in rows if r["name"] == "broken")["error"]
    store.rename(name, "renamed")
    assert (tmp_path / "renamed.safetensors").exists() and not (tmp_path / f"{name}.safetensors").exists()
    with pytest.raises(CheckpointError, match="already exists"):
        store.rename("renamed", "default")
    with pytest.raises(CheckpointError, match="cannot be deleted"):
        store.delete("default")
    store.delete("renamed")
    assert not (tmp_path / "renamed.safetensors").exists()


def test_failed_write_leaves_nothing(tmp_path, tiny_result, monkeypatch):
    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "fsync", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save(tmp_path / "m.safetensors", tiny_result.model, run_meta(tiny_result, "tests"))
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_no_partial_checkpoint(tmp_path):
    """A process killed in the middle of a save: the real name never appears, only a hidden temp file may."""
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(os.getcwd())!r})
from fmnist.store import checkpoints
from fmnist.config import SEED
from fmnist.model.mlp import MLP
real_fsync = os.fsync
def die(fd):
    os.kill(os.getpid(), signal.SIGKILL)
checkpoints.os.fsync = die
checkpoints.save(__import__('pathlib').Path({str(tmp_path)!r}) / 'm.safetensors', MLP(SEED), {{'format': 'x'}})
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -9
    assert not (tmp_path / "m.safetensors").exists()
    assert CheckpointStore(tmp_path).list() == []


def test_exclusive_saves_never_overwrite(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    first = store.save_new("run", tiny_result.model, run_meta(tiny_result, "first"))
    second = store.save_new("run", tiny_result.model, run_meta(tiny_result, "second"))
    assert (first.name, second.name) == ("run.safetensors", "run-2.safetensors")
    assert load(first).meta["command"] == "first" and load(second).meta["command"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-2.safetensors", "run.safetensors"]  # no temp left

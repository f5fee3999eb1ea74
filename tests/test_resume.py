"""Recovery after a crash (fmnist/store/recovery.py, RecoveryFile.restore/save, `train --recover`, alias `--resume`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from fmnist.cli.main import main
from fmnist.config import SEED
from fmnist.store import checkpoints, recovery
from fmnist.training.control import RunControl
from fmnist.training.loop import train
from tests.helpers import ROOT, TINY_ARGS, train_to_done


def test_sigkill_at_epoch_3_of_5_then_resume_ends_at_epoch_5_with_the_whole_history(tmp_path, capsys):
    env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(tmp_path)}
    out = tmp_path / "run.safetensors"
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", "train", *TINY_ARGS, "--epochs", "5", "--json",
                             "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for line in proc.stdout:
            if json.loads(line).get("epoch") == 3:
                proc.send_signal(signal.SIGKILL)  # no chance to clean up: what a crash or the OOM killer does
                break
        assert proc.wait(60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    (path,) = (tmp_path / ".resume").glob("*.safetensors")
    assert f"--recover {path}" in stderr and not out.exists()
    assert [r["epoch"] for r in recovery.interrupted(checkpoints.CheckpointStore(tmp_path))] == [3]

    assert main(["train", "--recover", str(path), "--json", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["epoch"] for e in lines[:-1]] == [4, 5] and lines[-1]["epochs"] == 5
    meta = checkpoints.load(out).meta
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3, 4, 5]  # no gap, nothing twice
    elapsed = [h["elapsed_s"] for h in meta["history"]]
    assert elapsed == sorted(elapsed)  # time goes on from where the run was
    assert not path.exists() and list((tmp_path).glob(".resume/*")) == []  # the finished run leaves nothing




def test_resuming_the_seed_preset_after_epoch_2_gives_the_uninterrupted_epoch_3(tmp_path, dataset):
    """The seed preset's shuffles come from one RNG stream; the resume file keeps it exactly (CPU). One 128-wide layer
    instead of 1024-128-64: the stream, the drop_last batches and the evaluation passes' draws are the preset's, in a
    fifth of the time."""
    config = SEED.replace(hidden=(128,), device="cpu")
    live = recovery.RecoveryFile(tmp_path / "live.safetensors")
    control = RunControl()
    after_two = tmp_path / "after-epoch-2.safetensors"
    uninterrupted = {}
    for ev in train(config, dataset, control, log_every=10_000, recovery=live):
        if ev.kind == "epoch":
            uninterrupted[ev.epoch] = ev.test_acc
            if ev.epoch == 2:
                shutil.copy(live.path, after_two)  # the file as a crash right after epoch 2 would leave it
            if ev.epoch == 3:
                control.stop()
    resumed = {}
    control = RunControl()
    for ev in train(config, dataset, control, log_every=10_000,
                    recovery=recovery.RecoveryFile(after_two, continuing=True)):
        if ev.kind == "epoch":
            resumed[ev.epoch] = ev.test_acc
            control.stop()
    assert list(resumed) == [3]
    print(f"seed recipe, 128 wide, epoch 3: uninterrupted {uninterrupted[3]:.2f}%, "
          f"resumed after epoch 2 {resumed[3]:.2f}%")
    assert resumed[3] == pytest.approx(uninterrupted[3], abs=0.01)


def test_resuming_a_run_with_mirrors_and_warps_draws_them_as_the_uninterrupted_run(tmp_path, tiny_config, dataset):
    """The augmentation's own generator is kept in the resume file: epoch 2 after a resume mirrors and warps the images
    the uninterrupted run's epoch 2 did, so the weights come out the same."""
    config = tiny_config.replace(flip=True, warp=True, epochs=2)
    live = recovery.RecoveryFile(tmp_path / "live.safetensors")
    after_one = tmp_path / "after-epoch-1.safetensors"
    for ev in train(config, dataset, log_every=10_000, recovery=live):
        if ev.kind == "epoch" and ev.epoch == 1:
            shutil.copy(live.path, after_one)  # the file as a crash right after epoch 1 would leave it
        if ev.kind == "done":
            uninterrupted = ev.result.model
    continued = recovery.RecoveryFile(after_one, continuing=True)
    resumed = train_to_done(config, dataset, log_every=10_000, recovery=continued)[1]
    assert torch.equal(resumed.model[0].weight, uninterrupted[0].weight)


def test_a_run_under_way_is_not_listed_and_cannot_be_claimed_twice(tmp_path, tiny_config, dataset):
    store = checkpoints.CheckpointStore(tmp_path)
    rf = recovery.RecoveryFile(recovery.new_path(tmp_path, tiny_config.replace(epochs=2)))
    events = train(tiny_config.replace(epochs=2), dataset, recovery=rf)
    next(ev for ev in events if ev.kind == "epoch")
    assert rf.path.is_file() and recovery.interrupted(store) == []  # its trainer holds the lock
    with pytest.raises(recovery.RecoveryError, match="being trained right now"):
        recovery.RecoveryFile(rf.path, continuing=True).claim()
    events.close()  # the trainer is gone: the run is interrupted now
    (row,) = recovery.interrupted(store)
    assert row["epoch"] == 1 and row["epochs"] == 2 and row["owner"] == "cli"
    with pytest.raises(recovery.RecoveryError, match="another session's run"):
        recovery.discard(store, row["name"], owner="someone-else")
    recovery.discard(store, row["name"], owner="cli")
    assert recovery.interrupted(store) == [] and not rf.path.exists()


def test_resume_refuses_a_checkpoint_and_settings_flags(tmp_path, tiny_checkpoint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(tiny_checkpoint)])
    assert exc.value.code == 2 and "not an fmnist resume file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(tiny_checkpoint), "--epochs", "3"])
    assert exc.value.code == 2 and "leave out --epochs" in capsys.readouterr().err


def test_an_allocation_failing_mid_run_ends_as_out_of_memory_with_its_last_epoch_kept(tmp_path, tiny_config, dataset,
                                                                                     monkeypatch):
    """Another process takes the memory after the guard let the run start: epoch 2's first step cannot allocate.
    The run ends "out of memory" with the estimate and the advice, not the allocator's text, and epoch 1 resumes."""
    from fmnist.training.memory import advice, estimate
    from fmnist.training.step import Step

    config = tiny_config.replace(epochs=3)
    real_step = Step.__call__
    calls = {"epoch": 0}

    def step(self, idx):
        if calls["epoch"] >= 1:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                               "memory: you tried to allocate 4831838208 bytes. Error code 12")
        return real_step(self, idx)

    monkeypatch.setattr(Step, "__call__", step)
    live = recovery.RecoveryFile(tmp_path / "live.safetensors")
    events = []
    for ev in train(config, dataset, log_every=10_000, recovery=live):
        events.append(ev)
        calls["epoch"] += ev.kind == "epoch"
    failed = events[-1]
    assert failed.kind == "failed" and failed.epoch == 2
    assert failed.reason.startswith("out of memory at epoch 2 (epoch 1 is kept for resuming); this run needs about ")
    assert "Allocator" not in failed.reason and failed.reason.endswith(": " + advice(config, estimate(config)))
    assert recovery.read(live.path, tensors=False)[0]["epoch"] == 1

    monkeypatch.setattr(Step, "__call__", real_step)
    epochs = [ev.epoch for ev in train(config, dataset, log_every=10_000,
                                       recovery=recovery.RecoveryFile(live.path, continuing=True))
              if ev.kind == "epoch"]
    assert epochs == [2, 3]

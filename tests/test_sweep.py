"""Sweeps on Optuna: bad input, pruning, divergence, stop and resume, and several processes sharing one study on
SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from fmnist.cli import main as cli
from fmnist.config import TrainConfig
from fmnist.data.dataset import device_tensors
from fmnist.inspect.evaluate import evaluate
from fmnist.store import checkpoints
from fmnist.sweep import space
from fmnist.sweep import study as sweep
from tests.helpers import TINY
from tests.postgres_server import postgres_server
from tests.server_process import ROOT

# Every trial: the tiny model, one epoch of batches of 512 (about a second on a quiet core), 2,000 validation images.
FIXED = ["--hidden", "32", "--optimizer", "adam", "--batch-size", "512", "--epochs", "1", "--val-size", "2000",
         "--device", "cpu"]
BASE = TINY.replace(batch_size=512, val_size=2000, epochs=2)
TrialState = optuna.trial.TrialState


def sweep_cmd(study: str, storage: str, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fmnist", "sweep", "--study", study, "--trials", str(trials), "--storage", storage,
            "--param", "lr=loguniform:1e-3:3e-2", *FIXED, *extra]


def env_for(ckpts: Path) -> dict:
    # One thread each: two processes on two cores, as two machines would be.
    return {**os.environ, "FMNIST_CHECKPOINT_DIR": str(ckpts), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_two_at_once(study: str, storage: str, ckpts: Path) -> list[list[dict]]:
    procs = [subprocess.Popen(sweep_cmd(study, storage, 3, "--json"), cwd=ROOT, env=env_for(ckpts), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    return [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]


def assert_shared(lines: list[list[dict]], study_name: str, storage: str) -> None:
    trials = [[row for row in rows if "trial" in row] for rows in lines]
    numbers = [row["trial"] for rows in trials for row in rows]
    assert sorted(numbers) == list(range(6)), numbers  # six distinct trials, none run twice
    for rows in trials:
        assert len(rows) == 3 and any(r["state"] == "COMPLETE" for r in rows)
        assert set(rows[0]) >= {"trial", "state", "params", "val_acc", "test_acc", "elapsed_s"}
    study = optuna.load_study(study_name=study_name, storage=sweep.open_storage(storage))
    assert len(study.trials) == 6
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    summary = lines[0][-1]
    assert summary["summary"] and summary["best"]["trial"] in numbers


@pytest.fixture(scope="module")
def shared_sqlite(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-sqlite")
    storage = f"sqlite:///{root / 'studies.db'}"
    return run_two_at_once("shared", storage, root / "checkpoints"), storage, root / "checkpoints"


def test_two_processes_share_one_sqlite_study(shared_sqlite):
    lines, storage, _ = shared_sqlite
    assert_shared(lines, "shared", storage)


def test_two_processes_share_one_postgresql_study(tmp_path):
    with postgres_server(tmp_path) as url:
        lines = run_two_at_once("shared-pg", url, tmp_path / "checkpoints")
        assert_shared(lines, "shared-pg", url)


def test_best_trial_checkpoint_loads_and_evaluates(shared_sqlite, dataset):
    lines, storage, ckpts = shared_sqlite
    best = json.loads((ckpts / "sweeps" / "shared" / "best.json").read_text())
    study = optuna.load_study(study_name="shared", storage=storage)
    assert best["trial"] == study.best_trial.number and best["val_acc"] == study.best_value
    ckpt = checkpoints.load(Path(best["checkpoint"]))
    assert ckpt.meta["sweep"] == {"study": "shared", "trial": best["trial"], "params": best["params"]}
    assert ckpt.config.lr == best["params"]["lr"] and ckpt.config.val_size == 2000
    _, _, x, y = device_tensors(dataset, torch.device("cpu"))
    assert evaluate(ckpt.model(), x, y).accuracy == pytest.approx(best["test_acc"], abs=0.01)
    assert best["val_acc"] == ckpt.meta["history"][-1]["val_acc"]  # chosen on validation, never on the test set


def in_memory_study(name: str, **kw) -> optuna.Study:
    return sweep.open_study(name, optuna.storages.InMemoryStorage(), **kw)


def test_a_hopeless_trial_is_pruned_after_its_first_epoch(tmp_path, dataset):
    study = in_memory_study("prune", pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    params = space.parse_params(["lr=loguniform:1e-6:1e-2"], BASE)
    study.enqueue_trial({"lr": 3e-3})
    study.enqueue_trial({"lr": 1e-6})  # barely moves from its initial weights
    store = checkpoints.CheckpointStore(tmp_path)
    good, bad = sweep.SequentialSweep(study, BASE, params, store, dataset).run(2)
    assert good.state == "COMPLETE" and bad.state == "PRUNED"
    trial = study.trials[1]
    assert trial.state == TrialState.PRUNED and list(trial.intermediate_values) == [1]
    assert len(trial.user_attrs["history"]) == 1  # stopped after epoch 1 of 2
    assert store.path_for("trial-0").is_file() and not store.path_for("trial-1").exists()


def test_a_diverging_trial_fails_with_its_reason_and_the_sweep_goes_on(tmp_path, dataset):
    study = in_memory_study("diverge")
    base = BASE.replace(hidden=(32, 32), optimizer="momentum", epochs=1)
    params = space.parse_params(["lr=loguniform:1e-3:10"], base)
    study.enqueue_trial({"lr": 10.0})
    study.enqueue_trial({"lr": 1e-2})
    first, second = sweep.SequentialSweep(study, base, params, checkpoints.CheckpointStore(tmp_path), dataset).run(2)
    assert first.state == "FAIL" and "diverged" in first.reason
    assert study.trials[0].state == TrialState.FAIL and "diverged" in study.trials[0].user_attrs["fail_reason"]
    assert second.state == "COMPLETE" and study.trials[1].state == TrialState.COMPLETE


def test_ctrl_c_leaves_no_trial_running_and_the_study_resumes(tmp_path):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    cmd = sweep_cmd("resume", storage, 2)
    cmd[cmd.index("--epochs") + 1] = "3"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(tmp_path), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    seen = []
    for line in proc.stdout:  # Ctrl-C in the middle of trial 0
        seen.append(line)
        if "trial 0 epoch 1/3" in line:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, "".join(seen) + out + err
    assert "run the same command to resume" in out
    study = optuna.load_study(study_name="resume", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    assert study.trials[0].user_attrs["fail_reason"] == sweep.STOP_REASON

    again = subprocess.run(sweep_cmd("resume", storage, 1, "--json"), cwd=ROOT, env=env_for(tmp_path), text=True,
                           capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    row = json.loads(again.stdout.splitlines()[0])
    assert row["trial"] == 1 and row["state"] == "COMPLETE"
    study = optuna.load_study(study_name="resume", storage=storage)
    assert study.trials[1].params == study.trials[0].params  # the interrupted trial, run again
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]


def test_grid_sampler_runs_each_point_once_then_stops(tmp_path, dataset):
    params = space.parse_params(["hidden=choice:32|16", "lr=choice:0.003|0.01"], BASE.replace(epochs=1))
    study = in_memory_study("grid", sampler=sweep.make_sampler("grid", params))
    outs = list(sweep.SequentialSweep(study, BASE.replace(epochs=1), params, checkpoints.CheckpointStore(tmp_path),
                                      dataset).run(10))
    assert len(outs) == 4
    assert sorted((o.params["hidden"], o.params["lr"]) for o in outs) == [
        ("16", 0.003), ("16", 0.01), ("32", 0.003), ("32", 0.01)]


def test_choices_become_config_values():
    p = space.parse_params(["hidden=choice:512,256|128", "batch_norm=choice:true|false", "activation=choice:gelu"],
                           TrainConfig())
    assert p[0].choices == ("512,256", "128") and space.config_value("hidden", "512,256") == (512, 256)
    assert p[1].choices == (True, False) and p[2].choices == ("gelu",)


@pytest.fixture
def readonly_storage(tmp_path):
    path = tmp_path / "ro.db"
    sweep.open_study("existing", f"sqlite:///{path}")
    return f"sqlite:///file:{path}?mode=ro&uri=true"


BAD = {
    "empty range": (["--param", "lr=uniform:0.1:0.1"], "the range is empty"),
    "reversed range": (["--param", "lr=loguniform:0.1:0.001"], "the range is reversed"),
    "unknown field": (["--param", "learning_rate=uniform:0.1:0.2"], "'learning_rate' is not a training setting"),
    "malformed spec": (["--param", "lr=loguniform:0.1"], "a range is loguniform:LOW:HIGH"),
    "unknown kind": (["--param", "lr=normal:0.1:0.2"], "unknown kind 'normal'"),
    "no spec": (["--param", "lr"], "give a parameter as FIELD=SPEC"),
    "not a number": (["--param", "lr=uniform:a:1"], "'a' is not a number"),
    "bad choice": (["--param", "batch_size=choice:64|big"], "'big' is not a value for this field"),
    "out of range": (["--param", "lr=loguniform:0.1:20"], "learning rate must be a number above 0 and at most 10"),
    "wrong kind": (["--param", "activation=uniform:0:1"], "activation is not a number"),
    "too many trials": (["--trials", "501", "--param", "lr=uniform:0.1:0.2"], "--trials must be between 1 and 500"),
    "no validation": (["--val-size", "0", "--param", "lr=uniform:0.1:0.2"], "--val-size must be above 0"),
    "grid of a range": (["--sampler", "grid", "--param", "lr=uniform:0.1:0.2"], "the grid sampler needs choice:"),
    "bad study name": (["--study", "../x", "--param", "lr=uniform:0.1:0.2"], "not a valid study name"),
    "unreachable storage": (["--storage", "postgresql://fmnist@127.0.0.1:9/none", "--param", "lr=uniform:0.1:0.2"],
                            "cannot use storage postgresql://fmnist@127.0.0.1:9/none"),
    "not a storage URL": (["--storage", "nosuch://x", "--param", "lr=uniform:0.1:0.2"], "is not an Optuna storage URL"),
    "journal folder missing": (["--storage", "journal:/nonexistent/j.log", "--param", "lr=uniform:0.1:0.2"],
                               "the folder /nonexistent does not exist"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_message(case, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_SWEEP_STORAGE", f"sqlite:///{tmp_path / 'studies.db'}")
    args, message = BAD[case]
    argv = ["sweep", "--study", "s", "--trials", "2", *args]
    if "--study" in args:
        argv = ["sweep", "--trials", "2", *args]
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_read_only_storage_is_refused(readonly_storage, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", "--study", "existing", "--trials", "1", "--storage", readonly_storage,
                  "--param", "lr=uniform:0.1:0.2"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "is read-only" in err and len(err.splitlines()) == 1, err


def test_stopping_the_page_sweep_leaves_no_trial_running(tmp_path):
    from fmnist.sweep.runner import ParallelSweep

    study = in_memory_study("page-stop")
    params = space.parse_params(["lr=loguniform:1e-3:1e-2"], BASE)
    runner = ParallelSweep(study, BASE.replace(epochs=3), params, 4, checkpoints.CheckpointStore(tmp_path),
                           parallel=2).start()
    deadline = time.monotonic() + 300
    while not any(t.snapshot.step for t in runner.live()) and time.monotonic() < deadline:
        time.sleep(0.1)
    runner.stop()
    assert runner.join(120)
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states and TrialState.FAIL in states, states
    assert states.count(TrialState.WAITING) == states.count(TrialState.FAIL)  # each stopped trial queued again
    assert all(t.user_attrs["fail_reason"] == sweep.STOP_REASON for t in study.trials if t.state == TrialState.FAIL)
    assert not list(tmp_path.glob("*.safetensors"))  # a stopped trial keeps no checkpoint

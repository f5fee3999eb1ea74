"""A class challenge's engine (issue #37): one validation split for every run, limits as a pure function, names,
the board's ranking, test accuracy hidden until revealed, storage that survives a restart, the teacher's password."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import torch

from fmnist.challenge import (
    AdminError,
    ChallengeError,
    ChallengeStore,
    Limits,
    broken_limits,
    challenge_config,
    clean_name,
    entry_figures,
)
from fmnist.challenge.store import now
from fmnist.config import BEST, QUICK, TrainConfig
from fmnist.model.architecture import parameter_count
from fmnist.training.control import RunControl
from fmnist.training.loop import _Run
from fmnist.training.recipe import split_validation
from tests.helpers import figures

PASSWORD = "teach"


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_ADMIN_PASSWORD", PASSWORD)
    s = ChallengeStore(f"sqlite:///{tmp_path / 'class.db'}")
    yield s
    s.close()


def _split_of(config, dataset):
    run = _Run(config, dataset, RunControl(), 25, False, False, None)
    list(run.set_up())
    return run


def test_every_run_of_a_challenge_is_scored_on_the_same_split_never_trained_on(dataset):
    limits = Limits(max_epochs=1)
    tiny = TrainConfig(hidden=(8,), epochs=1, device="cpu", val_size=5000)
    runs = [_split_of(challenge_config(limits, tiny.replace(seed=seed)), dataset) for seed in (1, 99999)]
    rows, val = split_validation(60_000, 5000, limits.split_seed)
    x_all = torch.as_tensor(runs[0].x_all)
    for run in runs:
        assert torch.equal(run.rows.cpu(), rows)  # the rows trained on: the same for every seed
        assert torch.equal(run.x_val.cpu(), x_all[val])  # the images scored on: the same 5,000
    assert len(set(rows.tolist()) & set(val.tolist())) == 0 and len(rows) + len(val) == 60_000
    # Outside a challenge the split follows the seed: that is why a challenge fixes its own.
    assert not torch.equal(_split_of(tiny.replace(seed=1), dataset).rows.cpu(), rows)


def test_a_cli_run_without_val_size_gets_the_challenges():
    limits = Limits()
    config = challenge_config(limits, QUICK, val_size_given=False)
    assert (config.val_size, config.val_seed) == (5000, limits.split_seed)
    assert not broken_limits(limits, config)
    assert [b.field for b in broken_limits(limits, challenge_config(limits, QUICK))] == ["val_size"]


def test_limits_are_a_pure_function_of_the_config():
    limits = Limits(max_params=50_000, max_epochs=5, locked={"optimizer": "adam", "hidden": [32]})
    ok = TrainConfig(hidden=(32,), optimizer="adam", epochs=5, val_size=5000)
    assert broken_limits(limits, ok) == []
    bad = BEST.replace(optimizer="sgd", epochs=6)
    found = [(b.field, b.message) for b in broken_limits(limits, bad)]
    assert [f for f, _m in found] == ["hidden", "epochs", "optimizer", "hidden"]
    assert f"{parameter_count(bad):,} parameters" in found[0][1] and "50,000" in found[0][1]
    assert "at most 5 epochs" in found[1][1]
    assert found[2][1] == "the challenge sets this to adam" and found[3][1] == "the challenge sets this to 32"


def test_convolution_blocks_need_a_challenge_that_allows_them():
    cnn = TrainConfig(conv=(8,), hidden=(16,), epochs=1, val_size=5000)
    assert [(b.field, b.message) for b in broken_limits(Limits(), cnn)] == [
        ("conv", "the challenge allows MLPs only: no convolution blocks")]
    assert broken_limits(Limits(allow_conv=True), cnn) == []
    assert broken_limits(Limits(), cnn.replace(conv=())) == []  # the same network without its blocks is an MLP


def test_figures_take_the_kept_epochs_validation_accuracy():
    history = [{"val_acc": 80.0}, {"val_acc": 85.0}, {"val_acc": 83.0}]
    config = TrainConfig(hidden=(32,), val_size=5000)
    assert entry_figures(config, history, 84.0, 3.0, best_epoch=2)["val_acc"] == 85.0
    f = entry_figures(config, history, 84.0, 3.0, best_epoch=None)
    assert (f["val_acc"], f["test_acc"], f["params"]) == (83.0, 84.0, parameter_count(config))


def test_names_are_trimmed_bounded_and_unique_in_a_challenge(db):
    assert clean_name("  Kim   Minji \n") == "Kim Minji"
    with pytest.raises(ChallengeError, match="at most 32"):
        clean_name("x" * 33)
    with pytest.raises(ChallengeError):
        clean_name("   ")
    a, b = db.create("A"), db.create("B")
    assert db.join(a.id, " Ada ", "s1") == "Ada"
    assert db.join(a.id, "ada", "s1") == "Ada"  # the same student again
    with pytest.raises(ChallengeError, match="taken"):
        db.join(a.id, "ADA", "s2")
    assert db.join(b.id, "Ada", "s2") == "Ada"  # another challenge: free
    assert db.join(a.id, "<b>x</b>", "s3") == "<b>x</b>"  # kept as typed; every view escapes it


def test_the_board_ranks_each_students_best_run_and_keeps_all(db):
    c = db.create("Class", limits=Limits(max_epochs=3))
    db.enter(c.id, "Ada", "s1", figures(85.0, 84.0))
    db.enter(c.id, "Ada", "s1", figures(88.0, 85.0))
    db.enter(c.id, "Bo", "s2", figures(87.0, 87.5))
    db.enter(c.id, "Cy", "s3", figures(86.0, 86.0))
    db.enter(c.id, "Cy", "s3", {}, broken="stopped before its last epoch")
    board = db.board(c.id)
    assert [(r.rank, r.name, r.entry.val_acc, r.runs) for r in board.rows] == [
        (1, "Ada", 88.0, 2), (2, "Bo", 87.0, 1), (3, "Cy", 86.0, 1)]
    assert [e.broken for e in board.apart] == ["stopped before its last epoch"]
    assert len(board.entries) == 5


def test_test_accuracy_stays_hidden_until_revealed_then_ranks_move(db):
    c = db.create("Class")
    db.enter(c.id, "Ada", "s1", figures(88.0, 85.0))
    db.enter(c.id, "Bo", "s2", figures(87.0, 87.5))
    shown = db.board(c.id).as_dict()
    assert all("test_acc" not in row for row in shown["rows"]) and "85.0" not in str(shown)
    with pytest.raises(AdminError):
        db.reveal(c.id, "wrong")
    db.reveal(c.id, PASSWORD)
    rows = db.board(c.id).as_dict()["rows"]
    assert [(r["name"], r["test_acc"], r["test_rank"], r["moved"]) for r in rows] == [
        ("Ada", 85.0, 2, -1), ("Bo", 87.5, 1, 1)]


def test_the_board_survives_a_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path))
    first = ChallengeStore()  # the default: challenges.db in the checkpoints folder
    assert first.url.endswith(str(tmp_path / "challenges.db"))
    c = first.create("Class", "Beat 85%", Limits(max_params=10_000))
    first.enter(c.id, "Ada", "s1", figures(88.0, 85.0))
    first.close()
    again = ChallengeStore()
    board = again.board(c.id)
    assert board.challenge.title == "Class" and board.challenge.limits.max_params == 10_000
    assert [r.name for r in board.rows] == ["Ada"]
    again.close()


def test_the_teachers_operations_need_the_password(db, monkeypatch):
    c, other = db.create("Class"), db.create("Other")
    e = db.enter(c.id, "Ada", "s1", figures(88.0, 85.0))
    db.enter(other.id, "Bo", "s2", figures(80.0, 80.0))
    for op in (lambda p: db.reveal(c.id, p), lambda p: db.close_challenge(c.id, p),
               lambda p: db.hide(c.id, e.id, "copied", p), lambda p: db.clear(c.id, p),
               lambda p: db.export_csv(c.id, p)):
        for password in (None, "", "teach!"):
            with pytest.raises(AdminError):
                op(password)
    assert not db.board(c.id).challenge.revealed and db.board(c.id).rows
    db.hide(c.id, e.id, "copied the leader", PASSWORD)
    board = db.board(c.id)
    assert not board.rows and [x.hidden_reason for x in board.hidden_for("s1")] == ["copied the leader"]
    assert board.hidden_for("s2") == []
    table = list(csv.DictReader(io.StringIO(db.export_csv(c.id, PASSWORD))))
    assert [(r["name"], r["hidden"], r["test_acc"]) for r in table] == [("Ada", "True", "85.0")]
    assert db.clear(c.id, PASSWORD) == 1
    assert db.board(c.id).entries == [] and len(db.board(other.id).entries) == 1  # nothing of another challenge
    db.close_challenge(c.id, PASSWORD)
    with pytest.raises(ChallengeError, match="closed"):
        db.enter(c.id, "Ada", "s1", figures(90.0, 90.0))
    monkeypatch.delenv("FMNIST_ADMIN_PASSWORD")
    with pytest.raises(AdminError, match="no admin password"):
        db.reveal(c.id, PASSWORD)


def test_a_closing_time_closes_the_challenge(db):
    c = db.create("Class", closes_at=now() - timedelta(minutes=1))
    with pytest.raises(ChallengeError, match="closed"):
        db.enter(c.id, "Ada", "s1", figures(88.0, 85.0))
    assert db.create("Later", closes_at=now() + timedelta(hours=1)).is_open()

"""A challenge's runs from the CLI and from the app's worker: refused before training when they break a limit (exit 2
in a terminal; a crafted request to a worker), entered on the board when they finish."""

from __future__ import annotations

import pytest

from fmnist.challenge import ChallengeStore, Limits
from fmnist.cli.main import main
from fmnist.runs.jobs import TrainingJob, WorkerPool
from fmnist.store.checkpoints import CheckpointStore
from tests.helpers import TINY_ARGS, run_json, wait_finished

# The tiny run, 16 wide: 12,730 parameters, under the 20,000 the first test's challenge allows.
SMALL_ARGS = [*TINY_ARGS, "--hidden", "16"]


@pytest.fixture
def class_db(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("FMNIST_ADMIN_PASSWORD", "teach")
    url = f"sqlite:///{tmp_path / 'class.db'}"
    monkeypatch.setenv("FMNIST_CLASS_DB", url)
    s = ChallengeStore(url)
    yield s
    s.close()


def test_cli_creates_refuses_enters_and_the_board_hides_test_until_revealed(class_db, capsys):
    code, [made] = run_json(capsys, ["challenge", "create", "--title", "Small", "--max-params", "20000",
                                  "--max-epochs", "1", "--json"])
    cid = made["id"]
    assert code == 0 and made["link"].endswith(f"/class?challenge={cid}") and made["max_params"] == 20_000
    for argv, why in ((["--hidden", "64"], "this network has 50,890 parameters; the challenge allows at most 20,000"),
                      (["--epochs", "2"], "the challenge allows at most 1 epochs"),
                      (["--val-size", "1000"], "its own 5000 validation images")):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--challenge", cid, "--name", "Ada", *SMALL_ARGS, *argv])
        assert exit_.value.code == 2 and why in capsys.readouterr().err  # before training: no epoch printed
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--challenge", cid, *SMALL_ARGS])
    assert exit_.value.code == 2 and "--name" in capsys.readouterr().err
    code, lines = run_json(capsys, ["train", "--challenge", cid, "--name", "  Ada  ", *SMALL_ARGS, "--json"])
    assert code == 0 and lines[-1]["name"] == "Ada" and lines[-1]["broken"] is None
    code, [board] = run_json(capsys, ["challenge", "board", cid, "--json"])
    [row] = board["rows"]
    assert (row["rank"], row["name"], row["val_acc"]) == (1, "Ada", lines[-1]["val_acc"]) and "test_acc" not in row
    stored = class_db.board(cid).rows[0].entry.config
    assert (stored["val_size"], stored["val_seed"]) == (5000, 37)  # scored on the challenge's split


def test_cli_teacher_commands_need_the_password_and_say_where_it_came_from(class_db, capsys, monkeypatch):
    cid = class_db.create("Class").id
    with pytest.raises(SystemExit) as exit_:
        main(["challenge", "reveal", cid, "--password", "guess"])
    assert exit_.value.code == 2 and "wrong admin password" in capsys.readouterr().err
    assert main(["challenge", "reveal", cid, "--password", "teach"]) == 0
    assert "from --password" in capsys.readouterr().err
    assert main(["challenge", "close", cid]) == 0
    assert "from FMNIST_ADMIN_PASSWORD" in capsys.readouterr().err
    c = class_db.get(cid)
    assert c.revealed and not c.is_open()
    monkeypatch.delenv("FMNIST_ADMIN_PASSWORD")
    with pytest.raises(SystemExit) as exit_:
        main(["challenge", "close", cid, "--password", "teach"])
    assert exit_.value.code == 2 and "no admin password is set" in capsys.readouterr().err


def test_the_worker_refuses_a_crafted_run_and_enters_a_fair_one(class_db, tmp_path, tiny_config):
    c = class_db.create("Class", limits=Limits(max_params=30_000, max_epochs=1))
    spec = {"id": c.id, "name": "Bo", "db": class_db.url}
    pool = WorkerPool()
    try:
        # What a crafted request could send past the page: a network over the limit. The worker does not train it.
        crafted = TrainingJob(tiny_config.replace(hidden=(256,), val_size=5000), CheckpointStore(tmp_path),
                              workers=pool, owner="s-bo", challenge=spec).start()
        snap = wait_finished(crafted)
        assert snap.status == "failed" and "broken limit" in snap.error and snap.epochs == []
        # A fair run (its seed and split left to the student: the worker puts the challenge's split on it).
        fair = TrainingJob(tiny_config.replace(val_size=5000, seed=5), CheckpointStore(tmp_path), workers=pool,
                           owner="s-bo", challenge=spec).start()
        snap = wait_finished(fair)
        assert snap.status == "done", snap.error
        assert any("entered on the challenge's board" in n for n in snap.notes)
    finally:
        pool.shutdown()
    board = class_db.board(c.id)
    [row] = board.rows
    assert row.name == "Bo" and row.entry.owner == "s-bo" and row.entry.config["val_seed"] == 37
    assert row.entry.val_acc == pytest.approx(snap.epochs[-1]["val_acc"])
    assert [e.broken.startswith("hidden: this network has") for e in board.apart] == [True]

"""One class shared by several app servers (issue #37): the same challenge on a PostgreSQL URL (a throwaway server
started by the test, as the sweep's test does) takes entries from two processes training at once, and a third, the
Class page, shows both on its board."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from streamlit.testing.v1 import AppTest

from fmnist.challenge import ChallengeStore
from tests.helpers import APP
from tests.postgres_server import postgres_server
from tests.test_challenge_runs import SMALL_ARGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fmnist_process(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fmnist", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(proc: subprocess.Popen) -> list[dict]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_two_processes_enter_one_postgresql_challenge_and_the_page_shows_both(tmp_path, monkeypatch):
    with postgres_server(tmp_path) as url:
        def env_of(server: str) -> dict:  # each app server has its own checkpoints folder, one database
            return {**os.environ, "FMNIST_CLASS_DB": url, "FMNIST_ADMIN_PASSWORD": "teach", "OMP_NUM_THREADS": "1",
                    "FMNIST_CHECKPOINT_DIR": str(tmp_path / server)}

        [made] = finished(fmnist_process(["challenge", "create", "--title", "Shared", "--max-epochs", "1", "--json"],
                                         env_of("teacher")))
        cid = made["id"]
        runs = [fmnist_process(["train", "--challenge", cid, "--name", name, *SMALL_ARGS, "--seed", str(seed),
                                "--json"], env_of(f"server-{seed}")) for seed, name in ((1, "Ada"), (2, "Grace"))]
        entered = {lines[-1]["name"]: lines[-1]["val_acc"] for lines in map(finished, runs)}
        assert set(entered) == {"Ada", "Grace"}

        store = ChallengeStore(url)
        try:
            board = store.board(cid)
        finally:
            store.close()
        assert {r.name: r.entry.val_acc for r in board.rows} == entered
        assert [r.rank for r in board.rows] == [1, 2] and board.rows[0].entry.val_acc >= board.rows[1].entry.val_acc

        monkeypatch.setenv("FMNIST_CLASS_DB", url)
        monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path / "page"))
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["challenge"] = cid
        at.run()
        at.switch_page("pages/class.py")
        at.run()
        assert not at.exception, at.exception
        assert at.dataframe, "no board on the Class page"
        assert list(at.dataframe[0].value["name"]) == [r.name for r in board.rows]  # ranked as the store ranks

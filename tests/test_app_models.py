"""A shared server in the app (AppTest, in-process): others' checkpoints are listed but not deletable, the admin
password unlocks deleting, interrupted runs can be resumed from Models, and Start refuses a run that cannot fit."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from fmnist.config import TrainConfig
from fmnist.store import checkpoints, recovery
from fmnist.training.loop import train
from tests.helpers import APP, train_page

TWO_EPOCHS = TrainConfig(hidden=(32,), optimizer="adam", lr=3e-3, batch_size=512, epochs=2, device="cpu")


def models_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/models.py").run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def test_another_sessions_checkpoint_is_listed_usable_not_deletable_until_admin(ckpt_dir, monkeypatch):
    from test_app_train import save_as

    monkeypatch.setenv("FMNIST_ADMIN_PASSWORD", "teacher's secret")
    save_as(ckpt_dir, "classmate", "another-session-id")
    at = models_page()
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["classmate", "made by"] == "another session" and table.loc["default", "made by"] == "command line"

    at.selectbox(key="models_pick").set_value("classmate").run()
    at.button(key="models_activate").click().run()
    assert at.session_state["active_model"] == "classmate"  # made active, like any other
    assert at.get("download_button")[0].proto.label == "Download"
    delete = at.button(key="models_delete")
    assert delete.disabled and "another session" in delete.help

    at.text_input(key="owner_admin_typed").input("guess").run()
    assert "Wrong admin password" in texts(at.sidebar.error) and at.button(key="models_delete").disabled
    at.text_input(key="owner_admin_typed").input("teacher's secret").run()
    assert "Admin" in texts(at.sidebar.caption)
    at.checkbox(key="models_delete_sure").check().run()
    at.button(key="models_delete").click().run()
    assert not (ckpt_dir / "classmate.safetensors").exists() and "Deleted classmate" in texts(at.success)


def interrupt_after_first_epoch(root: Path, dataset) -> Path:
    """A real run that stops being trained after its first of two epochs (its generator closed, as a dead
    process would leave it): its resume file holds epoch 1 and nobody holds its lock."""
    rf = recovery.RecoveryFile(recovery.new_path(root, TWO_EPOCHS), owner="a-crashed-session")
    events = train(TWO_EPOCHS, dataset, recovery=rf)
    for ev in events:
        if ev.kind == "epoch":
            break
    events.close()
    return rf.path


def test_an_interrupted_run_is_listed_and_resumed_to_its_last_epoch(ckpt_dir, started, dataset):
    path = interrupt_after_first_epoch(ckpt_dir, dataset)
    at = models_page()
    assert "interrupted at epoch 1 of 2" in texts(at.markdown)
    name = path.name.removesuffix(".safetensors")
    assert at.button(key=f"models_discard_{name}").disabled  # another session's, though anyone may resume it
    at.button(key=f"models_resume_{name}").click().run()
    assert not at.exception, at.exception
    (job,) = started
    assert job.recover_from == str(path)  # the worker goes on from that file
    job.resume()
    assert job.join(300)
    snap = job.snapshot()
    assert snap.status == "done" and [e["epoch"] for e in snap.epochs] == [2]
    meta = checkpoints.read_meta(ckpt_dir / f"{snap.checkpoint}.safetensors")
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and meta["owner"] == at.session_state["owner_id"]
    assert not path.exists() and recovery.interrupted(checkpoints.CheckpointStore(ckpt_dir)) == []


def test_start_is_disabled_with_the_estimate_when_a_run_cannot_fit(ckpt_dir, monkeypatch):
    at = train_page()
    at.run()
    assert not at.button(key="train_start").disabled  # the seed preset fits
    monkeypatch.setenv("FMNIST_MAX_RUN_MB", "20")  # a server that allows one run 20 MB
    at.run()
    assert at.button(key="train_start").disabled
    message = texts(at.sidebar.error)
    assert "Not enough memory: this run needs about" in message and "20 MB" in message
    assert "a smaller batch" in message and "narrower or fewer layers" in message

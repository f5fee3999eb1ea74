"""Owners and quotas of a shared checkpoints folder (fmnist/store/checkpoints.py): your runs are yours, the admin may
delete any, a session keeps at most N checkpoints, and the folder has a size cap."""

import shutil

import pytest

from fmnist.runs.jobs import TrainingJob
from fmnist.store import checkpoints
from fmnist.store.checkpoints import CheckpointError, CheckpointStore, QuotaExceeded, Quotas, run_meta, save_run
from tests.helpers import wait_finished


def test_a_second_session_cannot_delete_or_rename_the_first_ones_checkpoint_the_admin_can(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    saved = save_run(store, "alices", tiny_result.model, run_meta(tiny_result, "tests"), owner="alice")
    assert checkpoints.read_meta(saved.path)["owner"] == "alice"
    for action in (lambda: store.delete("alices", owner="bob"), lambda: store.rename("alices", "x", owner="bob")):
        with pytest.raises(CheckpointError, match="made by another session"):
            action()
    assert saved.path.is_file()
    store.rename("alices", "alices-2", owner="alice")  # the owner may
    store.delete("alices-2", owner="bob", admin=True)  # and so may the admin
    assert not (tmp_path / "alices-2.safetensors").exists()


def test_cli_checkpoints_are_the_machine_owners_and_the_default_is_never_deleted(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    store.save("default", tiny_result.model, run_meta(tiny_result, "tests"))
    store.save("from-cli", tiny_result.model, run_meta(tiny_result, "python -m fmnist train"))
    assert checkpoints.owner_of(checkpoints.read_meta(tmp_path / "from-cli.safetensors")) == "cli"
    with pytest.raises(CheckpointError, match="only an admin may delete it"):
        store.delete("from-cli", owner="some-session")
    with pytest.raises(CheckpointError, match="cannot be deleted"):
        store.delete("default", owner="cli", admin=True)
    assert checkpoints.change_refused("default", None, "cli", admin=True)
    store.delete("from-cli", owner="some-session", admin=True)


def test_beyond_the_per_session_quota_the_oldest_run_of_that_session_is_removed(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    store.save("default", tiny_result.model, run_meta(tiny_result, "tests"))
    other = save_run(store, "bobs", tiny_result.model, run_meta(tiny_result, "tests"), owner="bob")
    quotas = Quotas(max_runs=2)
    names = [save_run(store, f"run{i}", tiny_result.model, run_meta(tiny_result, "tests"), "alice", quotas)
             for i in range(3)]
    assert [s.removed for s in names] == [[], [], ["run0"]]
    assert "Removed your oldest checkpoint run0" in names[2].notes[0] and "at most 2" in names[2].notes[0]
    assert sorted(r["name"] for r in store.list()) == ["bobs", "default", "run1", "run2"]
    assert other.path.is_file()  # another session's runs never count against this one


def test_past_the_folder_cap_a_run_is_not_saved_and_the_message_says_why(tmp_path, tiny_result):
    store = CheckpointStore(tmp_path)
    store.save("default", tiny_result.model, run_meta(tiny_result, "tests"))
    used_mb = store.total_bytes() / 1e6
    with pytest.raises(QuotaExceeded, match="FMNIST_MAX_CHECKPOINT_MB") as err:
        save_run(store, "big", tiny_result.model, run_meta(tiny_result, "tests"), "alice",
                 Quotas(max_mb=used_mb + 0.01))
    assert "not saved" in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["default.safetensors"]  # nothing written, default untouched
    save_run(store, "fits", tiny_result.model, run_meta(tiny_result, "tests"), "alice", Quotas(max_mb=used_mb + 1))


def test_quotas_come_from_the_environment_with_the_issues_defaults():
    assert Quotas.from_env({}) == Quotas(20, 2048)
    assert Quotas.from_env({"FMNIST_MAX_RUNS_PER_SESSION": "3", "FMNIST_MAX_CHECKPOINT_MB": "10.5"}) == Quotas(3, 10.5)
    with pytest.raises(CheckpointError, match="FMNIST_MAX_RUNS_PER_SESSION='many' is not a number"):
        Quotas.from_env({"FMNIST_MAX_RUNS_PER_SESSION": "many"})


def test_a_job_over_the_folder_cap_keeps_its_metrics_and_says_why(tmp_path, tiny_config, dataset, checkpoint_dir,
                                                                  monkeypatch):
    shutil.copy(checkpoint_dir / "default.safetensors", tmp_path)
    monkeypatch.setenv("FMNIST_MAX_CHECKPOINT_MB", "0.1")
    snap = wait_finished(TrainingJob(tiny_config, CheckpointStore(tmp_path), owner="alice").start())
    assert snap.status == "done" and snap.checkpoint is None and len(snap.epochs) == 1
    assert "FMNIST_MAX_CHECKPOINT_MB" in snap.save_error and "kept in this session" in snap.save_error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.safetensors"]


def test_a_job_beyond_the_session_quota_names_the_checkpoint_it_removed(tmp_path, tiny_config, dataset, monkeypatch):
    monkeypatch.setenv("FMNIST_MAX_RUNS_PER_SESSION", "1")
    store = CheckpointStore(tmp_path)
    first = wait_finished(TrainingJob(tiny_config, store, name="first", owner="alice").start())
    second = wait_finished(TrainingJob(tiny_config, store, name="second", owner="alice").start())
    assert first.checkpoint == "first" and second.checkpoint == "second"
    assert any("Removed your oldest checkpoint first" in n for n in second.notes)
    assert [r["name"] for r in store.list()] == ["second"]
    assert checkpoints.read_meta(tmp_path / "second.safetensors")["owner"] == "alice"

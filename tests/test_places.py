"""The app names its checkpoints folder and sweep storage, never the server's absolute paths or connection URLs."""

from __future__ import annotations

from fmnist import env
from tests.helpers import run_in_korean
from ui.places import folder_name, storage_name


def test_folders_and_storages_by_name():
    assert folder_name(env.ROOT / "checkpoints") == "checkpoints/"
    assert folder_name("/srv/private/teacher/ckpts") == "ckpts/"
    assert storage_name("sqlite:////home/teacher/fmnist/sweeps/studies.db") == "sqlite studies.db"
    assert storage_name("postgresql+psycopg://fmnist:secret@db.school/sweeps") == "postgresql sweeps"
    assert storage_name("journal:/var/lib/fmnist/journal.log") == "journal journal.log"


def test_models_and_sweep_pages_show_no_server_path(ckpt_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_SWEEP_STORAGE", f"sqlite:///{tmp_path / 'studies.db'}")
    models = run_in_korean("pages/models.py")
    shown = " ".join(str(c.value) for c in models.caption)
    assert "`checkpoints/`" in shown and str(ckpt_dir) not in shown
    sweep = run_in_korean("pages/sweep.py")
    infos = " ".join(i.value for i in sweep.info)
    assert "sqlite studies.db" in infos and str(tmp_path) not in infos

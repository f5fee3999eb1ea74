"""Settings from the environment live in one module (fmnist/env.py): every FMNIST_* variable the code names is listed
there with its default and meaning, read there only, and README's table is that list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fmnist import env

ROOT = Path(__file__).resolve().parent.parent
CODE = [p for d in ("fmnist", "ui", "pages") for p in sorted((ROOT / d).rglob("*.py"))] + [ROOT / "app.py"]


def test_readme_lists_exactly_the_variables_of_fmnist_env():
    assert env.markdown_table() in (ROOT / "README.md").read_text()


def test_every_variable_the_code_names_is_declared():
    named = {m for p in CODE for m in re.findall(r"FMNIST_[A-Z_]+", p.read_text())}
    assert named <= env.NAMES, sorted(named - env.NAMES)
    assert env.NAMES <= named | {"FMNIST_PROGRESS_AFTER_S"}


def test_only_fmnist_env_reads_the_environment_for_a_variable():
    readers = [p.relative_to(ROOT) for p in CODE if p.name != "env.py"
               and re.search(r"(environ|getenv)[^\n]*FMNIST_", p.read_text())]
    assert readers == []


def test_values_are_read_when_asked_and_numbers_say_which_variable_is_wrong(monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path))
    assert env.checkpoint_dir() == tmp_path
    monkeypatch.delenv("FMNIST_CHECKPOINT_DIR")
    assert env.checkpoint_dir() == ROOT / "checkpoints"
    monkeypatch.setenv("FMNIST_MAX_RUN_MB", "lots")
    with pytest.raises(ValueError, match="FMNIST_MAX_RUN_MB='lots' is not a number"):
        env.number("FMNIST_MAX_RUN_MB", 0.0)
    with pytest.raises(KeyError):
        env.get("FMNIST_TYPO")

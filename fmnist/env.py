"""Every setting fmnist reads from the environment, in one place: its name, its default and what it means.

Values are read when asked for (never cached at import), so a test or a server's launcher can set them at any time.
README's table of variables is checked against VARIABLES by tests/test_env.py. Nothing here imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: checkpoints/, data/, locales/, app.py


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as the README shows it; "" when unset means "not used"
    meaning: str


VARIABLES = (
    Variable("FMNIST_DATA_DIR", "", "the only folder searched for the four Fashion-MNIST files (and where "
             "`python -m fmnist data` downloads them); unset: ./data, then Debian's /usr/share/datasets/fashion-mnist"),
    Variable("FMNIST_CHECKPOINT_DIR", "checkpoints/", "where checkpoints, recovery files and sweep trials are saved"),
    Variable("FMNIST_SWEEP_STORAGE", "", "the Optuna storage URL of sweeps (sqlite:///..., postgresql://..., or "
             "journal:PATH); unset: sweeps/studies.db"),
    Variable("FMNIST_CLASS_DB", "", "the SQLAlchemy URL of class challenges and their boards (sqlite:///..., "
             "postgresql://...), so several app servers share one class; unset: challenges.db in the checkpoints "
             "folder"),
    Variable("FMNIST_MAX_RUNS", "the number of cores", "runs that train at once on the app's server"),
    Variable("FMNIST_MAX_RUNS_PER_SESSION", "20", "checkpoints one browser session keeps; its oldest go beyond that"),
    Variable("FMNIST_MAX_CHECKPOINT_MB", "2048", "the checkpoints folder's size cap: a run that would pass it is not "
             "saved"),
    Variable("FMNIST_MAX_RUN_MB", "", "a server's bound on one run's memory, under the machine's free memory"),
    Variable("FMNIST_WORKER_NICE", "5", "how far below the server the training workers run (nice)"),
    Variable("FMNIST_ADMIN_PASSWORD", "", "lets a session that types it delete any checkpoint (also read from "
             "Streamlit's secrets); unset: no admin"),
    Variable("FMNIST_PROGRESS_AFTER_S", "2", "seconds an epoch runs before the CLI draws its progress bar"),
)
NAMES = frozenset(v.name for v in VARIABLES)


def get(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, None when unset or empty. Only names listed in VARIABLES may be read."""
    if name not in NAMES:
        raise KeyError(f"{name} is not one of fmnist's environment variables (fmnist/env.py)")
    return (os.environ if env is None else env).get(name) or None


def number(name: str, default: float, kind=float, env: Mapping[str, str] | None = None) -> float:
    """A numeric variable; ValueError (naming the variable) when it is set to something else."""
    text = get(name, env)
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None


def checkpoint_dir() -> Path:
    return Path(get("FMNIST_CHECKPOINT_DIR") or ROOT / "checkpoints")


def data_dir() -> Path | None:
    text = get("FMNIST_DATA_DIR")
    return Path(text) if text else None


def markdown_table() -> str:
    """VARIABLES as README's table (tests/test_env.py checks that README holds exactly this)."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default or '(unset)'} | {v.meaning} |" for v in VARIABLES]
    return "\n".join(rows)

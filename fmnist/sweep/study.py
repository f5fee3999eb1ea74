"""Hyper-parameter sweeps on Optuna: the search space, the study and its storage, and one trial from ask to tell.

A study lives in any Optuna storage (an SQLite file by default, PostgreSQL or MySQL through SQLAlchemy, or a journal
file), so several processes or machines running the same sweep share its trials. The objective is validation
accuracy, maximised; the test set is measured and recorded, never used to choose. Nothing here knows about Streamlit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna

from fmnist import env
from fmnist.config import TrainConfig
from fmnist.data.dataset import Dataset
from fmnist.messages import N_
from fmnist.store import checkpoints
from fmnist.sweep.space import (
    Param,
    SweepError,
    config_value,
)
from fmnist.training.control import RunControl
from fmnist.training.events import DoneEvent, EpochEvent, FailedEvent
from fmnist.training.loop import train

SWEEP_DIR = env.ROOT / "sweeps"
SAMPLERS = ("tpe", "random", "grid")
# Optuna's default waits for 5 finished trials before it prunes; sweeps here are often 10-20 trials, so 3.
PRUNE_AFTER = 3
STOP_REASON = N_("stopped before it finished")

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI and the page say what happens, in their own words


def check_study_name(name: str) -> str:
    """Study names are folder names under checkpoints/sweeps/, so they follow the checkpoint name rules."""
    try:
        return checkpoints.check_name(name)
    except checkpoints.CheckpointError:
        raise SweepError(N_("{name} is not a valid study name: use letters, digits, '-', '_' and '.', starting with "
                            "a letter or digit, at most 80 characters").format(name=repr(name))) from None


# Storage.

def default_storage() -> str:
    """FMNIST_SWEEP_STORAGE, else one SQLite file under sweeps/ that holds every study."""
    return env.get("FMNIST_SWEEP_STORAGE") or f"sqlite:///{SWEEP_DIR / 'studies.db'}"


def describe_storage(url: str) -> str:
    """The URL without its password, for messages and metadata."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for the URL (journal:PATH for a journal file), or a SweepError saying why it cannot be used."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:").removeprefix("//"))
        if not path.parent.is_dir():
            raise SweepError(N_("storage {url}: the folder {folder} does not exist").format(
                url=url, folder=path.parent))
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise SweepError(N_("storage {url}: cannot open the journal file ({reason})").format(
                url=url, reason=exc.strerror or exc)) from None
    import sqlalchemy.exc

    kwargs: dict = {}
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///")
        if url == default_storage() and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Processes sharing one file wait for each other's writes instead of failing after sqlite's 5 s.
        kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    for attempt in range(10):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError):
            raise SweepError(N_("{url} is not an Optuna storage URL (e.g. sqlite:///sweeps/s.db, "
                                "postgresql://user:password@host/db or journal:PATH)").format(
                url=repr(describe_storage(url)))) from None
        except ImportError:
            raise SweepError(N_("storage {url}: the database driver is not installed (PostgreSQL: pip install "
                                "'psycopg[binary]'; MySQL: pip install pymysql)").format(
                url=describe_storage(url))) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Two processes creating the tables of a new file at once: the loser sees them half made; once more.
            racing = isinstance(exc, sqlalchemy.exc.IntegrityError) or any(
                m in str(exc) for m in ("already exists", "locked", "duplicate key"))
            if attempt < 9 and racing:
                time.sleep(0.2 + 0.1 * attempt)
                continue
            raise SweepError(N_("cannot use storage {url}: {reason}").format(
                url=describe_storage(url), reason=_first_line(exc))) from None
    raise AssertionError("unreachable")


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def make_sampler(kind: str, params: Sequence[Param]) -> optuna.samplers.BaseSampler:
    """No fixed seed: processes sharing a study must not propose the same values."""
    if kind == "tpe":
        return optuna.samplers.TPESampler()
    if kind == "random":
        return optuna.samplers.RandomSampler()
    if kind == "grid":
        return _GridSampler({p.field: p.grid() for p in params})
    raise SweepError(f"unknown sampler {kind!r}; choose one of {', '.join(SAMPLERS)}")


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, less the study.stop() its after_trial calls on the last point: that only works inside
    study.optimize() and raises under ask and tell, so the drivers ask grid_done() before each trial instead."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def open_study(name: str, storage: str | optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler | None
               = None, pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Creates the study, or joins it when another process or an earlier run made it, and checks it can be written."""
    import sqlalchemy.exc

    store = open_storage(storage) if isinstance(storage, str) else storage
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER, n_warmup_steps=0)
    try:
        study = optuna.create_study(study_name=check_study_name(name), storage=store, sampler=sampler, pruner=pruner,
                                    direction="maximize", load_if_exists=True)
        if study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise SweepError(N_("study {name} exists and minimises its objective: it is not an fmnist sweep").format(
                name=repr(name)))
        study.set_user_attr("objective", "validation accuracy (%)")  # a write: a read-only storage fails here
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, OSError) as exc:
        exc = exc.__cause__ or exc  # Optuna wraps the database's own error
        readonly = "readonly" in str(exc) or "read-only" in str(exc) or "Permission denied" in str(exc)
        message = (N_("storage {url} is read-only: {reason}") if readonly
                   else N_("storage {url} cannot be written: {reason}"))
        raise SweepError(message.format(url=_storage_label(storage), reason=_first_line(exc))) from None
    return study


def _storage_label(storage) -> str:
    return describe_storage(storage) if isinstance(storage, str) else type(storage).__name__


# Checkpoints.

def checkpoint_store(study_name: str) -> checkpoints.CheckpointStore:
    """checkpoints/sweeps/NAME/ (under FMNIST_CHECKPOINT_DIR when set, as for the app), one file per trial."""
    root = env.checkpoint_dir()
    return checkpoints.CheckpointStore(root / "sweeps" / check_study_name(study_name))


def trial_name(number: int) -> str:
    return f"trial-{number}"


def mark_best(study: optuna.Study, store: checkpoints.CheckpointStore) -> dict | None:
    """Writes best.json beside the trials' checkpoints: the study's best trial so far, and its file when this machine
    has it (trials run on another machine are saved there)."""
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return None
    path = store.path_for(trial_name(best.number))
    info = {"study": study.study_name, "trial": best.number, "params": best.params, "val_acc": best.value,
            "test_acc": best.user_attrs.get("test_acc"),
            "checkpoint": str(path) if path.is_file() else None}
    store.root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".best.", suffix=".tmp", dir=store.root)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, store.root / "best.json")
    return info


# One trial.

@dataclass
class TrialOutcome:
    trial: int
    state: str  # COMPLETE, PRUNED or FAIL
    params: dict
    val_acc: float | None
    test_acc: float | None
    elapsed_s: float
    reason: str | None = None
    checkpoint: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None or k in ("val_acc", "test_acc")}


class TrialRun:
    """A trial from ask to tell: its parameters and config, its per-epoch reports to the pruner, and its end.

    The driver (the CLI's loop over train() events, the app's TrainingJob poller) calls epoch() for each finished
    epoch and stops the run when it returns True, then calls one of complete(), fail() or stopped()."""

    def __init__(self, study: optuna.Study, base: TrainConfig, params: Sequence[Param]):
        self.study = study
        self.trial = study.ask()
        self.started = time.perf_counter()
        self.history: list[dict] = []
        self.pruned = False
        self.finished = False  # told to the study
        self.params = {p.field: p.suggest(self.trial) for p in params}
        changes = {k: config_value(k, v) for k, v in self.params.items()}
        self.config = base.replace(**changes)  # each value was checked alone; trial_errors() checks them together

    @property
    def number(self) -> int:
        return self.trial.number

    def config_error(self) -> str | None:
        errors = self.config.errors()
        return "; ".join(f"{k}: {v}" for k, v in errors.items()) or None

    def epoch(self, row: dict) -> bool:
        """Reports an epoch's validation accuracy; True when the pruner says to stop (never after the last epoch:
        a trial that got there completes)."""
        self.history.append({k: row[k] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                                 "test_acc", "elapsed_s")})
        self.trial.set_user_attr("history", self.history)
        self.trial.report(row["val_acc"], row["epoch"])
        if row["epoch"] < self.config.epochs and self.trial.should_prune():
            self.pruned = True
        return self.pruned

    def meta(self) -> dict:
        """What a trial's checkpoint records of the sweep, beside build_meta's fields."""
        return {"sweep": {"study": self.study.study_name, "trial": self.number, "params": self.params}}

    def objective(self) -> float | None:
        vals = [h["val_acc"] for h in self.history]
        if not vals:
            return None
        return max(vals) if self.config.keep_best else vals[-1]  # the epoch whose weights were kept

    def _tell(self, *args, **kw) -> None:
        self.finished = True
        self.study.tell(self.trial, *args, **kw)

    def _outcome(self, state: str, test_acc=None, reason=None, checkpoint=None) -> TrialOutcome:
        return TrialOutcome(self.number, state, self.params, self.objective(), test_acc,
                            round(time.perf_counter() - self.started, 3), reason, checkpoint)

    def complete(self, test_acc: float, checkpoint: str | None) -> TrialOutcome:
        if self.pruned:
            self._tell(state=optuna.trial.TrialState.PRUNED)
            return self._outcome("PRUNED")
        value = self.objective()
        if value is None:
            return self.fail(N_("it finished no epoch"))
        self.trial.set_user_attr("test_acc", test_acc)
        if checkpoint:
            self.trial.set_user_attr("checkpoint", checkpoint)
        self._tell(value)
        return self._outcome("COMPLETE", test_acc, checkpoint=checkpoint)

    def fail(self, reason: str) -> TrialOutcome:
        self.trial.set_user_attr("fail_reason", reason)
        self._tell(state=optuna.trial.TrialState.FAIL)
        return self._outcome("FAIL", reason=reason)

    def stopped(self) -> TrialOutcome:
        """A stop mid-trial: recorded as failed (never left running) and queued again with the same parameters, so
        the next run of the sweep starts with it."""
        outcome = self.fail(STOP_REASON)
        self.study.enqueue_trial(self.trial.params, user_attrs={"requeued_from": self.number})
        return outcome


def grid_done(study: optuna.Study) -> bool:
    sampler = study.sampler
    return isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study)


def summary(study: optuna.Study, store: checkpoints.CheckpointStore) -> dict:
    """The study as a whole (every process's trials): counts by state and the best trial."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return {"study": study.study_name, "trials": counts, "best": mark_best(study, store)}


class SequentialSweep:
    """Trials one after another in this process, each a train() run whose events it reads: what the CLI runs. Several
    such processes (on one machine or many) against one storage share the study."""

    def __init__(self, study: optuna.Study, base: TrainConfig, params: Sequence[Param],
                 store: checkpoints.CheckpointStore, dataset: Dataset | None = None, command: str = ""):
        self.study, self.base, self.params, self.store = study, base, list(params), store
        self.dataset, self.command = dataset, command
        self._stop = threading.Event()
        self._control: RunControl | None = None

    def stop(self) -> None:
        """Safe from a signal handler or another thread: the running trial ends at its next step, queued again."""
        self._stop.set()
        if self._control is not None:
            self._control.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, n: int, on_epoch=None) -> Iterable[TrialOutcome]:
        for _ in range(n):
            if self._stop.is_set() or grid_done(self.study):
                return
            yield self.run_one(on_epoch)

    def run_one(self, on_epoch=None) -> TrialOutcome:
        run = TrialRun(self.study, self.base, self.params)
        error = run.config_error()
        if error:
            return run.fail(N_("invalid combination: {error}").format(error=error))
        self._control = control = RunControl()
        if self._stop.is_set():
            control.stop()
        try:
            for ev in train(run.config, self.dataset, control, log_every=10**9):
                match ev:
                    case EpochEvent():
                        if run.epoch(ev.as_dict()):
                            control.stop()
                        if on_epoch:
                            on_epoch(run, ev)
                    case FailedEvent(reason=reason):
                        return run.fail(reason)
                    case DoneEvent(result=result):
                        return self._finish(run, result)
        except BaseException:  # a second Ctrl-C, or any bug: the trial must not stay RUNNING
            if not run.finished:
                run.stopped()
            raise
        finally:
            self._control = None
        return run.fail(N_("the trainer ended without a result"))

    def _finish(self, run: TrialRun, result) -> TrialOutcome:
        if result.stopped and not run.pruned:
            return run.stopped()
        path = None
        if not run.pruned:
            meta = checkpoints.build_meta(result.config, result.history, result.test_acc, result.test_loss,
                                          result.elapsed_s, result.device, command=self.command,
                                          best_epoch=result.best_epoch, **run.meta())
            path = str(self.store.save(trial_name(run.number), result.model, meta))
        outcome = run.complete(result.test_acc, path)
        if outcome.state == "COMPLETE":
            mark_best(self.study, self.store)
        return outcome

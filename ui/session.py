"""What a browser session owns (its training job, earlier runs, active model) and what all sessions share
read-only (the dataset, loaded checkpoints and models, cached test-set predictions).

Nothing here imports torch at module level: the Train page renders without it, and runs train in worker processes
(fmnist.runs.jobs). Evaluate, Explore and Classify ask a worker for their predictions (fmnist.runs.inference), so
showing them imports no torch either; the Train and Models pages' views of a model's insides (model(), test_set())
import it the first time they need a model.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from fmnist import env
from fmnist.config import TrainConfig
from fmnist.runs import inference
from fmnist.runs.jobs import JobSnapshot, TrainingJob, pool, running_jobs
from fmnist.store import checkpoints
from ui.i18n import N_, _, engine
from ui.owner import owner_id

SPARE_AFTER_PAGE_S = 1.5

if TYPE_CHECKING:
    import torch

    from fmnist.inspect.evaluation import Evaluation


def checkpoint_dir() -> Path:
    """FMNIST_CHECKPOINT_DIR lets tests and parallel servers use a folder of their own."""
    return env.checkpoint_dir()


def store() -> checkpoints.CheckpointStore:
    return checkpoints.CheckpointStore(checkpoint_dir())


@st.cache_resource(show_spinner=False)
def start_workers() -> None:
    """Once per server process, after the first page's script run: the warm spare worker, so that the first Start
    trains at once. SPARE_AFTER_PAGE_S later, since the browser is still drawing that page: with the spare's torch
    import beside it, the page was drawn about 0.3 s later on this 2-core machine."""
    pool().ensure_spare_after(SPARE_AFTER_PAGE_S)


_spun: set = set()  # what this process has computed once already: the spinner (in the session's language) is for the
# first time only, which a cached function's own show_spinner cannot say in more than one language


def _first_time(key, text: str, compute):
    if key in _spun:
        return compute()
    with st.spinner(text):
        value = compute()
    _spun.add(key)
    return value


@st.cache_resource(show_spinner=False)
def test_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (10000, 28, 28) test images and int64 labels, read with numpy alone: the Train page shows them."""
    from fmnist.data.dataset import FILES, find_files, read_idx

    files = find_files()
    images, labels = (read_idx(files[k], FILES[k][1], FILES[k][2]) for k in ("test_images", "test_labels"))
    return images, labels.astype(np.int64)


def _test_set():
    from fmnist.data.dataset import device_tensors

    # From the normalised cache file the workers map too (fmnist.data.dataset), not a private copy of all 70,000
    # images read for it: 55 MB of the server's own memory and half a second of the first Evaluate.
    _, _, x, y = device_tensors(None, "cpu")
    return x, y


def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised test images and labels, shared read-only by every session."""
    return _first_time("dataset", _("Loading Fashion-MNIST ..."), _test_set)


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(path: str, mtime: float) -> checkpoints.Checkpoint:
    return checkpoints.load(Path(path))


@st.cache_resource(max_entries=8, show_spinner=False)
def _model(path: str, mtime: float):
    """The model of a checkpoint file in eval mode, built once and shared by every session: the Models page's views of
    its layers (filters, kernels, units), the one place left where the server imports torch. On one torch thread, so
    it never waits at an OpenMP barrier for a core that a training worker holds."""
    import torch

    torch.set_num_threads(1)
    return _load(path, mtime).model()


def _file(name: str) -> tuple[str, float]:
    path = store().path_for(name)
    if not path.is_file():
        raise checkpoints.CheckpointError(N_("{name}: no such checkpoint").format(name=name))  # the engine's words
    return str(path), path.stat().st_mtime


def load_checkpoint(name: str) -> checkpoints.Checkpoint:
    return _load(*_file(name))


def model(name: str):
    """The checkpoint's model, cached per file: raises CheckpointError or OSError when it cannot be used."""
    return _model(*_file(name))


@st.cache_resource(max_entries=8, show_spinner=False)
def _predictions(path: str, mtime: float) -> Evaluation:
    return inference.predictions(pool().inference, path)


def predictions(name: str) -> Evaluation:
    """Test-set predictions (NumPy), computed once per model file in a worker and shared by Explore and Evaluate:
    raises CheckpointError, OSError or InferenceError when they cannot be had."""
    file = _file(name)
    return _first_time(file, _("Classifying the 10,000 test images ..."), lambda: _predictions(*file))


def worker_model(name: str) -> inference.WorkerModel:
    """The checkpoint's model as Classify and Explore use it (probabilities and saliency of one image), computed in a
    worker: raises CheckpointError when the file is gone; its calls raise what predictions() does."""
    return inference.WorkerModel(pool().inference, _file(name)[0])


@dataclass
class SessionRuns:
    """This session's training job and the curves of its earlier runs."""

    job: TrainingJob | None = None
    history: list[JobSnapshot] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, config: TrainConfig, recover: str | None = None, challenge: dict | None = None) -> TrainingJob:
        with self.lock:
            if self.job is not None and not self.job.snapshot().finished:
                raise RuntimeError(N_("a run is already in progress in this session"))  # shown through engine()
            if self.job is not None:  # earlier runs are drawn as curves only: their insight is dropped
                self.history.append(dataclasses.replace(self.job.snapshot(), insight=[]))
            self.job = TrainingJob(config, store(), insight=True, owner=owner_id(), recover=recover,
                                   challenge=challenge).start()
            return self.job

    def close(self) -> None:
        if self.job is not None:
            self.job.close()


def _release(runs: SessionRuns) -> None:
    runs.close()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def session_runs() -> SessionRuns:
    """Dropped (and its worker stopped) when the browser session disconnects."""
    return SessionRuns()


def available_models() -> list[str]:
    return [r["name"] for r in store().list() if r["error"] is None]


def active_model_name() -> str | None:
    """The session's choice, else the shipped default, else the newest readable checkpoint."""
    names = available_models()
    chosen = st.session_state.get("active_model")
    if chosen in names:
        return chosen
    if checkpoints.DEFAULT_NAME in names:
        return checkpoints.DEFAULT_NAME
    return names[0] if names else None


def set_active_model(name: str) -> None:
    st.session_state["active_model"] = name


def active_model_caption() -> None:
    """The active model's name on every page, in the sidebar."""
    name = active_model_name()
    if name is None:
        st.sidebar.warning(_("No model yet: train one on the Train page."))
        return
    try:
        acc = checkpoints.read_meta(Path(_file(name)[0]))["metrics"]["test_acc"]  # the header alone: no torch
        st.sidebar.caption(_("Active model: **{name}** ({acc}% test accuracy)", name=name, acc=f"{acc:.2f}"))
    except checkpoints.CheckpointError as exc:
        st.sidebar.error(engine(str(exc)))


def poll_every(running: int | None = None) -> tuple[float, float]:
    """Seconds between a training page's progress updates and its chart updates, given the runs training in this
    server. Every update makes each browser redraw: with four sessions training on two cores, the redrawing took
    the CPU the runs and the server needed (runs finished in 25 s instead of 13, the health URL waited longer).
    One run keeps the liveliest pace."""
    running = running_jobs() if running is None else running
    if running <= 1:
        return 0.5, 1.0
    if running == 2:
        return 1.0, 2.0
    return 2.0, 4.0


def held_charts(held: tuple | None, job_id: float, snap: JobSnapshot, now: float,
                pace: tuple[float, float] | None) -> tuple:
    """(job id, taken at, snapshot) that a live page draws its charts from. At the polling pace (progress, charts)
    the progress line updates at every tick and the charts take a new snapshot every few ticks (once `charts`
    seconds have passed, give or take half a tick of timer jitter), and once the run has ended. In between, the same
    snapshot gives the same chart specs, which browsers do not draw again: a chart redraw costs a browser far more
    than the rest of the page, so one timer (one script run a tick) serves both. The first steps are drawn as soon as
    they come: until then the held snapshot has nothing to draw."""
    if held is not None and held[0] == job_id and pace is not None and not snap.finished and held[2].steps:
        tick, every = pace
        if now - held[1] < every - tick / 2:
            return held
    return job_id, now, snap


PACE_HOLD_S = 3.0


def pace_settled(current: tuple, wanted: tuple, first_seen: float | None, now: float,
                 hold_s: float = PACE_HOLD_S) -> tuple[bool, float | None]:
    """Whether a page polling at `current` should switch to `wanted` now (a whole-page rerun), and since when the
    difference has been seen. A change must hold for `hold_s`: four sessions starting their runs within seconds
    would otherwise each rerun the whole page at every step of the count (1, 2, 3, 4 runs), on top of the Start
    clicks' own reruns, and Streamlit's event loop waits for every new script thread to start."""
    if wanted == current:
        return False, None
    first_seen = now if first_seen is None else first_seen
    return now - first_seen >= hold_s, first_seen

"""Shared fixtures: the real dataset (loaded once), the tiny configuration, the tiny model trained once per session
and its checkpoint. Shared functions and constants are in tests/helpers.py."""

from __future__ import annotations

import shutil

import pytest
import torch

from fmnist.config import TrainConfig
from fmnist.data.dataset import Dataset, load_dataset
from fmnist.runs.jobs import TrainingJob
from fmnist.store import checkpoints
from tests.helpers import TINY, train_to_done


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu skip cleanly where PyTorch sees no CUDA GPU, CI included: unlike a missing browser, a missing
    GPU is the normal case (`make gpu-check` runs them on a machine that has one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False); run `make gpu-check` on one")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dataset():
    return load_dataset()


@pytest.fixture(scope="session")
def small_dataset(dataset) -> Dataset:
    """The first 6,000 training and 1,000 test images of the real data: for properties that hold on any images (a
    resumed run equals an uninterrupted one), at a tenth of the time the whole set takes."""
    return Dataset(dataset.train_images[:6000], dataset.train_labels[:6000], dataset.test_images[:1000],
                   dataset.test_labels[:1000], source=dataset.source)


@pytest.fixture
def tiny_config() -> TrainConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_result(dataset):
    return train_to_done(TINY, dataset)[1]


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory, tiny_result):
    """A checkpoints folder holding one tiny model saved as the default, like the shipped one."""
    root = tmp_path_factory.mktemp("checkpoints")
    checkpoints.CheckpointStore(root).save(checkpoints.DEFAULT_NAME, tiny_result.model,
                                           checkpoints.run_meta(tiny_result, "tests"))
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(checkpoint_dir):
    """The tiny model's checkpoint file, as `fmnist evaluate`, `predict` or `export` take it: not to be changed."""
    return checkpoint_dir / "default.safetensors"


def clear_streamlit_caches() -> None:
    # Imported here, not at the top: `make gpu-check` runs the GPU tests where Streamlit is not installed.
    import streamlit as st

    st.cache_resource.clear()


@pytest.fixture
def ckpt_dir(tmp_path, checkpoint_dir, monkeypatch):
    """A checkpoints folder of this test's own (FMNIST_CHECKPOINT_DIR) holding a copy of the tiny default model, so
    nothing touches checkpoints/. Every AppTest has the same session id, so Streamlit's caches (the session's runs
    among them) are cleared before and after: no test sees another's models or runs."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    shutil.copy(checkpoint_dir / "default.safetensors", root)
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(root))
    clear_streamlit_caches()
    yield root
    clear_streamlit_caches()


@pytest.fixture
def started(monkeypatch):
    """Every TrainingJob the app starts (in AppTest pages), held paused until the test resumes it, so the test decides
    when it runs. Every AppTest has the same session id, so the session's runs (a session-scoped cache) are cleared
    before and after: no earlier run leaks into another test's charts."""
    clear_streamlit_caches()
    started_jobs: list[TrainingJob] = []
    original = TrainingJob.start

    def start(self):
        started_jobs.append(self)
        self.pause()
        return original(self)

    monkeypatch.setattr(TrainingJob, "start", start)
    yield started_jobs
    for job in started_jobs:
        job.close()
    clear_streamlit_caches()

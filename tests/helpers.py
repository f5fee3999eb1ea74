"""What several test modules share: the tiny configuration (as a TrainConfig and as CLI flags), runs to the end,
waiting on worker-pool jobs, and the AppTest, export and playground helpers. Test modules import from here (or take
conftest's fixtures), never from one another.

Nothing here imports Streamlit at the top: `make gpu-check` runs tests/test_gpu.py where Streamlit is not installed.
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fmnist.cli.main import main
from fmnist.config import SEED, TrainConfig
from fmnist.config.text import flags
from fmnist.training.loop import train

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
RUFF = Path(sys.executable).parent / "ruff"

# Small enough to train an epoch in about a second on two cores, big enough to learn (~80% in one epoch).
TINY = TrainConfig(hidden=(32,), optimizer="adam", lr=3e-3, batch_size=256, epochs=1, device="cpu", preset="tiny")
# The same run on the command line: the flags that turn the CLI's starting point (the seed preset) into TINY.
# `fmnist.config.text.flags` leaves the device out (it belongs to the machine); the tests train on the CPU.
TINY_ARGS = [*flags(TINY, SEED), "--device", "cpu"]
TINY_CNN = TINY.replace(conv=(4,), hidden=(16,), preset="tiny-cnn")


# Data.
def write_idx(path, arr: np.ndarray, magic: int | None = None, compress: bool = False):
    """A real-format IDX file: magic (0x0803 images / 0x0801 labels), big-endian dims, then the bytes."""
    magic = magic if magic is not None else 2048 + arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    blob = header + arr.astype(np.uint8).tobytes()
    # Closed before it is read back: since Python 3.12 gzip buffers writes until close.
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(blob)
    return path


def write_subset(folder: Path, dataset, n_train: int, n_test: int) -> Path:
    """The first n_train training and n_test test images of the real data, with their labels, as the four gzipped
    IDX files a Fashion-MNIST folder holds (FMNIST_DATA_DIR may point at it)."""
    from fmnist.data.dataset import FILES

    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": dataset.train_images[:n_train], "train_labels": dataset.train_labels[:n_train],
              "test_images": dataset.test_images[:n_test], "test_labels": dataset.test_labels[:n_test]}
    for key, (stem, magic, _) in FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[key].numpy(), magic, compress=True)
    return folder


# Training in this process.
def train_to_done(config: TrainConfig, dataset=None, **kw):
    """Runs train() to the end and returns (events, result); fails the test on a failed run."""
    events = list(train(config, dataset, **kw))
    last = events[-1]
    assert last.kind == "done", getattr(last, "reason", last)
    return events, last.result


# The command line.
def run_json(capsys, argv):
    """Runs `python -m fmnist argv` in this process; returns its exit code and its JSON lines."""
    code = main(argv)
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


# Worker-pool jobs (fmnist.runs.jobs).
def wait_finished(job, timeout=300):
    assert job.join(timeout), "the worker did not finish"
    return job.snapshot()


def wait_for(condition, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


# Streamlit's AppTest (the `at` arguments); Streamlit itself is imported only where a page is opened.
def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or numpy data sent as base64 ({"dtype", "bdata", "shape"})."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            out = out.reshape([int(s) for s in str(shape).split(",")])
        return out
    return np.asarray(value, dtype=np.float64)


def title(spec: dict) -> str:
    t = spec["layout"].get("title") or {}
    return t.get("text", "") if isinstance(t, dict) else str(t)


def tiny_form(at, epochs: int = 1) -> None:
    """The sidebar set to a 784-32-10 Adam net, batch 1,024, on the CPU."""
    for key, value in (("cfg_layers", 1), ("cfg_w0", 32), ("cfg_batch_size", 1024), ("cfg_epochs", epochs)):
        at.number_input(key=key).set_value(value)
    at.selectbox(key="cfg_optimizer").set_value("adam")
    at.select_slider(key="cfg_lr").set_value(3e-3)
    at.selectbox(key="cfg_device").set_value("cpu")
    run(at)


TRAIN_PAGE = "pages/train.py"


def train_page(timeout: int = 60):
    """The app opened on its Train page, not yet run (the app's root opens the Playground).

    AppTest turns Streamlit's old pages/-folder mode back on before every run, so each run of a page whose url_path
    is its file's name runs that file alone first, and ui/router.py's ensure_router() reruns it through app.py: a
    press of a plain `if st.button(...)`, true for one run, is gone by then. The app's buttons act in their on_click
    callbacks, which run before the script (a served app is in that mode only for its first run after a start)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(TRAIN_PAGE)
    return at


def run_in_korean(page: str, state: dict | None = None, **query):
    """The page opened at ?lang=ko. AppTest can change no widget after that: it formats a selectbox's value with
    its format_func outside the session, in English, and then cannot find it among the Korean options; so a value
    to try comes in the address, as a shared link would bring it, or in the session state before the first run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"lang": "ko", **query})
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


# Exports.
def export(capsys, ckpt: Path, fmt: str, out: Path) -> list[Path]:
    code = main(["export", str(ckpt), "--format", fmt, "--out", str(out), "--json"])
    assert code == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return [Path(p) for p in line["files"]]


def load_script(path: Path):
    """The generated file as a module (its main() is behind `if __name__ == "__main__"`)."""
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Class challenges.
def figures(val, test, params=1000, seconds=1.0):
    """A finished run's figures as a challenge's board records them."""
    return {"val_acc": val, "test_acc": test, "params": params, "seconds": seconds, "network": "784-32-10",
            "config": TrainConfig(hidden=(32,)).to_dict()}


# The Playground.
@functools.cache
def two_unit_seeds(want_stuck: bool, start: int = 0):
    """The first seeds from `start` whose two-unit tanh XOR run (2,000 steps) ends stuck, or solved; searched, not
    hard-coded, so a change of the data or the initial weights moves them rather than breaking the test. Searched
    once per session: the engine, CLI and app tests ask for the same seeds."""
    from fmnist.playground import LESSONS
    from fmnist.playground import train as train_xor

    for seed in range(start, start + 60):
        *_, done = train_xor(LESSONS["two_units"].setup.replace(seed=seed), 2000)
        if done.stuck == want_stuck:
            return seed, done
    pytest.fail(f"no {'stuck' if want_stuck else 'solving'} seed among 60")


def texts(elements) -> str:
    """The values of a page's elements of one kind (AppTest), joined for `in` checks."""
    return " | ".join(str(e.value) for e in elements)

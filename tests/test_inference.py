"""The pages' inference asked of the pool's spare worker (fmnist.runs.inference, fmnist.runs.answers): the same
figures as computed in this process, a clear error for a damaged file or a worker that dies, and a server process
that shows Evaluate and Explore, and measures Evaluate's shift and rotation test, without importing torch. Real
processes, the real dataset, the tiny model."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

from fmnist.data.dataset import device_tensors
from fmnist.inspect.evaluate import evaluate
from fmnist.inspect.evaluation import Evaluation
from fmnist.inspect.predict import LocalModel
from fmnist.inspect.robustness import measure
from fmnist.runs import inference
from fmnist.runs.inference import InferenceError
from fmnist.runs.jobs import TrainingJob, WorkerPool
from fmnist.store import checkpoints
from fmnist.store import predictions as kept
from fmnist.store.checkpoints import CheckpointStore
from tests.helpers import ROOT, wait_finished, wait_for
from ui.inspect.robustness_jobs import items


@pytest.fixture(scope="module")
def workers():
    p = WorkerPool(environ=dict(os.environ))
    yield p
    p.shutdown()


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return checkpoints.load(tiny_checkpoint).model().eval()


def test_the_worker_s_predictions_are_those_computed_here(workers, tiny_checkpoint, model, dataset):
    _, _, x, y = device_tensors(dataset, torch.device("cpu"))
    here = evaluate(model, x, y)
    there = Evaluation(**workers.inference.ask("predictions", str(tiny_checkpoint)))  # not the copy kept on disk
    assert isinstance(there.predictions, np.ndarray) and there.predictions.shape == (10_000,)
    np.testing.assert_array_equal(there.predictions, here.predictions)
    np.testing.assert_array_equal(there.confusion, here.confusion)
    np.testing.assert_allclose(there.probabilities, here.probabilities, rtol=1e-5, atol=1e-6)
    assert there.accuracy == pytest.approx(here.accuracy) and there.loss == pytest.approx(here.loss, rel=1e-5)
    assert there.per_class() == here.per_class()


def test_one_image_s_probabilities_and_saliency_are_those_computed_here(workers, tiny_checkpoint, model, dataset):
    remote, local = inference.WorkerModel(workers.inference, tiny_checkpoint), LocalModel(model)
    for i in (0, 7, 1234):
        img = dataset.test_images[i].numpy()
        np.testing.assert_allclose(remote.probabilities(img), local.probabilities(img), rtol=1e-5, atol=1e-7)
        for target in (None, int(dataset.test_labels[i])):
            want = local.saliency(img, target)
            np.testing.assert_allclose(remote.saliency(img, target), want, rtol=1e-4,
                                       atol=1e-6 * float(np.abs(want).max()))


def test_a_shift_and_a_rotation_measured_by_the_worker_are_those_measured_here(workers, tiny_checkpoint, model,
                                                                             dataset):
    _, _, x, y = device_tensors(dataset, torch.device("cpu"))
    here = measure(model, x, y, shifts=(2,), rotations=(10,))
    there = [workers.inference.ask("robustness", str(tiny_checkpoint), kind=kind, amount=amount)
             for kind, amount in (("shift", 2.0), ("rotation", 10.0))]
    assert there == [m.accuracy for m in here]
    assert here[0].accuracy != here[1].accuracy  # two different measurements, not one figure asked twice
    with pytest.raises(InferenceError, match="a shift must be a whole number of pixels from 0 to 27"):
        workers.inference.ask("robustness", str(tiny_checkpoint), kind="shift", amount=40.0)
    with pytest.raises(InferenceError, match="unknown robustness measurement 'zoom'"):
        workers.inference.ask("robustness", str(tiny_checkpoint), kind="zoom", amount=2.0)


def test_a_damaged_checkpoint_is_a_checkpoint_error_and_the_worker_goes_on(workers, tiny_checkpoint, tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(tiny_checkpoint.read_bytes()[:300])  # cut short, as a copy interrupted
    with pytest.raises(checkpoints.CheckpointError) as here:
        checkpoints.load(damaged)
    with pytest.raises(checkpoints.CheckpointError) as there:
        inference.predictions(workers.inference, str(damaged))
    assert str(there.value) == str(here.value)
    assert workers.inference.ask("predictions", str(tiny_checkpoint))["accuracy"] > 50  # the same spare answers


def test_a_worker_that_dies_before_answering_is_an_error_naming_how(tiny_checkpoint):
    pool = WorkerPool(environ=dict(os.environ), spare=False)
    errors = []

    def ask():
        try:
            pool.inference.ask("predictions", str(tiny_checkpoint))
        except InferenceError as exc:
            errors.append(str(exc))

    asking = threading.Thread(target=ask)
    try:
        asking.start()  # no spare: one is started for the request, and killed while it imports torch
        wait_for(lambda: pool.pids(), what="a worker for the request")
        os.kill(pool.pids()[0], signal.SIGKILL)
        asking.join(60)
        assert errors == ["the worker computing it ended unexpectedly (killed by signal SIGKILL)"]
    finally:
        pool.shutdown()


def test_a_worker_still_answering_is_not_let_go_as_idle_and_is_let_go_after(tiny_checkpoint):
    """The measuring worker's pool (ui/inspect/robustness_jobs.py) lets its worker go a while after its last answer:
    never while a request is unanswered (here the first, asked while the worker still imports torch, which takes
    longer than idle_s), else the next request would pay for a new worker's torch import."""
    pool = WorkerPool(environ=dict(os.environ), spare=False, idle_s=1.0)
    try:
        assert pool.inference.ask("robustness", str(tiny_checkpoint), kind="shift", amount=1.0) > 50
        (first,) = pool.pids()
        pool.inference.ask("probabilities", str(tiny_checkpoint), image=np.zeros((28, 28), np.uint8))
        assert pool.pids() == [first]  # the same worker answered both
        wait_for(lambda: not pool.pids(), timeout=60, what="the idle worker to be let go")
    finally:
        pool.shutdown()


def test_the_spare_that_answered_then_trains_a_run(workers, tiny_checkpoint, tiny_config, tmp_path):
    workers.inference.ask("probabilities", str(tiny_checkpoint), image=np.zeros((28, 28), np.uint8))
    (answered,) = workers.pids()
    job = TrainingJob(tiny_config, CheckpointStore(tmp_path), workers=workers).start()
    snap = wait_finished(job)
    assert snap.status == "done" and job.pid == answered and snap.checkpoint is not None


def test_predictions_are_kept_on_disk_for_the_file_s_bytes(workers, tiny_checkpoint, tmp_path, monkeypatch):
    """Computed by the worker once; then read from disk, for a copy of the file too (a fresh server's folder), and
    computed again for a file whose bytes differ."""
    monkeypatch.setattr(kept, "CACHE_DIR", tmp_path / "cache")
    asked = []
    counting = inference.Inference(lambda request: (asked.append(request["task"]), workers.to_spare(request)))
    workers.inference = counting  # the worker's replies go to the Inference that asked
    try:
        first = inference.predictions(counting, str(tiny_checkpoint))
        copy = tmp_path / "copy.safetensors"
        shutil.copy(tiny_checkpoint, copy)
        again = inference.predictions(counting, str(copy))
        assert asked == ["predictions"]
        np.testing.assert_array_equal(again.probabilities, first.probabilities)
        assert again.per_class() == first.per_class() and again.loss == first.loss
        ckpt = checkpoints.load(tiny_checkpoint)
        changed = ckpt.model()
        with torch.no_grad():
            next(changed.parameters())[0, 0] += 1  # another model, however alike
        other = CheckpointStore(tmp_path / "other").save("other", changed, ckpt.meta)
        inference.predictions(counting, str(other))
        assert asked == ["predictions", "predictions"]
        assert len(list((tmp_path / "cache").glob("predictions-*.npz"))) == 2
    finally:
        workers.inference = inference.Inference(workers.to_spare)


SHOW_PAGES = textwrap.dedent("""
    import json, sys, time
    from streamlit.testing.v1 import AppTest
    from ui.inspect.robustness_jobs import MEASUREMENTS, items, load
    from ui.inspect.robustness_view import file_key
    for page in ("pages/evaluate.py", "pages/explore.py"):
        at = AppTest.from_file("app.py", default_timeout=300)
        at.switch_page(page)
        at.run()
        assert not at.exception and not at.error, (page, at.exception, at.error)
        assert at.get("plotly_chart"), page  # the confusion matrix; the saliency and probabilities
    # Evaluate's shift and rotation test, measured for the active model by the worker
    at = AppTest.from_file("app.py", default_timeout=300)
    at.switch_page("pages/evaluate.py")
    at.run()
    at.button(key="evaluate_robust_start").click()
    at.run()
    key = file_key("default")
    deadline = time.monotonic() + 500
    while MEASUREMENTS.queued(key) and time.monotonic() < deadline:
        time.sleep(0.1)
    at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    charts = [c for c in at.get("plotly_chart") if "evaluate_robust_chart" in str(c.proto.id)]
    print("robustness:", json.dumps({"error": MEASUREMENTS.error(key), "measured": len(MEASUREMENTS.result(key)),
                                     "wanted": len(items()), "stored": len(load(key)), "chart": len(charts)}))
    print("torch imported:", "torch" in sys.modules)
""")


def test_a_server_process_shows_evaluate_and_explore_without_torch(checkpoint_dir, tmp_path):
    """The pages run as in a fresh server process (Streamlit's AppTest, in a process of its own): their predictions
    and the shift and rotation test's figures come from its worker, and torch stays out of it."""
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    shutil.copy(checkpoint_dir / "default.safetensors", ckpts)
    env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(ckpts), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SHOW_PAGES], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    *_, measured, imported = out.stdout.strip().splitlines()
    n = len(items())  # every shift and rotation, measured, kept on disk and drawn
    assert json.loads(measured.removeprefix("robustness: ")) == {"error": None, "measured": n, "wanted": n,
                                                                 "stored": n, "chart": 1}, out.stdout
    assert imported == "torch imported: False", out.stdout


class _Holder(torch.nn.Module):
    """A module whose state_dict is the given tensors, so checkpoints.save writes them as they are."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return dict(self._state)


@pytest.mark.parametrize("page", ["pages/evaluate.py", "pages/explore.py"])
def test_a_damaged_active_model_is_a_message_on_the_page_not_a_traceback(ckpt_dir, page):
    """A file whose header reads well (so it is listed) but whose weights do not fit its model: the worker finds
    out, and the page says why in the words the server's own loading used."""
    from streamlit.testing.v1 import AppTest

    path = ckpt_dir / "default.safetensors"
    ckpt = checkpoints.load(path)
    state = dict(ckpt.state)
    state[next(iter(state))] = torch.zeros(3, 3)
    checkpoints.save(path, _Holder(state), ckpt.meta)
    with pytest.raises(checkpoints.CheckpointError) as here:
        checkpoints.load(path).model()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page(page)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"The active model cannot be used: {here.value}. Pick or train another one."]


def test_one_image_s_feature_maps_are_those_computed_here(workers, tiny_checkpoint, model, dataset, tmp_path):
    from fmnist.config import SEED
    from fmnist.model.mlp import MLP

    config = SEED.replace(conv=(4, 6), kernel=3, pool="max", head="flatten", hidden=(16,), batch_norm=False)
    torch.manual_seed(0)
    meta = {**checkpoints.load(tiny_checkpoint).meta, "config": config.to_dict()}
    path = CheckpointStore(tmp_path).save("tinycnn", MLP(config), meta)
    cnn = checkpoints.load(path).model().eval()
    img = dataset.test_images[17].numpy()
    there = inference.WorkerModel(workers.inference, path).feature_maps(img)
    here = LocalModel(cnn).feature_maps(img)
    assert [m.shape for m in there] == [(4, 14, 14), (6, 7, 7)]
    for a, b in zip(there, here):
        np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-2, atol=1e-3)
    assert inference.WorkerModel(workers.inference, tiny_checkpoint).feature_maps(img) == []  # an MLP makes none

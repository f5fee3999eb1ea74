"""The Train page side in Korean and in words: the engine's own messages (health warnings, run notes and failures,
status words, resume errors) read in Korean through engine(), and every chart's text alternative states its key
figures. No Streamlit session: _() is English here, engine(..., "ko") and gettext(..., "ko") give the Korean."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from fmnist.inspect.health import warnings
from fmnist.runs.jobs import exit_reason
from ui.i18n import engine
from ui.inspect import explain_charts as insight_charts
from ui.inspect import network_charts
from ui.train import charts
from ui.train.run_view import engine_text, place_in_line, progress_text

HANGUL = re.compile("[가-힣]")


def korean(text: str) -> str:
    out = engine(text, "ko")
    assert HANGUL.search(out), f"not translated: {text!r}"
    return out


def row(**kw) -> dict:
    return {"dead": 0.0, "saturated": 0.0, "act_mean": 0.3, "act_std": 0.5, "grad_norm": 0.1, "update_ratio": -3.0,
            "weight_norm": 10.0, **kw}


@pytest.mark.parametrize("health, sentence", [
    ([row(), row(dead=0.48)], "never fire on the test images"),
    ([row(saturated=0.9)], "are saturated"),
    ([row(update_ratio=-0.5)], "the learning rate is too high"),
    ([row(update_ratio=-5.5)], "it barely learns"),
    ([row(grad_norm=0.0009), row(), row(grad_norm=0.1)], "so the first layers hardly learn"),
])
def test_every_health_warning_reads_in_korean_with_its_figures(health, sentence):
    [warning] = warnings(health)
    assert sentence in warning
    out = korean(warning)
    assert sentence not in out and "try" not in out
    figures = re.findall(r"\d+(?:\.\d+)?(?:e[-+]\d+)?%?", warning)
    assert all(f in out for f in figures), (figures, out)


def test_run_failures_notes_and_status_words_read_in_korean():
    from fmnist.training.events import FailedEvent

    diverged = FailedEvent("the loss became nan at epoch 3, step 1200: training diverged. Try a lower learning rate "
                           "(or batch norm).", 3, 1200).reason
    out = korean(diverged)
    assert "nan" in out and "1200" in out and "diverged" not in out
    died = (f"the run ended unexpectedly ({exit_reason(-9)}). The curves received so far are kept; you can start a "
            "new run.")
    assert "SIGKILL" in died
    assert "unexpectedly" not in korean(died) and "killed by signal" not in korean(exit_reason(-9))
    assert "exit code" not in korean(exit_reason(1))
    for note in ("training in fp32: this CPU has no bf16 instructions (AVX512-BF16 or AMX): use --precision fp32",
                 "CUDA graph capture failed (RuntimeError: boom); training eagerly",
                 "Removed your oldest checkpoint run-1: a session keeps at most 5 (FMNIST_MAX_RUNS_PER_SESSION).",
                 "disk full. The run's metrics are kept in this session.",
                 "the GPU ran out of memory: try a smaller batch or fewer/narrower layers, or train on the CPU"):
        assert korean(note) != note
    for status in ("waiting", "running", "paused", "stopping", "done", "stopped", "failed"):
        korean(status)


def test_resume_and_session_errors_read_in_korean(tmp_path):
    from fmnist.store import recovery
    from fmnist.store.checkpoints import CheckpointStore

    with pytest.raises(recovery.RecoveryError) as missing:
        recovery.read_config(tmp_path / "gone.resume")
    assert "no such resume file" not in korean(str(missing.value))
    korean("a run is already in progress in this session")
    korean("cannot discard run-1: another session's run; only that session or an admin may")
    assert isinstance(CheckpointStore(tmp_path), CheckpointStore)


def test_engine_text_translates_a_quoted_engine_message_too(monkeypatch):
    monkeypatch.setattr("ui.train.run_view.engine", lambda text: engine(text, "ko"))
    out = engine_text("the run ended unexpectedly (killed by signal SIGKILL). The curves received so far are kept; "
                      "you can start a new run.")
    assert "SIGKILL" in out and "killed by signal" not in out and HANGUL.search(out)
    out = engine_text("training in fp32: this GPU has no bf16 support: use --precision fp32")
    assert "--precision fp32" in out and "use --precision" not in out and "training in" not in out


def test_progress_and_place_in_line_read_in_english_outside_a_session():
    snap = SimpleNamespace(status="running", epoch=3, step=1200, total_steps=18760, config=SimpleNamespace(epochs=20))
    assert progress_text(snap) == "running · epoch 3/20 · step 1,200/18,760"
    assert [place_in_line(n) for n in (1, 2, 3, 4, 11, 22)] == ["1st in line", "2nd in line", "3rd in line",
                                                                "4th in line", "11th in line", "22nd in line"]


def curves(epochs=3, steps=True, **extra):
    history = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e, "train_acc": 70.0 + e, "test_acc": 68.0 + e,
                **extra} for e in range(1, epochs + 1)]
    return [charts.RunCurves("run", [(100, 0.9), (200, 0.5), (300, 0.6)] if steps else [], history)]


def test_run_charts_state_their_key_figures_in_words():
    runs = curves()
    assert charts.step_loss_text(runs) == ("Step 300: training loss 0.600 (first logged 0.900, lowest so far "
                                           "0.500).")
    assert charts.epoch_loss_text(runs, 20) == "Epoch 3 of 20: training loss 0.333, test loss 0.367."
    assert charts.epoch_accuracy_text(runs, 20) == ("Epoch 3 of 20: test accuracy 71.0%, training accuracy 73.0%. "
                                                    "Best test accuracy 71.0% after epoch 3.")
    with_val = curves(1, val_loss=0.5, val_acc=80.0)
    assert charts.epoch_loss_text(with_val, 5).endswith("Validation loss 0.500.")
    assert charts.epoch_accuracy_text(with_val, 5).endswith("Validation accuracy 80.0%.")
    assert charts.step_loss_text(curves(0, steps=False)) == "No training loss logged yet."
    assert charts.epoch_loss_text(curves(0)) == "No epoch finished yet."
    runs[0].lr_changes = [{"step": 150, "epoch": 1, "scale": 0.5}]
    assert charts.step_loss_text(runs).endswith("Learning rate changed 1 times.")
    earlier = charts.RunCurves("old", [(1, 9.0)], [], current=False)
    assert charts.step_loss_text([earlier, *curves()]).startswith("Step 300:")  # the current run, not an earlier one


def test_insight_charts_state_their_key_figures_in_words():
    acc = [90.0, 99.0, 85.0, 88.0, 80.0, 97.0, 60.0, 95.0, 98.0, 96.0]
    assert insight_charts.class_curves_text([{"epoch": 4, "test_class_acc": acc}]) == \
        "After epoch 4: best learned Trouser (99.0% right), worst Shirt (60.0% right)."
    assert insight_charts.class_curves_text([{"epoch": 1}]) == "No per-class accuracy recorded."
    filters = np.zeros((4, 28, 28))
    filters[0, 0, 0], filters[1, 1, 1] = 0.5, -0.25
    assert insight_charts.filters_text(filters) == "4 filters of 28 × 28 weights, from -0.25 to 0.5."
    labels = np.array([0, 0, 1, 1, 2, 2])
    coords = np.array([[0, 0], [0.1, 0], [0.2, 0], [0.3, 0], [10, 10], [10, 11]], dtype=float)
    text = insight_charts.projection_text(coords, labels, 7)
    assert text.startswith("After epoch 7: 6 test images: T-shirt/top and Trouser lie closest together")
    assert text.endswith("Pullover lies farthest from the rest.")
    a, b = np.eye(10, dtype=int) * 90, np.eye(10, dtype=int) * 90
    a[6, 6], a[6, 0] = 80, 10
    assert insight_charts.confusion_diff_text(a, b, ("A", "B")) == (
        "B classifies 10 more test images right than A. Largest change in one mistake: Shirt taken for T-shirt/top, "
        "+10 images.")


def test_network_charts_state_their_key_figures_in_words():
    net = {"columns": [{"name": "input", "units": 784, "shown": np.arange(16), "mean": np.zeros(16)},
                       {"name": "hidden 1", "units": 32, "shown": np.arange(3), "mean": np.array([0.1, 0.7, 0.2])},
                       {"name": "output", "units": 10, "shown": np.arange(10), "mean": np.zeros(10)}]}
    assert network_charts.network_text(net) == ("Layers and their units: input 784, hidden 1 32, output 10. Most "
                                                "active shown unit of hidden 1: unit 1 (mean activation 0.7).")
    health = [{"epoch": 2, "health": [row(dead=0.25, grad_norm=0.01, update_ratio=-3.1)]}]
    assert network_charts.health_text(health) == ("After epoch 2: layer 1: 25% dead, gradient norm 1.00e-02, update "
                                                  "ratio -3.10.")
    assert network_charts.health_text([{"epoch": 1}]) == "No layer health recorded."
    hists = [{"lo": -0.1, "hi": 0.1, "counts": [1]}, None, {"lo": -0.3, "hi": 0.2, "counts": [1]}]
    assert network_charts.distribution_text(hists, [1, 2, 3], "hidden 1: weights") == (
        "hidden 1: weights: from -0.1 to 0.1 after epoch 1, from -0.3 to 0.2 after epoch 3.")
    w = np.zeros(784)
    w[28 * 3 + 4], w[5] = 0.5, -0.2
    assert network_charts.incoming_text(w, "input") == ("Strongest positive weight 0.5 from pixel (3, 4); strongest "
                                                        "negative -0.2 from pixel (0, 5).")
    assert network_charts.incoming_text(np.array([0.1, -0.3]), "hidden 1") == (
        "Strongest positive weight 0.1 from hidden 1, unit 0; strongest negative -0.3 from hidden 1, unit 1.")
    assert network_charts.class_activation_text([0.1, 0.9] + [0.5] * 7 + [0.0]) == \
        "Responds most to Trouser (0.9), least to Ankle boot (0)."
    assert network_charts.top_images_text([1, 1, 3]) == \
        "The 3 images that excite it most, by class: Trouser 2, Dress 1."
    detail = {"step": 12, "labels": [0, 1, 2, 3], "pred_before": [0, 0, 0, 0], "pred_after": [0, 1, 2, 0]}
    assert network_charts.batch_text(detail) == ("Step 12: of the 4 images shown, the first of the batch's 4, 1 were "
                                                 "predicted right before the step and 3 after it.")
    assert network_charts.weight_change_text(np.array([0.1, -0.2, 0.0]), "input") == (
        "1 weights grew and 1 shrank in this step; the largest change was 2.00e-01.")



def test_an_out_of_memory_failure_reads_in_korean_with_what_was_kept_and_the_advice():
    from fmnist.config import TrainConfig
    from fmnist.training.memory import out_of_memory

    for epoch, kept in ((1, "no epoch had completed"), (3, "epoch 2 is kept for resuming")):
        reason = out_of_memory(TrainConfig(hidden=(4096,) * 6, batch_size=60_000, device="cpu"), epoch)
        assert reason.startswith(f"out of memory at epoch {epoch} ({kept}); this run needs about 14.9 GB")
        advice = reason.rpartition(": ")[2]
        out = korean(reason)  # the template; the page's engine_text swaps in the two parts below
        assert "out of memory" not in out and kept in out and advice in out
        assert korean(kept) != kept and korean(advice) != advice

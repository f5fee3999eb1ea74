"""Korean on the Explore, Evaluate, Classify and Models pages: real engine messages (a damaged checkpoint, an
unreadable image, a refused delete) read in Korean through engine(), and the charts' text alternatives."""

from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from fmnist.data.dataset import CLASSES
from fmnist.data.images import ImageError, prepare_canvas, prepare_image
from fmnist.store import checkpoints
from ui.i18n import engine, gettext
from ui.inspect.prediction_charts import confusion_summary, probability_summary, saliency_summary
from ui.inspect.prediction_view import engine_message
from ui.models.summaries import compare_summary
from ui.train.charts import RunCurves

HANGUL = re.compile("[가-힣]")


def korean(message: str) -> str:
    text = engine(message, "ko")
    assert HANGUL.search(text), f"no Korean for {message!r}: {text!r}"
    return text


def load_error(path) -> str:
    with pytest.raises(checkpoints.CheckpointError) as info:
        checkpoints.load(path)
    return str(info.value)


def png(width: int = 40, height: int = 40) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width), 128, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_damaged_checkpoints_read_in_korean(tmp_path, checkpoint_dir):
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((checkpoint_dir / "default.safetensors").read_bytes()[:-100])
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    missing = tmp_path / "gone.safetensors"
    for path, english in ((short, "not a readable safetensors checkpoint"),
                          (cut, "its tensors do not fill the file"),
                          (plain, "not an fmnist checkpoint"),
                          (missing, "no such checkpoint")):
        message = load_error(path)
        assert english in message
        text = korean(message)
        assert english not in text and text.startswith(path.name + ":")
    assert "safetensors 헤더보다 짧습니다" in engine_message(load_error(short), "ko")


def test_mismatched_weights_read_in_korean(tmp_path, checkpoint_dir):
    ckpt = checkpoints.load(checkpoint_dir / "default.safetensors")
    state = {k: v for k, v in ckpt.state.items()}
    state[next(iter(state))] = torch.zeros(3, 3)
    broken = tmp_path / "broken.safetensors"
    checkpoints.save(broken, _Holder(state), ckpt.meta)
    message = load_error(broken)
    text = korean(message)
    assert "do not match the model" not in text and "broken.safetensors" in text


class _Holder(torch.nn.Module):
    """A module whose state_dict is the given tensors, so checkpoints.save writes them as they are."""

    def __init__(self, state):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return dict(self._state)


@pytest.mark.parametrize(("data", "english"), [
    (b"", "the file is empty"),
    (b"just some notes, not a picture\n", "this is a text file, not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG is not supported"),
    (b"<!DOCTYPE html><html></html>", "this is an HTML page"),
    (b"\x00\x01\x02\x03binary", "not an image format that can be read"),
    (png()[:60], "damaged"),
    (png(), "nothing to classify"),
])
def test_unusable_images_read_in_korean(data, english):
    with pytest.raises(ImageError) as info:
        prepare_image(data, "upload.png")
    message = str(info.value)
    assert english in message
    text = korean(message)
    assert english not in text and "upload.png" in text


def test_a_bad_canvas_reads_in_korean():
    with pytest.raises(ImageError) as info:
        prepare_canvas(np.zeros((4, 4), dtype=np.uint8))
    assert "(4, 4)" in korean(str(info.value))


def test_refused_deletes_read_in_korean(tmp_path, checkpoint_dir):
    root = tmp_path / "ckpts"
    root.mkdir()
    shutil.copy(checkpoint_dir / "default.safetensors", root / "default.safetensors")
    shutil.copy(checkpoint_dir / "default.safetensors", root / "mine.safetensors")
    store = checkpoints.CheckpointStore(root)
    messages = []
    for name, owner in (("default", "cli"), ("mine", "someone-else"), ("nothing", "cli")):
        with pytest.raises(checkpoints.CheckpointError) as info:
            store.delete(name, owner)
        messages.append(str(info.value))
    messages.append(checkpoints.change_refused("mine", {"owner": "a-session"}, "another", False))
    messages.append(checkpoints.change_refused("mine", None, "another", False))
    for message in messages:
        text = korean(message)
        assert not re.search(r"only an admin|cannot be deleted|no such checkpoint|another session", text), text


# Text alternatives ---------------------------------------------------------------------------------------------

def test_confusion_summary_names_accuracy_and_the_commonest_mistake():
    c = np.diag([100] * 10)
    c[6, 0] = 42  # Shirt taken for T-shirt/top
    c[6, 6] = 58
    text = confusion_summary(c)
    assert text.startswith("Test accuracy 95.8%: 958 of 1,000 images right.")
    assert "Most confused: Shirt taken for T-shirt/top 42 times." in text
    assert "hardest: Shirt (58.0%)" in text
    ko = gettext("Most confused: {true} taken for {predicted} {count} times.", "ko", true="셔츠", predicted="티셔츠/탑",
                 count="42")
    assert "셔츠" in ko and "42" in ko


def test_confusion_summary_without_mistakes_or_images():
    assert "Most confused" not in confusion_summary(np.diag([5] * 10))
    assert confusion_summary(np.zeros((10, 10), dtype=int)) == "No test image was evaluated."


def test_probability_summary_lists_the_top_three_and_the_missed_truth():
    p = np.zeros(10)
    p[[6, 0, 2, 4]] = [0.6, 0.25, 0.1, 0.05]
    assert probability_summary(p) == "Likeliest: Shirt 60.0%, then T-shirt/top 25.0% and Pullover 10.0%."
    assert probability_summary(p, true_label=6) == probability_summary(p)  # right: nothing to add
    assert probability_summary(p, true_label=4).endswith(f"The true class, {CLASSES[4]}, gets 5.0%.")


def test_saliency_summary_points_at_the_strongest_pixel():
    att = np.zeros((28, 28))
    att[3, 7], att[20, 20] = 3.0, -1.0
    assert saliency_summary(att) == ("Strongest push for the class at row 3, column 7. 75.0% of the total effect "
                                     "pushes the score up, the rest down.")
    assert saliency_summary(np.zeros((28, 28))) == "No pixel changes the score."
    assert saliency_summary(-np.ones((28, 28))).startswith("0.0% of the total effect")


def test_compare_summary_gives_last_and_best_per_run():
    runs = [RunCurves("a", epochs=[{"epoch": 1, "test_acc": 80.0, "test_loss": 0.5},
                                   {"epoch": 2, "test_acc": 85.5, "test_loss": 0.45},
                                   {"epoch": 3, "test_acc": 84.0, "test_loss": 0.47}]),
            RunCurves("b", epochs=[])]
    assert compare_summary(runs, "test_acc") == ("Test accuracy by run: a: 84.00% after epoch 3 "
                                                 "(best 85.50% at epoch 2).")
    assert compare_summary(runs, "test_loss") == ("Test loss by run: a: 0.4700 after epoch 3 "
                                                  "(best 0.4500 at epoch 2).")
    assert compare_summary(runs[1:], "test_acc") == "Test accuracy: no run with a completed epoch chosen."

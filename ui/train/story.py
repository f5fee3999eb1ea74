"""The Train page's lesson from MLP to CNN, told as the Playground tells XOR: three steps, each a preset to train and
what to look at, and a table of what the session's runs of those presets measured. No Streamlit here: the steps, the
table's rows and its words are plain data (ui/train/story_view.py draws them).

A step's text says where to look, never a figure: every number in the table comes from the runs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from fmnist.config import PRESETS, TrainConfig
from fmnist.config.run import layers_text
from fmnist.model.architecture import parameter_count
from ui.i18n import N_, _

PARAM = "story"  # the address parameter that opens the lesson at a step (a view parameter: ui/train/share.py)
SHIFT = 3  # pixels: where the MLP and a flattening CNN have lost most of what they knew, and pooling has not


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    preset: str
    look: str  # what to look at, in two or three sentences

    @property
    def config(self) -> TrainConfig:
        return PRESETS[self.preset]


STEPS = (
    Step("pixels", N_("Flattened pixels"), "seed",
         N_("The tutorial's MLP: each image is flattened into 784 numbers, and every unit of the first layer weighs "
            "all of them. Open the First layer tab once an epoch has run: its weights are whole-garment templates, "
            "each tied to where the pixels are.")),
    Step("local", N_("Look locally"), "cnn",
         N_("Two convolution blocks slide small 3 x 3 filters over the image, so the same few weights look at every "
            "place. Compare its row in the table with the MLP's: the parameters, the training time and the test "
            "accuracy. Its filters find strokes and edges, not whole garments.")),
    Step("where", N_("Where is it?"), "cnn-gap",
         N_("The last maps are averaged over the whole image (global average pooling) before the dense layer, so "
            "the network knows what each filter found but no longer where. The table's last column moves every "
            "test image by 3 pixels: see which of the three still recognises a garment that has moved.")),
)
BY_KEY = {s.key: s for s in STEPS}


def heading(step: Step) -> str:
    """The step's title as the start of its text: with a full stop, unless it is a question."""
    title = _(step.title)
    return title if title.endswith(("?", ".")) else title + "."


def step_of(config: TrainConfig | None) -> Step | None:
    """The step whose preset this config is (the device aside: it belongs to the machine)."""
    if config is None:
        return None
    return next((s for s in STEPS if s.config.replace(device=config.device) == config), None)


@dataclass
class Figures:
    """What one finished run of a step measured; shift is filled in later (None until measured)."""

    checkpoint: str
    config: TrainConfig
    seconds: float
    test_acc: float
    shift: float | None = None


def row(step: Step, figures: Figures | None, running: bool) -> dict:
    """One line of the comparison table, numbers as text (a dash where there is none yet)."""
    dash = "–"
    if figures is None:
        return {"step": _(step.title), "network": layers_text(step.config), "parameters": dash,
                "seconds": _("training ...") if running else dash, "test": dash, "shift": dash}
    return {"step": _(step.title), "network": layers_text(figures.config),
            "parameters": f"{parameter_count(figures.config):,}", "seconds": f"{figures.seconds:.0f} s",
            "test": f"{figures.test_acc:.2f}%",
            "shift": _("measuring ...") if figures.shift is None else f"{figures.shift:.2f}%"}


def summary(done: dict[str, Figures]) -> str:
    """The table in words: which finished step was most accurate, which kept most at the shift, and how many times
    fewer parameters the CNN has than the MLP; only what the runs so far show."""
    if not done:
        return _("No run of the lesson has finished yet: press a step above.")
    parts = []
    title = {s.key: _(s.title) for s in STEPS}
    best = max(done, key=lambda k: done[k].test_acc)
    parts.append(_("Highest test accuracy so far: {step}, {acc}%.", step=title[best], acc=f"{done[best].test_acc:.2f}"))
    shifted = {k: f.shift for k, f in done.items() if f.shift is not None}
    if len(shifted) > 1:
        keeps = max(shifted, key=shifted.get)
        parts.append(_("Moved by {k} pixels, {step} recognises the most: {acc}%.", k=SHIFT, step=title[keeps],
                       acc=f"{shifted[keeps]:.2f}"))
    if "pixels" in done and "local" in done:
        ratio = parameter_count(done["pixels"].config) / parameter_count(done["local"].config)
        parts.append(_("{cnn} has {ratio} times fewer parameters than {mlp}.", cnn=title["local"],
                       ratio=f"{ratio:.1f}", mlp=title["pixels"]))
    return " ".join(parts)

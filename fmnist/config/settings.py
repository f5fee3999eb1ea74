"""The one table of run settings: each TrainConfig field declared once, with its type, default, bounds, CLI help, the
sidebar's label and help, and whether a lesson may lock or hide it and a sweep vary it.

TrainConfig (fmnist/config/run.py) is made from this table, and so are the CLI's flags, the sidebar's controls, the
URL's parameters, the lesson names, the sweep's field parser and the export script's flags (each derives what it
needs here; tests/test_settings.py checks that they do). A new setting is one entry below plus its use in the model
or the trainer. The order is the sidebar's, section by section.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from fmnist.messages import N_

ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MAX_LAYERS = 6
MAX_WIDTH = 4096
MAX_BLOCKS = 4
MAX_CHANNELS = 256
KERNELS = (3, 5)
POOLS = ("max", "avg", "none")
HEADS = ("flatten", "gap")
MAX_EPOCHS = 500
TRAIN_SIZE = 60_000
SECTIONS = ("convolution", "model", "training", "data", "device")

Widths = tuple[int, ...]


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type  # bool, int, float, str, or tuple (a list of whole numbers, like the layer widths)
    default: object
    section: str  # where the sidebar shows it: one of SECTIONS
    cli: str  # the CLI flag's help (argparse doubles no %: write %% for one)
    label: str  # the sidebar's label, also its name in "Share as lesson"
    help: str  # the sidebar's "?" help
    choices: tuple = ()
    valid: Callable[[object], bool] | None = None  # bounds, for numbers; kind and choices are checked for every field
    error: str = ""  # TrainConfig.errors()'s message when the value is not one ({value}, {options}: a choice's)
    widget: dict = field(default_factory=dict)  # the sidebar control's step and format
    lockable: bool = True  # a lesson may lock or hide it
    sweepable: bool = True  # a sweep may vary it

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _between(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[object], bool]:
    def valid(v) -> bool:
        return (low < v if low_open else low <= v) and (v < high if high_open else v <= high)
    return valid


SETTINGS: tuple[Setting, ...] = (
    # Convolution: blocks in front of the dense layers; none is the tutorial's MLP exactly.
    Setting(
        "conv", tuple, (), "convolution",
        "channels of the convolution blocks before the dense layers, comma-separated (0-4 blocks of 1-256; "
        "0 = none, the MLP)", N_("Convolution blocks"),
        N_("Each block slides small filters over the image and keeps one map per channel: the same few weights look "
           "at every place, so strokes and edges are found wherever they are. 0 blocks is the tutorial's MLP. Use − "
           "and + to remove or add a block.")),
    Setting(
        "kernel", int, 3, "convolution", "filter size of every convolution block, in pixels (3 or 5, \"same\" padding)",
        N_("Filter size"),
        N_("How many pixels across each filter looks at once: 3 x 3 or 5 x 5. A larger filter sees more around each "
           "pixel but has more weights."),
        choices=KERNELS, error=N_("the filter size must be 3 or 5 (got {value})")),
    Setting(
        "pool", str, "max", "convolution", "pooling after each convolution block (max, avg or none)",
        N_("Pooling"),
        N_("After each block, halves the maps' width and height by keeping the largest (max) or the mean (avg) of "
           "each 2 x 2 patch: later blocks see a wider area, and a small shift matters less. none keeps the size."),
        choices=POOLS, error=N_("unknown pool {value}; choose one of {options}")),
    Setting(
        "head", str, "flatten", "convolution",
        "how the last maps reach the dense layers: flatten (every value) or gap (global average pooling, one per "
        "channel)", N_("Into the dense layers"),
        N_("flatten passes every value of the last maps on, so the dense layers still know where each thing was. gap "
           "averages each map to one number: far fewer weights, and a garment moved a few pixels looks the same."),
        choices=HEADS, error=N_("unknown head {value}; choose one of {options}")),
    # Model.
    Setting(
        "hidden", tuple, (1024, 128, 64), "model",
        "widths of the hidden layers, comma-separated (1-6 layers of 1-4096)", N_("Hidden layers"),
        N_("How many hidden layers sit between the 784 pixels and the 10 classes. More layers can learn more complex "
           "patterns but train slower. Use − and + to remove or add a layer.")),
    Setting(
        "activation", str, "relu", "model", "activation function", N_("Activation"),
        N_("The function each neuron applies to its weighted sum; it lets the network learn curved, not only "
           "straight, boundaries. relu is the usual choice; tanh and sigmoid flatten out and can learn slower."),
        choices=ACTIVATIONS, error=N_("unknown activation {value}; choose one of {options}")),
    Setting(
        "dropout", float, 0.0, "model", "dropout after each hidden layer (0 = off)", N_("Dropout"),
        N_("The share of neurons switched off at random at each training step. Raising it fights overfitting but "
           "slows learning; 0 turns it off."),
        valid=_between(0, 1, high_open=True), error=N_("dropout must be at least 0 and below 1"),
        widget={"step": 0.05, "format": "%.2f"}),
    Setting(
        "batch_norm", bool, False, "model", "batch normalisation after each hidden layer", N_("Batch norm"),
        N_("Normalises each hidden layer's outputs over the batch. Turning it on usually trains steadier and allows a "
           "higher learning rate."),
        error=N_("batch norm is on or off")),
    # Training.
    Setting(
        "optimizer", str, "sgd", "training", "optimizer (momentum = SGD with Nesterov momentum 0.9)", N_("Optimizer"),
        N_("How the weights are updated from the gradient. sgd takes plain steps, momentum keeps a running direction, "
           "adam and adamw adapt the step of each weight and usually learn faster."),
        choices=OPTIMIZERS, error=N_("unknown optimizer {value}; choose one of {options}")),
    Setting(
        "lr", float, 0.01, "training", "(peak) learning rate", N_("Learning rate (log scale)"),
        N_("How big a step the optimizer takes along the gradient each step. Higher learns faster but can overshoot "
           "and diverge; lower is steadier but slower."),
        valid=_between(0, 10, low_open=True), error=N_("learning rate must be a number above 0 and at most 10")),
    Setting(
        "batch_size", int, 64, "training", "batch size", N_("Batch size"),
        N_("How many images each step averages its gradient over. A larger batch gives smoother, faster steps but "
           "fewer of them an epoch, and needs more memory."),
        widget={"step": 32}),  # its bounds depend on val_size: TrainConfig.errors() checks them
    Setting(
        "epochs", int, 20, "training", "epochs", N_("Epochs"),
        N_("How many times training goes through all the training images. More epochs learn more but take longer and "
           "can overfit."),
        valid=_between(1, MAX_EPOCHS), error=N_("epochs must be between 1 and {max}").format(max=MAX_EPOCHS),
        widget={"step": 1}),
    Setting(
        "schedule", str, "constant", "training", "learning-rate schedule", N_("Schedule"),
        N_("How the learning rate changes during training. constant keeps it; onecycle raises it, then lowers it; "
           "cosine lowers it smoothly towards zero, which often ends on better weights."),
        choices=SCHEDULES, error=N_("unknown schedule {value}; choose one of {options}")),
    Setting(
        "weight_decay", float, 0.0, "training", "weight decay (decoupled for adamw)", N_("Weight decay"),
        N_("Pulls every weight a little towards zero at each step. Raising it fights overfitting; too much keeps the "
           "model from learning."),
        valid=_between(0, 1), error=N_("weight decay must be between 0 and 1"),
        widget={"step": 0.01, "format": "%.4f"}),
    Setting(
        "label_smoothing", float, 0.0, "training", "label smoothing", N_("Label smoothing"),
        N_("Trains towards slightly less certain targets (e.g. 0.9 for the right class instead of 1). Raising it keeps "
           "the model from becoming overconfident; 0 turns it off."),
        valid=_between(0, 1, high_open=True), error=N_("label smoothing must be at least 0 and below 1"),
        widget={"step": 0.05, "format": "%.2f"}),
    Setting(
        "ema", float, 0.0, "training",
        "decay of an exponential moving average of the weights, scored instead of them (0 = off)",
        N_("Weight average (EMA) decay"),
        N_("0 = off. Scores a moving average of the weights, e.g. 0.999, instead of the last ones. Closer to 1 "
           "averages over more steps, which smooths out the noise of the last steps."),
        valid=lambda v: v == 0 or 0.5 <= v < 1,
        error=N_("weight averaging (EMA) decay must be 0 (off) or from 0.5 to below 1, e.g. 0.999"),
        widget={"step": 0.001, "format": "%.4f"}),
    Setting(
        "drop_last", bool, False, "training",
        "drop the last partial batch of each epoch, as the notebook's DataLoader", N_("Drop last partial batch"),
        N_("Skips the last batch of each epoch when it is smaller than the batch size, as the classic notebook does. "
           "On: every step has the same number of images."),
        error=N_("drop last is on or off")),
    # Data.
    Setting(
        "augment", bool, False, "data", "random shifts of up to 2 pixels", N_("Augment (random shifts)"),
        N_("Shifts each training image by up to 2 pixels at random. The model sees more varied images, which can "
           "reduce overfitting but makes learning slower."),
        error=N_("augment is on or off")),
    Setting(
        "flip", bool, False, "data", "random left-right mirror of half of each batch",
        N_("Mirror left-right (random half)"),
        N_("Mirrors a random half of the training images left to right. Clothes look much the same mirrored, so this "
           "adds variety; it can slow learning."),
        error=N_("flip is on or off")),
    Setting(
        "warp", bool, False, "data",
        "random warp of each training image: a shift of up to 1 pixel (fractions too) and a zoom of up to 5%%",
        N_("Warp (small random shifts and zooms)"),
        N_("Moves each training image by up to 1 pixel, fractions of a pixel included, and zooms it by up to 5% at "
           "random. Gentler than the shifts above: over a long run it helps the model generalise, in a short one it "
           "costs accuracy."),
        error=N_("warp is on or off")),
    Setting(
        "val_size", int, 0, "data", "training images held out for validation", N_("Validation images"),
        N_("Held out of the 60,000 training images to pick the best epoch without looking at the test set. More "
           "images make that pick more reliable but leave fewer to train on; 0 = no validation."),
        valid=_between(0, TRAIN_SIZE // 2),
        error=N_("validation images must be between 0 and {max}").format(max=TRAIN_SIZE // 2),
        widget={"step": 1000}),
    Setting(
        "keep_best", bool, False, "data", "restore the epoch with the best validation accuracy",
        N_("Keep best epoch (by validation accuracy)"),
        N_("At the end, keeps the weights of the epoch with the best validation accuracy instead of the last ones. "
           "Needs validation images."),
        error=N_("keep best epoch is on or off")),
    Setting(
        "eval_train", bool, False, "data",
        "after each epoch also score the training images in eval mode, as the notebook",
        N_("Score training images in eval mode (as the notebook)"),
        N_("After each epoch, scores the training images again in eval mode (no dropout), as the notebook does, "
           "instead of averaging over the batches as they trained. It costs one more pass an epoch."),
        error=N_("eval train is on or off")),
    Setting(
        "seed", int, 123, "data", "random seed", N_("Seed"),
        N_("The number that fixes the random starting weights and the order of the images. The same seed and settings "
           "give the same run; change it to see how much results vary by chance."),
        valid=lambda v: 0 <= v < 2**63, error=N_("seed must be a whole number from 0"), widget={"step": 1}),
    # Device.
    Setting(
        "device", str, "auto", "device", "device", N_("Device"),
        N_("Where training runs: the CPU or a GPU (cuda; mps on Apple). auto picks a GPU when there is one."),
        choices=DEVICES, error=N_("unknown device {value}; choose one of {options}"), sweepable=False),
    Setting(
        "precision", str, "fp32", "device",
        "arithmetic of the training step: bf16 autocasts it (CPUs with bf16 support, CUDA)", N_("Precision"),
        N_("fp32 computes in full 32-bit floats. bf16 computes most of each step in 16 bits: faster where the CPU or "
           "GPU supports it, slightly less exact."),
        choices=PRECISIONS, error=N_("unknown precision {value}; choose one of {options}")),
)
BY_NAME = {s.name: s for s in SETTINGS}

# "preset" is not a setting of the run but the name of where it started; a lesson may lock or hide it all the same.
PRESET_LABEL = N_("Preset")
PRESET_HELP = N_("A ready-made set of all the settings below. quick: about 90% in under a minute of CPU time; seed: "
                 "the classic notebook; best: our MLP recipe; cnn: convolution blocks, over 92% in about a minute; "
                 "cnn-gap: the same blocks and one more, averaged over the whole image, which tolerates a moved "
                 "garment; cnn-best: our CNN recipe. Changing any setting makes it custom.")
LESSON_NAMES = ("preset", *(s.name for s in SETTINGS if s.lockable))


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)

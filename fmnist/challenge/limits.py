"""What a challenge allows, checked as a pure function of a run's config, and the figures a finished run enters.

Every run of a challenge is scored on the same held-out images: `challenge_config` gives it the challenge's split
(`val_seed`, so the split no longer follows the student's own seed) and `broken_limits` asks for the challenge's
`val_size`. Seconds of training cannot be known before the run: the CLI and the worker stop a run that passes them
(`over_time`), and such a run is listed apart on the board.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fmnist.config import TrainConfig
from fmnist.config.text import format_value
from fmnist.messages import N_
from fmnist.model.architecture import parameter_count

VAL_SIZE = 5000  # training images every run of a challenge is scored on, and never trains on
SPLIT_SEED = 37  # the split's seed, the same for every challenge unless one is made with another

# Why a run is not ranked, as the board lists it (the page shows them in Korean through ui.i18n.engine).
STOPPED_EARLY = N_("stopped before its last epoch")
OVER_TIME = N_("stopped after {seconds} s: the challenge allows {max} s of training")
NOT_SAVED = N_("the run ended without a result: {reason}")


@dataclass(frozen=True)
class Broken:
    """One limit a config breaks: the setting to mark (a form shows the sentence next to its control) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Limits:
    max_params: int | None = None
    max_epochs: int | None = None
    max_seconds: float | None = None
    allow_conv: bool = False  # False: MLP only, a run with convolution blocks is refused
    locked: Mapping[str, object] = field(default_factory=dict)  # setting -> the value every run must have
    split_seed: int = SPLIT_SEED
    val_size: int = VAL_SIZE

    def to_dict(self) -> dict:
        return {"max_params": self.max_params, "max_epochs": self.max_epochs, "max_seconds": self.max_seconds,
                "allow_conv": self.allow_conv, "locked": dict(self.locked), "split_seed": self.split_seed,
                "val_size": self.val_size}


def _same(a, b) -> bool:
    return (tuple(a) if isinstance(a, (list, tuple)) else a) == (tuple(b) if isinstance(b, (list, tuple)) else b)


def check_locked(locked: Mapping[str, object]) -> dict[str, str]:
    """Locked settings that are not settings, or values TrainConfig refuses: {name: why}."""
    names = {f for f in TrainConfig.__dataclass_fields__ if f not in ("preset", "val_seed")}
    bad = {n: "unknown setting" for n in locked if n not in names}
    if not bad:
        try:
            bad = TrainConfig.from_dict({**TrainConfig().to_dict(), **locked, "val_size": VAL_SIZE}).errors()
            bad = {n: m for n, m in bad.items() if n in locked}
        except (TypeError, ValueError) as exc:
            bad = {"locked": str(exc)}
    return bad


def broken_limits(limits: Limits, config: TrainConfig) -> list[Broken]:
    """Every limit `config` breaks, each with a sentence; empty when the challenge allows it."""
    broken = []
    if limits.max_params is not None:
        count = parameter_count(config)
        if count > limits.max_params:
            broken.append(Broken("hidden", N_("this network has {count} parameters; the challenge allows at most "
                                              "{max}").format(count=f"{count:,}", max=f"{limits.max_params:,}")))
    if not limits.allow_conv and config.conv:
        broken.append(Broken("conv", N_("the challenge allows MLPs only: no convolution blocks")))
    if limits.max_epochs is not None and config.epochs > limits.max_epochs:
        broken.append(Broken("epochs", N_("the challenge allows at most {max} epochs").format(max=limits.max_epochs)))
    if config.val_size != limits.val_size:
        broken.append(Broken("val_size", N_("the challenge scores every run on its own {count} validation images: set "
                                            "this to {count}").format(count=limits.val_size)))
    for name, value in limits.locked.items():
        if name == "val_size":
            continue
        if not _same(getattr(config, name, None), value):
            broken.append(Broken(name, N_("the challenge sets this to {value}").format(value=format_value(value))))
    return broken


def challenge_config(limits: Limits, config: TrainConfig, val_size_given: bool = True) -> TrainConfig:
    """The config as the challenge runs it: scored on the challenge's split whatever the student's seed. With
    `val_size_given` False (a CLI run that did not name --val-size) the challenge's validation size is filled in."""
    changes = {"val_seed": limits.split_seed}
    if not val_size_given:
        changes["val_size"] = limits.val_size
    return config.replace(**changes)


def over_time(limits: Limits, elapsed_s: float) -> bool:
    return limits.max_seconds is not None and elapsed_s > limits.max_seconds


def entry_figures(config: TrainConfig, history: list[dict], test_acc: float, elapsed_s: float,
                  best_epoch: int | None) -> dict:
    """What a finished run enters: the validation accuracy of the epoch it kept (the best with keep_best, else the
    last), the test accuracy of the weights it kept, its size, time and settings."""
    kept = history[best_epoch - 1] if best_epoch and 0 < best_epoch <= len(history) else (history or [{}])[-1]
    val = kept.get("val_acc")
    return {"val_acc": None if val is None else float(val), "test_acc": float(test_acc),
            "params": parameter_count(config), "seconds": float(elapsed_s), "network": config.describe(),
            "config": config.to_dict()}

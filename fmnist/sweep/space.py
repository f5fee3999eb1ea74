"""What a sweep varies: one Param per setting, parsed from FIELD=SPEC text (loguniform:LOW:HIGH, uniform:LOW:HIGH,
int:LOW:HIGH, choice:A|B|C) and checked against the settings table, so a bad range fails before its first trial."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import optuna

from fmnist.config import ConfigError, TrainConfig
from fmnist.config.settings import SETTINGS
from fmnist.config.text import format_value
from fmnist.config.text import parse as parse_value
from fmnist.messages import N_

MAX_TRIALS = 500
DEFAULT_VAL_SIZE = 5000
KINDS = ("loguniform", "uniform", "int", "choice")
FIELDS = {s.name: s for s in SETTINGS if s.sweepable}


class SweepError(ValueError):
    """Bad sweep input (a spec, a field, the storage): one line that says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Param:
    """One TrainConfig field to vary and how: a range (loguniform, uniform, int) or a list of choices."""

    field: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial):
        """The trial's value, as Optuna stores it (hidden sizes as text: Optuna's choices are plain values)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.field, list(self.choices))
        if _kind_of(self.field) is int:
            return trial.suggest_int(self.field, int(self.low), int(self.high), log=self.kind == "loguniform")
        return trial.suggest_float(self.field, self.low, self.high, log=self.kind == "loguniform")

    def grid(self) -> list:
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))
        raise SweepError(N_("{field}: the grid sampler needs choice: or int: values, not a {kind} range").format(
            field=self.field, kind=self.kind))

    def spec(self) -> str:
        if self.kind == "choice":
            return f"{self.field}=choice:" + "|".join(str(c) for c in self.choices)
        return f"{self.field}={self.kind}:{self.low:g}:{self.high:g}"


def _kind_of(name: str) -> type:
    """The Python type of a setting (tuple for hidden), from the settings table."""
    return FIELDS[name].kind


def config_value(name: str, value):
    """An Optuna parameter value as the TrainConfig field takes it."""
    return parse_value(name, value) if _kind_of(name) is tuple else value


def _parse_choice(name: str, text: str):
    kind = _kind_of(name)
    try:
        value = parse_value(name, text)
        if kind is tuple:  # Optuna's choices are plain values: layer widths travel as their text
            if not value:
                raise ValueError
            return format_value(value)
        return value
    except ValueError:
        example = {tuple: "512,256", bool: "true", int: "64", float: "0.01", str: "relu"}[kind]
        raise SweepError(N_("{name}: {text} is not a value for this field (e.g. {example})").format(
            name=name, text=repr(text), example=example)) from None


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(N_("{spec}: {text} is not a number").format(spec=spec, text=repr(text))) from None
    if not math.isfinite(value):
        raise SweepError(N_("{spec}: {text} is not a finite number").format(spec=spec, text=repr(text)))
    return value


def parse_param(text: str, base: TrainConfig) -> Param:
    """FIELD=loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or choice:A|B|C; each end or choice must also be a
    valid value of the field (checked against `base`), so a bad range fails here and not in trial 7."""
    name, eq, spec = text.partition("=")
    name, quoted = name.strip().replace("-", "_"), repr(text)
    if not eq or not spec:
        raise SweepError(N_("{text}: give a parameter as FIELD=SPEC, e.g. lr=loguniform:1e-4:1e-1").format(text=quoted))
    if name not in FIELDS:
        raise SweepError(N_("{name} is not a training setting; choose one of {fields}").format(
            name=repr(name), fields=", ".join(FIELDS)))
    kind, _, rest = spec.partition(":")
    if kind not in KINDS:
        raise SweepError(N_("{text}: unknown kind {kind}; use loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or "
                            "choice:A|B|C").format(text=quoted, kind=repr(kind)))
    ftype = _kind_of(name)
    if kind == "choice":
        values = [c.strip() for c in rest.split("|")]
        if not rest or any(not c for c in values):
            raise SweepError(N_("{text}: list the choices as choice:A|B|C").format(text=quoted))
        choices = tuple(dict.fromkeys(_parse_choice(name, c) for c in values))
        param = Param(name, kind, choices=choices)
        _check_values(param, base, choices)
        return param
    if ftype not in (int, float):
        raise SweepError(N_("{name} is not a number: vary it with choice:A|B|C").format(name=name))
    if ftype is float and kind == "int":
        raise SweepError(N_("{name} takes fractions: use uniform:LOW:HIGH or loguniform:LOW:HIGH, not int:").format(
            name=name))
    if ftype is int and kind == "uniform":
        raise SweepError(N_("{name} is a whole number: use int:LOW:HIGH or loguniform:LOW:HIGH").format(name=name))
    ends = rest.split(":")
    if len(ends) != 2:
        raise SweepError(N_("{text}: a range is {kind}:LOW:HIGH").format(text=quoted, kind=kind))
    low, high = (_number(e, text) for e in ends)
    if ftype is int and not (low.is_integer() and high.is_integer()):
        raise SweepError(N_("{text}: {name} is a whole number, so LOW and HIGH must be too").format(
            text=quoted, name=name))
    if low > high:
        raise SweepError(N_("{text}: the range is reversed (LOW {low} is above HIGH {high})").format(
            text=quoted, low=f"{low:g}", high=f"{high:g}"))
    if low == high:
        raise SweepError(N_("{text}: the range is empty (LOW equals HIGH); to fix a value, use --preset or leave the "
                            "field out").format(text=quoted))
    if kind == "loguniform" and low <= 0:
        raise SweepError(N_("{text}: a loguniform range must start above 0").format(text=quoted))
    param = Param(name, kind, int(low) if ftype is int else low, int(high) if ftype is int else high)
    _check_values(param, base, (param.low, param.high))
    return param


def _check_values(param: Param, base: TrainConfig, values: Iterable) -> None:
    for v in values:
        err = base.replace(**{param.field: config_value(param.field, v)}).errors().get(param.field)
        if err:
            raise SweepError(N_("{spec}: {value} is out of range: {error}").format(
                spec=param.spec(), value=v, error=err))


def parse_params(texts: Sequence[str], base: TrainConfig) -> list[Param]:
    if not texts:
        raise SweepError("give at least one --param FIELD=SPEC to vary, e.g. --param lr=loguniform:1e-4:1e-1")
    params = [parse_param(t, base) for t in texts]
    seen = [p.field for p in params]
    twice = sorted({f for f in seen if seen.count(f) > 1})
    if twice:
        raise SweepError(f"{', '.join(twice)}: each field can be varied by one --param only")
    return params


def base_config(preset: TrainConfig, epochs: int | None = None, val_size: int | None = None) -> TrainConfig:
    """The fixed part of every trial: the preset, with the sweep's epochs and a validation split (required: it is
    what the trials are compared on)."""
    val = (preset.val_size or DEFAULT_VAL_SIZE) if val_size is None else val_size
    if val <= 0:
        raise SweepError("--val-size must be above 0: trials are compared on validation accuracy, never on the test "
                         "set")
    changes = {"val_size": val, "preset": "sweep"}
    if epochs is not None:
        changes["epochs"] = epochs
    config = preset.replace(**changes)
    try:
        return config.validated()
    except ConfigError as exc:
        raise SweepError(str(exc)) from None


def check_trials(n: int) -> int:
    if not 1 <= n <= MAX_TRIALS:
        raise SweepError(f"--trials must be between 1 and {MAX_TRIALS} (got {n})")
    return n

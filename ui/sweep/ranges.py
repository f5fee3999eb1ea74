"""The Sweep page's ranges as controls: for each searched setting that is a number, a low, a high and a log-scale
box; for a setting with choices (a name, a yes/no, the layer widths, a batch size worth trying), a list to pick them
from. Each gives the space.Param that the CLI's FIELD=SPEC text would, so the page can show the equivalent command
(derived from the Param, never typed)."""

from __future__ import annotations

import streamlit as st

from fmnist.config import TrainConfig
from fmnist.config.text import format_value
from fmnist.sweep import space
from ui.i18n import _, engine

# What a field offers when first picked: a range or choices worth searching, in the CLI's syntax.
DEFAULT_SPECS = {
    "lr": "loguniform:1e-4:1e-1", "hidden": "choice:256|512,256|1024,128,64", "batch_size": "choice:64|128|256",
    "optimizer": "choice:sgd|momentum|adam|adamw", "dropout": "uniform:0:0.5", "weight_decay": "loguniform:1e-5:1e-1",
    "activation": "choice:relu|gelu|tanh", "schedule": "choice:constant|onecycle|cosine",
    "label_smoothing": "uniform:0:0.2", "batch_norm": "choice:true|false", "augment": "choice:true|false",
    "seed": "int:0:9", "epochs": "int:1:5", "keep_best": "choice:true|false",
}


def default_param(name: str, base: TrainConfig) -> space.Param:
    """The field's default range or choices; a field without one starts at the base configuration's value."""
    if name in DEFAULT_SPECS:
        return space.parse_param(f"{name}={DEFAULT_SPECS[name]}", base)
    value = getattr(base, name)
    if space.FIELDS[name].kind in (int, float) and not isinstance(value, bool):
        return space.Param(name, "int" if space.FIELDS[name].kind is int else "uniform", value, value)
    return space.Param(name, "choice", choices=(format_value(value),))


def is_categorical(param: space.Param) -> bool:
    return param.kind == "choice"


def _options(name: str, default: space.Param) -> tuple[list[str], bool]:
    """The list's options as text, and whether a value not listed may be typed (widths, sizes: any is valid)."""
    setting = space.FIELDS[name]
    if setting.kind is bool:
        return ["true", "false"], False
    if setting.choices:
        return [str(c) for c in setting.choices], False
    return [str(c) for c in default.choices], True


def _choices(name: str, default: space.Param) -> str:
    options, typed = _options(name, default)
    picked = st.multiselect(
        name, options, default=[str(c) for c in default.choices if str(c) in options], key=f"sweep_choices_{name}",
        accept_new_options=typed,
        help=_("The values this setting may take; each trial picks one.")
        + (" " + _("Type a value that is not listed and press Enter to add it.") if typed else ""))
    return "choice:" + "|".join(str(p).strip() for p in picked)


def _range(name: str, default: space.Param) -> str:
    whole = space.FIELDS[name].kind is int
    number = {"step": 1} if whole else {"format": "%g", "step": None}
    low_col, high_col, log_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    low = low_col.number_input(_("{name}: low", name=name), value=int(default.low) if whole else float(default.low),
                               key=f"sweep_low_{name}", **number)
    high = high_col.number_input(_("{name}: high", name=name),
                                 value=int(default.high) if whole else float(default.high), key=f"sweep_high_{name}",
                                 **number)
    log = log_col.checkbox(_("log scale"), value=default.kind == "loguniform", key=f"sweep_log_{name}",
                           help=_("Try values evenly spread in their ratio rather than their difference: 0.001, "
                                  "0.01 and 0.1 as often as each other. For rates and other settings that span "
                                  "powers of ten."))
    kind = "loguniform" if log else "int" if whole else "uniform"
    return f"{kind}:{low:g}:{high:g}"


def param_controls(fields: list[str], base: TrainConfig) -> list[space.Param] | None:
    """The controls of each searched field, the reason a range cannot be used right under it; None while any is
    wrong."""
    params, ok = [], True
    for name in fields:
        default = default_param(name, base)
        text = _choices(name, default) if is_categorical(default) else _range(name, default)
        try:
            params.append(space.parse_param(f"{name}={text}", base))
        except space.SweepError as exc:
            st.error(engine(str(exc)), icon=":material/error:")
            ok = False
    return params if ok and params else None

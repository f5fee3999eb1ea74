"""The training configuration form in the sidebar.

Every control keeps its value in st.session_state under a stable "cfg_*" key, kept for the whole session
(persist_state) so a visit to another page does not reset the form. Choosing a preset writes its values into those
keys; touching any other control marks the form "custom". Each field's error from TrainConfig.errors() is shown
right under its control.

The settings are shareable: a valid form is mirrored into the URL's query parameters (ui/share.py), and a new
session opened on such a URL starts with the form filled from them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from fmnist.config import ACTIVATIONS, DEVICES, MAX_LAYERS, OPTIMIZERS, PRECISIONS, PRESETS, SCHEDULES, TrainConfig
from fmnist.devices import problem
from fmnist.jobs import pool
from fmnist.memory import memory_problem
from ui import share

PRESET_KEY = "cfg_preset"
LAYERS_KEY = "cfg_layers"
CUSTOM = "custom"
DEFAULT_PRESET = "seed"
NEW_LAYER_WIDTH = 64
URL_READ_KEY = "cfg_url_read"  # set once the session's first Train page run has read the URL
URL_ERRORS_KEY = "cfg_url_errors"  # what the URL held that could not be used; shown until the form is edited

# Learning rates on a log scale: 1, 2, 3 and 5 of each decade from 1e-5 to 1, written so 3e-3 == 0.003 exactly.
LR_STEPS = tuple(float(f"{m}e{e}") for e in range(-5, 0) for m in (1, 2, 3, 5)) + (1.0,)

# Config field -> widget key, for every field that is one control.
KEYS = {name: f"cfg_{name}" for name in (
    "activation", "dropout", "batch_norm", "optimizer", "lr", "batch_size", "epochs", "schedule", "weight_decay",
    "label_smoothing", "augment", "flip", "drop_last", "ema", "eval_train", "val_size", "keep_best", "seed", "device",
    "precision")}


def width_key(i: int) -> str:
    return f"cfg_w{i}"


def widget_values(config: TrainConfig) -> dict:
    """The session-state values that make the form show `config`."""
    values = {key: getattr(config, name) for name, key in KEYS.items()}
    values[LAYERS_KEY] = len(config.hidden)
    values.update({width_key(i): w for i, w in enumerate(config.hidden)})
    return values


def config_sidebar() -> tuple[TrainConfig | None, dict[str, str]]:
    """Renders the form; returns (config, {}) when it is valid, (None, {field: message}) when it is not, and
    (config, {"memory": message}) when it is valid but needs more memory than is free now."""
    _read_url()
    _init_state()
    slots: dict = {}  # field name -> an st.empty() right under its control, filled once errors are known
    with st.sidebar:
        st.header("Training setup")
        st.selectbox("Preset", [*PRESETS, CUSTOM], key=PRESET_KEY, on_change=_apply_preset,
                     persist_state="session",
                     help="quick: 90% in under a minute of CPU time; seed: the classic notebook; best: our recipe")
        _model_controls(slots)
        _training_controls(slots)
        _data_controls(slots)
        _device_control(slots)
    config = _read_config()
    errors = config.errors()
    device_problem = problem(config.device, pool().devices())  # known once a worker has looked
    if "device" not in errors and device_problem:
        errors["device"] = device_problem
    for name, message in errors.items():
        slots.get(name, slots["hidden"]).error(message)  # every field has a slot; "hidden" is the fallback
    _share(None if errors else config)
    if errors:
        return None, errors
    found = pool().devices()
    where = found["auto"].split()[0] if config.device == "auto" and found else config.device
    too_big = memory_problem(config, device_type=where if where != "auto" else "cpu")  # Start stays disabled
    if too_big:
        slots["batch_size"].error(f"Not enough memory: {too_big}.")
        return config, {"memory": too_big}
    return config, {}


def _read_url() -> None:
    """Once per session: settings in the URL (a shared link) fill the form; unusable ones are listed, not used."""
    state = st.session_state
    if state.get(URL_READ_KEY):
        return
    state[URL_READ_KEY] = True
    params = st.query_params.to_dict()
    if not params:
        return
    config, problems = share.params_to_config(params)
    if config is not None:
        state.update(widget_values(config))
        state[PRESET_KEY] = config.preset
    state[URL_ERRORS_KEY] = problems


def _share(config: TrainConfig | None) -> None:
    """Mirrors a valid form into the URL and offers the link."""
    problems = st.session_state.get(URL_ERRORS_KEY)
    if problems:
        st.sidebar.warning("Ignored from the link: " + "; ".join(problems))
    if config is None:
        st.sidebar.caption("Fix the marked settings to share them.")
        return
    params = share.config_to_params(config)
    shown = st.query_params.to_dict()
    params = {**params, **share.view_params(shown)}
    if shown != params:
        st.query_params.from_dict(params)
    query = share.query_string(params)
    if st.context.url:
        here = urlsplit(st.context.url)
        link = urlunsplit((here.scheme, here.netloc, here.path or "/", query, ""))
        st.sidebar.caption(f"[Share these settings]({link}): the link opens this form as it is now.")
    else:
        st.sidebar.caption(f"Share these settings: add `?{query}` to the app's address." if query else
                           "Share these settings: the app's address opens the seed preset.")


def _init_state() -> None:
    # Key by key, so a value Streamlit ever drops falls back to the default instead of breaking the form.
    state = st.session_state
    state.setdefault(PRESET_KEY, DEFAULT_PRESET)
    for key, value in widget_values(PRESETS[DEFAULT_PRESET]).items():
        state.setdefault(key, value)
    for i in range(MAX_LAYERS):
        state.setdefault(width_key(i), NEW_LAYER_WIDTH)


def _apply_preset() -> None:
    st.session_state.pop(URL_ERRORS_KEY, None)
    preset = PRESETS.get(st.session_state[PRESET_KEY])
    if preset is not None:
        for key, value in widget_values(preset).items():
            st.session_state[key] = value


def _mark_custom() -> None:
    st.session_state.pop(URL_ERRORS_KEY, None)
    st.session_state[PRESET_KEY] = CUSTOM


def _common(key: str) -> dict:
    return {"key": key, "on_change": _mark_custom, "persist_state": "session"}


def _model_controls(slots: dict) -> None:
    st.subheader("Model")
    n = st.number_input("Hidden layers", min_value=1, max_value=MAX_LAYERS, step=1, **_common(LAYERS_KEY),
                        help="Use − and + to remove or add a layer")
    for i in range(n):
        # No bounds on the widget: TrainConfig.errors() is the one place that says what is allowed, and why.
        st.number_input(f"Layer {i + 1} width", step=1, **_common(width_key(i)))
    slots["hidden"] = st.empty()
    _select("Activation", "activation", ACTIVATIONS, slots)
    _number("Dropout", "dropout", slots, step=0.05, format="%.2f")
    _toggle("Batch norm", "batch_norm", slots)


def _training_controls(slots: dict) -> None:
    st.subheader("Training")
    _select("Optimizer", "optimizer", OPTIMIZERS, slots)
    # A preset or checkpoint value off the grid is added to it rather than silently rounded.
    options = sorted({*LR_STEPS, st.session_state[KEYS["lr"]]})
    st.select_slider("Learning rate (log scale)", options, format_func=lambda v: f"{v:g}", **_common(KEYS["lr"]))
    slots["lr"] = st.empty()
    _number("Batch size", "batch_size", slots, step=32)
    _number("Epochs", "epochs", slots, step=1)
    _select("Schedule", "schedule", SCHEDULES, slots)
    _number("Weight decay", "weight_decay", slots, step=0.01, format="%.4f")
    _number("Label smoothing", "label_smoothing", slots, step=0.05, format="%.2f")
    _number("Weight average (EMA) decay", "ema", slots, step=0.001, format="%.4f",
            help="0 = off. Scores a moving average of the weights, e.g. 0.999, instead of the last ones")
    _toggle("Drop last partial batch", "drop_last", slots)


def _data_controls(slots: dict) -> None:
    st.subheader("Data")
    _toggle("Augment (random shifts)", "augment", slots)
    _toggle("Mirror left-right (random half)", "flip", slots)
    _number("Validation images", "val_size", slots, step=1000,
            help="Held out of the 60,000 training images to pick the best epoch without looking at the test set")
    _toggle("Keep best epoch (by validation accuracy)", "keep_best", slots)
    _toggle("Score training images in eval mode (as the notebook)", "eval_train", slots)
    _number("Seed", "seed", slots, step=1)


def _device_control(slots: dict) -> None:
    found = pool().devices()

    def label(name: str) -> str:
        return f"auto ({found['auto']})" if name == "auto" and found else name

    _select("Device", "device", DEVICES, slots, format_func=label)
    _select("Precision", "precision", PRECISIONS, slots)


def _select(label: str, name: str, options, slots: dict, **kw) -> None:
    st.selectbox(label, options, **_common(KEYS[name]), **kw)
    slots[name] = st.empty()


def _number(label: str, name: str, slots: dict, **kw) -> None:
    st.number_input(label, **_common(KEYS[name]), **kw)
    slots[name] = st.empty()


def _toggle(label: str, name: str, slots: dict) -> None:
    st.toggle(label, **_common(KEYS[name]))
    slots[name] = st.empty()


def _read_config() -> TrainConfig:
    state = st.session_state
    hidden = tuple(state[width_key(i)] for i in range(state[LAYERS_KEY]))
    preset = state[PRESET_KEY]
    return TrainConfig(hidden=hidden, preset=preset, **{name: state[key] for name, key in KEYS.items()})

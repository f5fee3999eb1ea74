"""The training configuration form in the sidebar.

Every control keeps its value in st.session_state under a stable "cfg_*" key, kept for the whole session
(persist_state) so a visit to another page does not reset the form. Choosing a preset writes its values into those
keys; touching any other control marks the form "custom". Each field's error from TrainConfig.errors() is shown
right under its control, in the session's language (the engine writes English: ENGINE_MESSAGES are its templates).

The settings are shareable: a valid form is mirrored into the URL's query parameters (ui/share.py), and a new
session opened on such a URL starts with the form filled from them. A lesson link (ui/lesson.py) also locks some
controls (shown disabled, held at the link's values, even when a preset is chosen) or hides them (not shown; their
values still come from the link or the preset); "Share as lesson" builds one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from fmnist.config import ACTIVATIONS, DEVICES, MAX_LAYERS, OPTIMIZERS, PRECISIONS, PRESETS, SCHEDULES, TrainConfig
from fmnist.devices import problem
from fmnist.jobs import pool
from fmnist.memory import memory_problem
from ui import lesson, share
from ui.i18n import N_, _, current, engine, gettext

PRESET_KEY = "cfg_preset"
LAYERS_KEY = "cfg_layers"
CUSTOM = "custom"
DEFAULT_PRESET = "seed"
NEW_LAYER_WIDTH = 64
URL_READ_KEY = "cfg_url_read"  # set once the session's first Train page run has read the URL
URL_ERRORS_KEY = "cfg_url_errors"  # what the URL held that could not be used; shown until the form is edited
LESSON_KEY = "cfg_lesson"  # the lesson.Lesson the session's link set (locked and hidden settings)
LOCKED_KEY = "cfg_locked_values"  # widget key -> value, for every widget of a locked setting
LESSON_LOCK_KEY = "lesson_lock"  # the "Share as lesson" choices
LESSON_HIDE_KEY = "lesson_hide"
LESSON_OPEN_KEY = "lesson_share"  # the expander, open or not
PRESET_NOTE_KEY = "cfg_preset_note"  # what a preset chosen in a lesson kept or changed unseen; until the form is edited
_MARKDOWN = re.compile(r"[\\`*_{}\[\]()<>#+|!~$]")  # escaped in a link's text shown by a notice

# Learning rates on a log scale: 1, 2, 3 and 5 of each decade from 1e-5 to 1, written so 3e-3 == 0.003 exactly.
LR_STEPS = tuple(float(f"{m}e{e}") for e in range(-5, 0) for m in (1, 2, 3, 5)) + (1.0,)

# Config field -> widget key, for every field that is one control.
KEYS = {name: f"cfg_{name}" for name in (
    "activation", "dropout", "batch_norm", "optimizer", "lr", "batch_size", "epochs", "schedule", "weight_decay",
    "label_smoothing", "augment", "flip", "warp", "drop_last", "ema", "eval_train", "val_size", "keep_best", "seed",
    "device", "precision")}

# Each setting's label (its control's, and its name in "Share as lesson") and its "?" help.
LABELS = {
    "preset": N_("Preset"),
    "hidden": N_("Hidden layers"),
    "activation": N_("Activation"),
    "dropout": N_("Dropout"),
    "batch_norm": N_("Batch norm"),
    "optimizer": N_("Optimizer"),
    "lr": N_("Learning rate (log scale)"),
    "batch_size": N_("Batch size"),
    "epochs": N_("Epochs"),
    "schedule": N_("Schedule"),
    "weight_decay": N_("Weight decay"),
    "label_smoothing": N_("Label smoothing"),
    "ema": N_("Weight average (EMA) decay"),
    "drop_last": N_("Drop last partial batch"),
    "augment": N_("Augment (random shifts)"),
    "flip": N_("Mirror left-right (random half)"),
    "warp": N_("Warp (small random shifts and zooms)"),
    "val_size": N_("Validation images"),
    "keep_best": N_("Keep best epoch (by validation accuracy)"),
    "eval_train": N_("Score training images in eval mode (as the notebook)"),
    "seed": N_("Seed"),
    "device": N_("Device"),
    "precision": N_("Precision"),
}
HELP = {
    "preset": N_("A ready-made set of all the settings below. quick: about 90% in under a minute of CPU time; seed: "
                 "the classic notebook; best: our recipe. Changing any setting makes it custom."),
    "hidden": N_("How many hidden layers sit between the 784 pixels and the 10 classes. More layers can learn more "
                 "complex patterns but train slower. Use − and + to remove or add a layer."),
    "width": N_("How many neurons this hidden layer has. A wider layer can fit more detail but has more weights to "
                "train and can overfit."),
    "activation": N_("The function each neuron applies to its weighted sum; it lets the network learn curved, not only "
                     "straight, boundaries. relu is the usual choice; tanh and sigmoid flatten out and can learn "
                     "slower."),
    "dropout": N_("The share of neurons switched off at random at each training step. Raising it fights overfitting "
                  "but slows learning; 0 turns it off."),
    "batch_norm": N_("Normalises each hidden layer's outputs over the batch. Turning it on usually trains steadier and "
                     "allows a higher learning rate."),
    "optimizer": N_("How the weights are updated from the gradient. sgd takes plain steps, momentum keeps a running "
                    "direction, adam and adamw adapt the step of each weight and usually learn faster."),
    "lr": N_("How big a step the optimizer takes along the gradient each step. Higher learns faster but can "
             "overshoot and diverge; lower is steadier but slower."),
    "batch_size": N_("How many images each step averages its gradient over. A larger batch gives smoother, faster "
                     "steps but fewer of them an epoch, and needs more memory."),
    "epochs": N_("How many times training goes through all the training images. More epochs learn more but take "
                 "longer and can overfit."),
    "schedule": N_("How the learning rate changes during training. constant keeps it; onecycle raises it, then lowers "
                   "it; cosine lowers it smoothly towards zero, which often ends on better weights."),
    "weight_decay": N_("Pulls every weight a little towards zero at each step. Raising it fights overfitting; too much "
                       "keeps the model from learning."),
    "label_smoothing": N_("Trains towards slightly less certain targets (e.g. 0.9 for the right class instead of 1). "
                          "Raising it keeps the model from becoming overconfident; 0 turns it off."),
    "ema": N_("0 = off. Scores a moving average of the weights, e.g. 0.999, instead of the last ones. Closer to 1 "
              "averages over more steps, which smooths out the noise of the last steps."),
    "drop_last": N_("Skips the last batch of each epoch when it is smaller than the batch size, as the classic "
                    "notebook does. On: every step has the same number of images."),
    "augment": N_("Shifts each training image by up to 2 pixels at random. The model sees more varied images, which "
                  "can reduce overfitting but makes learning slower."),
    "flip": N_("Mirrors a random half of the training images left to right. Clothes look much the same mirrored, so "
               "this adds variety; it can slow learning."),
    "warp": N_("Moves each training image by up to 1 pixel, fractions of a pixel included, and zooms it by up to 5% "
               "at random. Gentler than the shifts above: over a long run it helps the model generalise, in a short "
               "one it costs accuracy."),
    "val_size": N_("Held out of the 60,000 training images to pick the best epoch without looking at the test set. "
                   "More images make that pick more reliable but leave fewer to train on; 0 = no validation."),
    "keep_best": N_("At the end, keeps the weights of the epoch with the best validation accuracy instead of the "
                    "last ones. Needs validation images."),
    "eval_train": N_("After each epoch, scores the training images again in eval mode (no dropout), as the notebook "
                     "does, instead of averaging over the batches as they trained. It costs one more pass an epoch."),
    "seed": N_("The number that fixes the random starting weights and the order of the images. The same seed and "
               "settings give the same run; change it to see how much results vary by chance."),
    "device": N_("Where training runs: the CPU or a GPU (cuda; mps on Apple). auto picks a GPU when there is one."),
    "precision": N_("fp32 computes in full 32-bit floats. bf16 computes most of each step in 16 bits: faster where "
                    "the CPU or GPU supports it, slightly less exact."),
}
# Option values shown in Korean (the values themselves stay: tests, the URL and checkpoints use them).
OPTION_LABELS = {
    "quick": N_("quick"), "seed": N_("seed"), "best": N_("best"), "custom": N_("custom"), "auto": N_("auto"),
    "momentum": N_("momentum"), "constant": N_("constant"), "onecycle": N_("onecycle"), "cosine": N_("cosine"),
}
LOCK_NOTE = N_(":material/lock: Set by your teacher")

# What the engine writes that this form shows (TrainConfig.errors(), fmnist.devices.problem, fmnist.memory), as
# templates for engine(): each {name} stands for the text the engine put there.
ENGINE_MESSAGES = (
    N_("hidden layers must be whole numbers"),
    N_("use 1 to {max} hidden layers (got {got})"),
    N_("each layer needs 1 to {max} units (got {got})"),
    N_("unknown activation {value}; choose one of {options}"),
    N_("unknown optimizer {value}; choose one of {options}"),
    N_("unknown schedule {value}; choose one of {options}"),
    N_("unknown device {value}; choose one of {options}"),
    N_("unknown precision {value}; choose one of {options}"),
    N_("dropout must be at least 0 and below 1"),
    N_("learning rate must be a number above 0 and at most 10"),
    N_("weight decay must be between 0 and 1"),
    N_("label smoothing must be at least 0 and below 1"),
    N_("weight averaging (EMA) decay must be 0 (off) or from 0.5 to below 1, e.g. 0.999"),
    N_("validation images must be between 0 and {max}"),
    N_("batch size must be between 1 and the {count} training images"),
    N_("batch norm needs at least 2 images a batch: raise the batch size or turn batch norm off"),
    N_("epochs must be between 1 and {max}"),
    N_("seed must be a whole number from 0"),
    N_("batch norm is on or off"),
    N_("augment is on or off"),
    N_("flip is on or off"),
    N_("warp is on or off"),
    N_("drop last is on or off"),
    N_("eval train is on or off"),
    N_("keep best epoch is on or off"),
    N_("keeping the best epoch needs a validation split (val_size > 0)"),
    N_("CUDA was asked for, but PyTorch sees no CUDA GPU here: choose cpu or auto"),
    N_("MPS was asked for, but this machine has no Apple GPU: choose cpu or auto"),
    N_("this run needs about {need} of memory; about {free} is free: {advice}"),
    N_("this run needs about {need} of memory; about {free} are free: {advice}"),
    N_("this run needs about {need} of GPU memory; about {free} is free: {advice}"),
    N_("this run needs about {need} of GPU memory; about {free} are free: {advice}"),
    N_("use a smaller batch, or narrower or fewer layers"),
    N_("use narrower or fewer layers, or a smaller batch"),
    N_("use narrower or fewer layers, or a smaller batch, or plain SGD (no optimizer state)"),
)


def width_key(i: int) -> str:
    return f"cfg_w{i}"


def widget_values(config: TrainConfig) -> dict:
    """The session-state values that make the form show `config`."""
    values = {key: getattr(config, name) for name, key in KEYS.items()}
    values[LAYERS_KEY] = len(config.hidden)
    values.update({width_key(i): w for i, w in enumerate(config.hidden)})
    return values


def setting_keys(name: str) -> list[str]:
    """The widget keys that hold one setting's value: the layer count and every width for "hidden"; none for the
    preset (locked, it cannot be chosen, but the form becomes custom when an unlocked setting changes)."""
    if name == "hidden":
        return [LAYERS_KEY, *(width_key(i) for i in range(MAX_LAYERS))]
    return [] if name == "preset" else [KEYS[name]]


def memory_text(text: str) -> str:
    """fmnist.memory's message in the session's language, its advice (after the last ": ") included."""
    advice = text.rpartition(": ")[2]
    return engine(text).replace(advice, engine(advice))


def labels(table: dict[str, str]):
    """A format_func showing each option by its label in the table, else as it is, in the language of this script
    run: bound now, as Streamlit's AppTest calls it after the run, outside the session."""
    lang = current()
    return lambda value: gettext(table[value], lang) if value in table else str(value)


def config_sidebar() -> tuple[TrainConfig | None, dict[str, str]]:
    """Renders the form; returns (config, {}) when it is valid, (None, {field: message}) when it is not, and
    (config, {"memory": message}) when it is valid but needs more memory than is free now. The messages are the
    engine's, in English."""
    _read_url()
    _init_state()
    _hold_locked()
    _link_notice(st.container())  # the page's first element: above its title, not under 30 sidebar controls
    slots: dict = {}  # field name -> an st.empty() right under its control, filled once errors are known
    with st.sidebar:
        st.header(_("Training setup"))
        if _shown("preset"):
            st.selectbox(_(LABELS["preset"]), [*PRESETS, CUSTOM], key=PRESET_KEY, on_change=_apply_preset,
                         persist_state="session", format_func=labels(OPTION_LABELS), disabled=_locked("preset"),
                         help=_(HELP["preset"]))
            _lock_note("preset")
        if st.session_state.get(PRESET_NOTE_KEY):
            st.info(st.session_state[PRESET_NOTE_KEY], icon=":material/lock:")
        _model_controls(slots)
        _training_controls(slots)
        _data_controls(slots)
        _device_control(slots)
        slots[None] = st.empty()  # errors of settings the lesson hides
    config = _read_config()
    errors = config.errors()
    device_problem = problem(config.device, pool().devices())  # known once a worker has looked
    if "device" not in errors and device_problem:
        errors["device"] = device_problem
    for name, message in errors.items():
        if name in slots:
            slots[name].error(engine(message))
        else:  # hidden by the lesson: named, as its control is not there
            slots[None].error(_(LABELS[name]) + ": " + engine(message) if name in LABELS else engine(message))
    _share(None if errors else config)
    if errors:
        return None, errors
    found = pool().devices()
    where = found["auto"].split()[0] if config.device == "auto" and found else config.device
    too_big = memory_problem(config, device_type=where if where != "auto" else "cpu")  # Start stays disabled
    if too_big:
        slots.get("batch_size", slots[None]).error(_("Not enough memory: {reason}.", reason=memory_text(too_big)))
        return config, {"memory": too_big}
    return config, {}


def _read_url() -> None:
    """Once per session: settings in the URL (a shared link) fill the form; unusable ones are listed, not used. A
    lesson's locked and hidden settings are kept for the session."""
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
    found, lesson_problems = lesson.parse(params)
    if found:
        state[LESSON_KEY] = found
        state.pop(LOCKED_KEY, None)  # taken from the form once it is filled (_hold_locked)
    state[URL_ERRORS_KEY] = problems + lesson_problems


def _lesson() -> lesson.Lesson:
    return st.session_state.get(LESSON_KEY) or lesson.Lesson()


def _locked(name: str) -> bool:
    return name in _lesson().locked


def _shown(name: str) -> bool:
    return name not in _lesson().hidden


def _lock_note(name: str) -> None:
    if _locked(name):
        st.caption(_(LOCK_NOTE))


def _hold_locked() -> None:
    """The locked settings keep the values the link (or its preset) gave them, whatever else changes."""
    state = st.session_state
    locked = _lesson().locked
    if not locked:
        return
    if LOCKED_KEY not in state:
        state[LOCKED_KEY] = {key: state[key] for name in locked for key in setting_keys(name)}
    for key, value in state[LOCKED_KEY].items():
        if state.get(key) != value:
            state[key] = value


def _share(config: TrainConfig | None) -> None:
    """Mirrors a valid form into the URL and offers the link, and a lesson link."""
    if config is None:
        st.sidebar.caption(_("Fix the marked settings to share them."))
        _share_as_lesson(None, {})
        return
    settings = share.config_to_params(config)
    shown = st.query_params.to_dict()
    current = _lesson()
    params = lesson.lesson_params(settings, current.locked, current.hidden, share.view_params(shown))
    if shown != params:
        st.query_params.from_dict(params)
    query = share.query_string(params)
    if st.context.url:
        st.sidebar.caption(_("[Share these settings]({link}): the link opens this form as it is now.",
                             link=_address(query)))
    else:
        st.sidebar.caption(_("Share these settings: add `?{query}` to the app's address.", query=query) if query else
                           _("Share these settings: the app's address opens the seed preset."))
    _share_as_lesson(settings, share.view_params(shown))


def _link_notice(where) -> None:
    """What the link held that could not be used, in a few short lines (share.notice_lines), until the form is
    edited. The link's text is escaped: it is shown as written, never as Markdown."""
    problems = st.session_state.get(URL_ERRORS_KEY)
    if problems:
        lines = [_MARKDOWN.sub(r"\\\g<0>", line) for line in share.notice_lines(problems)]
        where.warning(_("Ignored from the link:") + "\n" + "".join(f"\n- {line}" for line in lines),
                      icon=":material/link_off:")


def _address(query: str) -> str:
    here = urlsplit(st.context.url)
    return urlunsplit((here.scheme, here.netloc, here.path or "/", query, ""))


def _share_as_lesson(settings: dict[str, str] | None, view: dict[str, str]) -> None:
    """A link with these settings (None: the form is not valid) for a class, the chosen ones locked (shown, not
    changeable) or hidden; in the address's language, if it names one."""
    state = st.session_state
    current = _lesson()
    state.setdefault(LESSON_LOCK_KEY, [n for n in lesson.NAMES if n in current.locked])
    state.setdefault(LESSON_HIDE_KEY, [n for n in lesson.NAMES if n in current.hidden])
    box = st.sidebar.expander(_("Share as lesson"), icon=":material/school:", key=LESSON_OPEN_KEY, on_change="rerun")
    if not box.open:
        return  # built when opened: a teacher's tool need not cost every visitor's first page its code viewer
    with box:
        names = {"format_func": labels(LABELS), "persist_state": "session"}
        lock = st.multiselect(_("Lock"), lesson.NAMES, key=LESSON_LOCK_KEY, **names,
                              help=_("Settings a student who opens the link sees greyed out, fixed at the values "
                                     "of this form."))
        hide = st.multiselect(_("Hide"), lesson.NAMES, key=LESSON_HIDE_KEY, **names,
                              help=_("Settings a student who opens the link does not see at all; they keep the "
                                     "values of this form."))
        if settings is None:
            st.caption(_("Fix the marked settings to share them."))
            return
        query = share.query_string(lesson.lesson_params(settings, lock, hide, view))
        st.caption(_("Give this link to your students: it opens this form with the chosen settings locked or "
                     "hidden."))
        st.code(_address(query) if st.context.url else f"?{query}", language=None, wrap_lines=True)


def _init_state() -> None:
    # Key by key, so a value Streamlit ever drops falls back to the default instead of breaking the form.
    state = st.session_state
    state.setdefault(PRESET_KEY, DEFAULT_PRESET)
    for key, value in widget_values(PRESETS[DEFAULT_PRESET]).items():
        state.setdefault(key, value)
    for i in range(MAX_LAYERS):
        state.setdefault(width_key(i), NEW_LAYER_WIDTH)


def _apply_preset() -> None:
    """The chosen preset fills the form, but for the settings a lesson locks: with one that differs from the
    preset's, the form is custom."""
    state = st.session_state
    state.pop(URL_ERRORS_KEY, None)
    state.pop(PRESET_NOTE_KEY, None)
    name = state[PRESET_KEY]
    preset = PRESETS.get(name)
    if preset is None:
        return
    values, before = widget_values(preset), _read_config()
    locked = state.get(LOCKED_KEY, {}) if _lesson().locked else {}
    for key, value in values.items():
        state[key] = locked.get(key, value)
    if any(key in values and values[key] != value for key, value in locked.items()):
        state[PRESET_KEY] = CUSTOM
    state[PRESET_NOTE_KEY] = lesson.preset_note(_(OPTION_LABELS.get(name, name)), preset, before, _read_config(),
                                                _lesson(), lambda setting: _(LABELS[setting]))


def _mark_custom() -> None:
    st.session_state.pop(URL_ERRORS_KEY, None)
    st.session_state.pop(PRESET_NOTE_KEY, None)
    st.session_state[PRESET_KEY] = CUSTOM


def _common(name: str, key: str) -> dict:
    return {"key": key, "on_change": _mark_custom, "persist_state": "session", "disabled": _locked(name),
            "help": _(HELP[name])}


def _model_controls(slots: dict) -> None:
    st.subheader(_("Model"))
    if _shown("hidden"):
        n = st.number_input(_(LABELS["hidden"]), min_value=1, max_value=MAX_LAYERS, step=1,
                            **_common("hidden", LAYERS_KEY))
        for i in range(n):
            # No bounds on the widget: TrainConfig.errors() is the one place that says what is allowed, and why.
            st.number_input(_("Layer {n} width", n=i + 1), step=1, **{**_common("hidden", width_key(i)),
                                                                      "help": _(HELP["width"])})
        _lock_note("hidden")
        slots["hidden"] = st.empty()
    _select("activation", ACTIVATIONS, slots)
    _number("dropout", slots, step=0.05, format="%.2f")
    _toggle("batch_norm", slots)


def _training_controls(slots: dict) -> None:
    st.subheader(_("Training"))
    _select("optimizer", OPTIMIZERS, slots, format_func=labels(OPTION_LABELS))
    if _shown("lr"):
        # A preset or checkpoint value off the grid is added to it rather than silently rounded.
        options = sorted({*LR_STEPS, st.session_state[KEYS["lr"]]})
        st.select_slider(_(LABELS["lr"]), options, format_func=lambda v: f"{v:g}", **_common("lr", KEYS["lr"]))
        _lock_note("lr")
        slots["lr"] = st.empty()
    _number("batch_size", slots, step=32)
    _number("epochs", slots, step=1)
    _select("schedule", SCHEDULES, slots, format_func=labels(OPTION_LABELS))
    _number("weight_decay", slots, step=0.01, format="%.4f")
    _number("label_smoothing", slots, step=0.05, format="%.2f")
    _number("ema", slots, step=0.001, format="%.4f")
    _toggle("drop_last", slots)


def _data_controls(slots: dict) -> None:
    st.subheader(_("Data"))
    _toggle("augment", slots)
    _toggle("flip", slots)
    _toggle("warp", slots)
    _number("val_size", slots, step=1000)
    _toggle("keep_best", slots)
    _toggle("eval_train", slots)
    _number("seed", slots, step=1)


def _device_control(slots: dict) -> None:
    found = pool().devices()
    names = {**OPTION_LABELS, "auto": _("auto ({device})", device=found["auto"]) if found else OPTION_LABELS["auto"]}
    _select("device", DEVICES, slots, format_func=labels(names))
    _select("precision", PRECISIONS, slots)


def _control(widget, name: str, slots: dict, *args, **kw) -> None:
    if not _shown(name):
        return
    widget(_(LABELS[name]), *args, **_common(name, KEYS[name]), **kw)
    _lock_note(name)
    slots[name] = st.empty()


def _select(name: str, options, slots: dict, **kw) -> None:
    _control(st.selectbox, name, slots, options, **kw)


def _number(name: str, slots: dict, **kw) -> None:
    _control(st.number_input, name, slots, **kw)


def _toggle(name: str, slots: dict) -> None:
    _control(st.toggle, name, slots)


def _read_config() -> TrainConfig:
    state = st.session_state
    hidden = tuple(state[width_key(i)] for i in range(state[LAYERS_KEY]))
    preset = state[PRESET_KEY]
    return TrainConfig(hidden=hidden, preset=preset, **{name: state[key] for name, key in KEYS.items()})

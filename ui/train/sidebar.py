"""The training configuration form in the sidebar.

Every control keeps its value in st.session_state under a stable "cfg_*" key, kept for the whole session
(persist_state) so a visit to another page does not reset the form. Choosing a preset writes its values into those
keys; touching any other control marks the form "custom". Each field's error from TrainConfig.errors() is shown
right under its control, in the session's language (the engine writes English, marked for the catalog).

The settings are shareable: a valid form is mirrored into the URL's query parameters (ui/train/share.py), and a new
session opened on such a URL starts with the form filled from them. A lesson link (ui/train/lesson.py) also locks some
controls (shown disabled, held at the link's values, even when a preset is chosen) or hides them (not shown; their
values still come from the link or the preset); "Share as lesson" builds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from fmnist.config import MAX_LAYERS, PRESETS, TrainConfig
from fmnist.config.settings import MAX_BLOCKS, PRESET_HELP, PRESET_LABEL, SECTIONS, SETTINGS, Setting
from fmnist.model.devices import problem
from fmnist.runs.jobs import pool
from fmnist.training.memory import memory_problem
from ui import challenge
from ui.i18n import N_, _, current, engine, gettext
from ui.train import lesson, share

PRESET_KEY = "cfg_preset"
LAYERS_KEY = "cfg_layers"
BLOCKS_KEY = "cfg_blocks"
NEW_BLOCK_CHANNELS = 32
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

# Learning rates on a log scale: 1, 2, 3 and 5 of each decade from 1e-5 to 1, written so 3e-3 == 0.003 exactly.
LR_STEPS = tuple(float(f"{m}e{e}") for e in range(-5, 0) for m in (1, 2, 3, 5)) + (1.0,)

# Setting -> widget key, for every setting that is one control (the layer widths are several: LAYERS_KEY and
# width_key(i)). Labels and "?" help come from the settings table, as the CLI's help does.
KEYS = {s.name: f"cfg_{s.name}" for s in SETTINGS if s.kind is not tuple}
LABELS = {"preset": PRESET_LABEL, **{s.name: s.label for s in SETTINGS}}
HELP = {"preset": PRESET_HELP, **{s.name: s.help for s in SETTINGS}}
SECTION_TITLES = {"convolution": N_("Convolution"), "model": N_("Model"), "training": N_("Training"),
                  "data": N_("Data"), "device": None}
# Option values shown in Korean (the values themselves stay: tests, the URL and checkpoints use them).
OPTION_LABELS = {
    "quick": N_("quick"), "seed": N_("seed"), "best": N_("best"), "cnn": N_("cnn"), "cnn-gap": N_("cnn-gap"),
    "cnn-best": N_("cnn-best"),
    "custom": N_("custom"), "auto": N_("auto"), "flatten": N_("flatten"), "gap": N_("gap (global average)"),
    "max": N_("max"), "avg": N_("avg (mean)"), "none": N_("none"),
    "momentum": N_("momentum"), "constant": N_("constant"), "onecycle": N_("onecycle"), "cosine": N_("cosine"),
}


def width_key(i: int) -> str:
    return f"cfg_w{i}"


def channels_key(i: int) -> str:
    return f"cfg_c{i}"


@dataclass(frozen=True)
class ListControl:
    """A setting that is a list of whole numbers: a count (− and +), then one input per item."""

    count_key: str
    item_key: Callable[[int], str]
    most: int
    new_item: int  # what an added item starts at
    item_label: str
    item_help: str


LISTS = {
    "hidden": ListControl(LAYERS_KEY, width_key, MAX_LAYERS, NEW_LAYER_WIDTH, N_("Layer {n} width"),
                          N_("How many neurons this hidden layer has. A wider layer can fit more detail but has more "
                             "weights to train and can overfit.")),
    "conv": ListControl(BLOCKS_KEY, channels_key, MAX_BLOCKS, NEW_BLOCK_CHANNELS, N_("Block {n} channels"),
                        N_("How many filters this block learns, each making one map of the image. More channels can "
                           "find more kinds of stroke and edge, at more computation.")),
}


def widget_values(config: TrainConfig) -> dict:
    """The session-state values that make the form show `config`."""
    values = {key: getattr(config, name) for name, key in KEYS.items()}
    for name, control in LISTS.items():
        items = getattr(config, name)
        values[control.count_key] = len(items)
        values.update({control.item_key(i): v for i, v in enumerate(items)})
    return values


def setting_keys(name: str) -> list[str]:
    """The widget keys that hold one setting's value: the count and every item of a list ("hidden", "conv"); none
    for the preset (locked, it cannot be chosen, but the form becomes custom when an unlocked setting changes)."""
    if name in LISTS:
        control = LISTS[name]
        return [control.count_key, *(control.item_key(i) for i in range(control.most))]
    return [] if name == "preset" else [KEYS[name]]


def memory_text(text: str) -> str:
    """fmnist.training.memory's message in the session's language, its advice (after the last ": ") included."""
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
        _sections(slots)
        slots[None] = st.empty()  # errors of settings the lesson hides
    config = _read_config()
    errors = config.errors()
    device_problem = problem(config.device, pool().devices())  # known once a worker has looked
    if "device" not in errors and device_problem:
        errors["device"] = device_problem
    if not errors:  # a joined student's challenge: its limits, next to their controls
        errors.update(challenge.limit_errors(config))
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
        st.caption(_(lesson.LOCK_NOTE))


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
                             link=address(query)))
    else:
        st.sidebar.caption(_("Share these settings: add `?{query}` to the app's address.", query=query) if query else
                           _("Share these settings: the app's address opens the seed preset."))
    _share_as_lesson(settings, share.view_params(shown))


def _link_notice(where) -> None:
    """What the link held that could not be used, in a few short lines (share.notice_lines), until the form is
    edited. The link's text is escaped: it is shown as written, never as Markdown."""
    problems = st.session_state.get(URL_ERRORS_KEY)
    if problems:
        where.warning(share.notice_text(problems), icon=":material/link_off:")


def address(query: str) -> str:
    """This app's address with another query."""
    here = urlsplit(st.context.url)
    return urlunsplit((here.scheme, here.netloc, here.path or "/", query, ""))


def _share_as_lesson(settings: dict[str, str] | None, view: dict[str, str]) -> None:
    """A link with these settings (None: the form is not valid) for a class, the chosen ones locked (shown, not
    changeable) or hidden; in the address's language, if it names one. Not offered to a student inside a challenge
    or a locked lesson, who would make an unlocked link of their own (the plain share link keeps the locks)."""
    if challenge.joined() or _lesson().locked:
        return
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
        st.code(address(query) if st.context.url else f"?{query}", language=None, wrap_lines=True)


def _init_state() -> None:
    # Key by key, so a value Streamlit ever drops falls back to the default instead of breaking the form.
    state = st.session_state
    state.setdefault(PRESET_KEY, DEFAULT_PRESET)
    for key, value in widget_values(PRESETS[DEFAULT_PRESET]).items():
        state.setdefault(key, value)
    for control in LISTS.values():
        for i in range(control.most):
            state.setdefault(control.item_key(i), control.new_item)


def choose_preset(name: str) -> TrainConfig:
    """Fills the form with a preset as choosing it in the list does (from a button's callback, before the page
    reruns: the lesson's steps) and returns the form's config."""
    st.session_state[PRESET_KEY] = name
    _apply_preset()
    return _read_config()


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


def _sections(slots: dict) -> None:
    """Every setting's control, section by section in the table's order; a few have controls of their own."""
    special = {"hidden": _list_control, "conv": _list_control, "lr": _lr_control, "device": _device_control}
    for section in SECTIONS:
        if SECTION_TITLES[section]:
            st.subheader(_(SECTION_TITLES[section]))
        for setting in SETTINGS:
            if setting.section == section:
                special.get(setting.name, _setting_control)(setting, slots)


def _setting_control(setting: Setting, slots: dict) -> None:
    if setting.choices:
        _control(st.selectbox, setting.name, slots, setting.choices, format_func=labels(OPTION_LABELS))
    elif setting.kind is bool:
        _control(st.toggle, setting.name, slots)
    else:
        _control(st.number_input, setting.name, slots, **setting.widget)


def _list_control(setting: Setting, slots: dict) -> None:
    """The count, then one input per item. No bounds on the inputs but the count's: TrainConfig.errors() is the one
    place that says what is allowed (0 hidden layers only after convolution blocks), and why."""
    name, control = setting.name, LISTS[setting.name]
    if not _shown(name):
        return
    n = st.number_input(_(LABELS[name]), min_value=0, max_value=control.most, step=1,
                        **_common(name, control.count_key))
    for i in range(n):
        st.number_input(_(control.item_label, n=i + 1), step=1, **{**_common(name, control.item_key(i)),
                                                                    "help": _(control.item_help)})
    _lock_note(name)
    slots[name] = st.empty()


def _lr_control(setting: Setting, slots: dict) -> None:
    if not _shown("lr"):
        return
    # A preset or checkpoint value off the grid is added to it rather than silently rounded.
    options = sorted({*LR_STEPS, st.session_state[KEYS["lr"]]})
    st.select_slider(_(LABELS["lr"]), options, format_func=lambda v: f"{v:g}", **_common("lr", KEYS["lr"]))
    _lock_note("lr")
    slots["lr"] = st.empty()


def _device_control(setting: Setting, slots: dict) -> None:
    found = pool().devices()
    names = {**OPTION_LABELS, "auto": _("auto ({device})", device=found["auto"]) if found else OPTION_LABELS["auto"]}
    _control(st.selectbox, "device", slots, setting.choices, format_func=labels(names))


def _control(widget, name: str, slots: dict, *args, **kw) -> None:
    if not _shown(name):
        return
    widget(_(LABELS[name]), *args, **_common(name, KEYS[name]), **kw)
    _lock_note(name)
    slots[name] = st.empty()


def _read_config() -> TrainConfig:
    state = st.session_state
    lists = {name: tuple(state[c.item_key(i)] for i in range(state[c.count_key])) for name, c in LISTS.items()}
    return TrainConfig(preset=state[PRESET_KEY], **lists, **{name: state[key] for name, key in KEYS.items()})

"""The Playground page's setup form in the sidebar, and the guided story's buttons that fill it.

Every control is bound to the URL (Streamlit's bind="query-params", the widget key is the parameter name), so the
address bar always holds the setup: ?dataset=spirals&hidden=8,8,8&lr=0.1 opens that network, and a value equal to
its default is left out. The hidden layers are one text field, as in the CLI (--hidden 8,8,8), because a bound
control that appears later (a "units in layer 3" input) does not write a value it got from a story button into the
URL. The dataset and the activation, whose options have translated labels, are bound by ui/playground/address.py,
which writes their keys (Streamlit's binding would write the shown label, ?dataset=나선) and names a value it cannot
read. Streamlit drops another bound parameter it cannot use; a number it can read but Setup refuses (noise=-1)
fills the control and is explained under it, as any value typed there is. The controls have no bounds of their
own: Setup.errors() is the one place that says what is allowed, and why. A teacher's ?lock= and ?hide= (read by
ui/playground/teacher.py) disable or leave out controls by the same names.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import ACTIVATIONS, DATASETS, FEATURES, LESSONS, MAX_LAYERS, MAX_UNITS, Setup
from ui.i18n import N_, _, current, engine, gettext
from ui.playground import teacher
from ui.playground.address import ACTIVATION_LABELS, DATASET_LABELS, read_address, write_address
from ui.train.lesson import LOCK_NOTE, Lesson
from ui.train.share import notice_text

DEFAULT = Setup()
LR_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
# Each setting's name in the form (and in the message about a hidden setting's bad value), by its parameter.
LABELS = {"dataset": N_("Dataset"), "points": N_("Points"), "noise": N_("Noise"),
          "train_fraction": N_("Share used for training"), "seed": N_("Seed"), "features": N_("Input features"),
          "hidden": N_("Hidden layers: units in each"), "activation": N_("Activation"), "lr": N_("Learning rate"),
          "batch_size": N_("Batch size"), "l1": N_("L1 regularisation"), "l2": N_("L2 regularisation")}
# Option labels (ui/playground/address.py): the values stay the engine's (the URL and the tests use them).


def dataset_label(name: str) -> str:
    return _(DATASET_LABELS[name]) if name in DATASET_LABELS else name


def activation_label(name: str) -> str:
    return _(ACTIVATION_LABELS[name]) if name in ACTIVATION_LABELS else name


def labels(table: dict[str, str]):
    """A format_func in the language of this script run (AppTest calls it after the run, outside the session)."""
    lang = current()
    return lambda value: gettext(table[value], lang) if value in table else value


def describe(setup: Setup) -> str:
    """Setup.describe() in the session's language: "xor, 2 → 2 → 1 tanh"."""
    layers = " → ".join(map(str, (len(setup.features), *setup.hidden, 1)))
    kind = activation_label(setup.activation) if setup.hidden else _("linear model")
    return f"{dataset_label(setup.dataset)}, {layers} {kind}"


def hidden_text(hidden: tuple[int, ...]) -> str:
    return ",".join(map(str, hidden)) or "0"


def parse_hidden(text: str) -> tuple[int, ...]:
    """"8,8,8" -> (8, 8, 8); "0" or "" -> () (no hidden layer); ValueError with the reason otherwise."""
    words = [w for w in text.replace(" ", "").split(",") if w]
    try:
        widths = tuple(int(w) for w in words)
    except ValueError:
        raise ValueError(_("give the units of each layer as whole numbers, like 8,8,8 (0 = no hidden layer)")) from None
    return () if widths in ((), (0,)) else widths


def widget_values(setup: Setup) -> dict:
    """The session-state values that make the form show `setup`."""
    values = {name: getattr(setup, name) for name in ("dataset", "points", "noise", "train_fraction", "seed",
                                                       "activation", "lr", "batch_size", "l1", "l2")}
    values.update(features=list(setup.features), hidden=hidden_text(setup.hidden))
    return values


def apply_lesson(key: str) -> None:
    """A story button's callback: the form shows the lesson's setup (so does the URL) but for what a teacher's link
    locks; the page then trains it."""
    locked = teacher.locked()
    st.session_state.update({k: v for k, v in widget_values(LESSONS[key].setup).items() if k not in locked})
    st.session_state["pg_start_lesson"] = key


def _bound(key: str) -> dict:
    return {"key": key, "bind": "query-params"}


def setup_sidebar() -> tuple[Setup | None, dict[str, str]]:
    """Renders the form; returns (setup, {}) when it is valid, else (None, {field: message})."""
    slots: dict = {}  # field -> an st.empty() right under its control, filled once the errors are known
    for problem in read_address():
        st.warning(problem, icon=":material/link_off:")
    found, problems = teacher.read()
    if problems:
        st.warning(notice_text(problems), icon=":material/link_off:")
    with st.sidebar:
        st.header(_("Playground setup"))
        _data_controls(slots, found)
        _network_controls(slots, found)
        _training_controls(slots, found)
        slots[None] = st.empty()  # errors of settings the lesson hides
    write_address()
    defaults = widget_values(DEFAULT)
    for name in found.hidden:  # no control holds its value: the link's, or the default
        st.session_state.setdefault(name, teacher.link_value(name, defaults[name]))
    setup, errors = read_setup(st.session_state)
    for name, message in errors.items():
        if name in slots:
            slots[name].error(engine(message), icon=":material/error:")
        else:
            slots[None].error(f"{_(LABELS[name])}: {engine(message)}", icon=":material/error:")
    return setup, errors


def control(slots: dict, found: Lesson, name: str, widget, *args, **kwargs) -> None:
    """One setting's control under its label, unless the lesson hides it; disabled, with the note Train shows, when
    it locks it; then the place for its error."""
    if name in found.hidden:
        return
    widget(_(LABELS[name]), *args, disabled=name in found.locked, **kwargs)
    if name in found.locked:
        st.caption(_(LOCK_NOTE))
    slots[name] = st.empty()


def _data_controls(slots: dict, found: Lesson) -> None:
    st.subheader(_("Data"))
    control(slots, found, "dataset", st.selectbox, DATASETS, index=DATASETS.index(DEFAULT.dataset),
            format_func=labels(DATASET_LABELS), key="dataset",
            help=_("The pattern of orange and blue points to learn. XOR and circles need a bent boundary, "
                   "gaussians a single line, and spirals need several layers."))
    control(slots, found, "points", st.number_input, value=DEFAULT.points, step=50, **_bound("points"),
            help=_("How many points, both classes together, before the split into training and test points. More "
                   "points show the pattern more clearly; each step still trains on one batch."))
    control(slots, found, "noise", st.number_input, value=DEFAULT.noise, step=0.05, format="%.2f", **_bound("noise"),
            help=_("How far points stray from their pattern: 0 = clean clusters, 1 = heavy overlap. More noise makes "
                   "the classes overlap, so no boundary can be perfect."))
    control(slots, found, "train_fraction", st.number_input, value=DEFAULT.train_fraction, step=0.1, format="%.1f",
            **_bound("train_fraction"),
            help=_("The part of the points the network learns from; the rest is the test set, which it never trains "
                   "on. A smaller share makes overfitting easier to see."))
    control(slots, found, "seed", st.number_input, value=DEFAULT.seed, step=1, **_bound("seed"),
            help=_("Draws the points and the network's first weights. The same seed gives the same start; another "
                   "seed shows how much luck the start brings."))
    control(slots, found, "features", st.multiselect, FEATURES, default=list(DEFAULT.features), **_bound("features"),
            help=_("What the network is given about each point: its coordinates x1 and x2, or values made from "
                   "them. A feature like x1*x2 or x1^2 can let even a line-shaped model separate XOR or circles."))


def _network_controls(slots: dict, found: Lesson) -> None:
    st.subheader(_("Network"))
    control(slots, found, "hidden", st.text_input, value=hidden_text(DEFAULT.hidden), **_bound("hidden"),
            help=_("Comma-separated, e.g. 8,8,8 for three layers of 8 (up to {layers} layers of 1 to {units}); 0 = "
                   "no hidden layer, the linear model: a single line. More layers and units can draw more complex "
                   "boundaries.", layers=MAX_LAYERS, units=MAX_UNITS))
    control(slots, found, "activation", st.selectbox, ACTIVATIONS, format_func=labels(ACTIVATION_LABELS),
            key="activation",
            help=_("The function each hidden unit applies to its sum. Without a bend (linear) stacked layers are "
                   "still one line; tanh, relu and sigmoid let layers bend lines into curves."))


def _training_controls(slots: dict, found: Lesson) -> None:
    st.subheader(_("Training"))
    options = sorted({*LR_STEPS, st.session_state.get("lr", DEFAULT.lr)})
    control(slots, found, "lr", st.select_slider, options, value=DEFAULT.lr, format_func=lambda v: f"{v:g}",
            **_bound("lr"),
            help=_("How big a step the optimizer takes along the gradient each step. Higher learns faster but can "
                   "overshoot and jump around; lower is steadier but slower. It applies from the next step."))
    control(slots, found, "batch_size", st.number_input, value=DEFAULT.batch_size, step=1, **_bound("batch_size"),
            help=_("How many training points each step learns from. Larger batches give smoother, steadier steps; "
                   "smaller ones are noisier but each step costs less."))
    control(slots, found, "l1", st.number_input, value=DEFAULT.l1, step=0.001, format="%.3f", **_bound("l1"),
            help=_("A penalty on the size of every weight that pushes small weights to exactly zero. Raising it "
                   "keeps fewer edges, a simpler network that may fit less well."))
    control(slots, found, "l2", st.number_input, value=DEFAULT.l2, step=0.001, format="%.3f", **_bound("l2"),
            help=_("A penalty on the square of every weight that keeps all weights small. Raising it smooths the "
                   "boundary and fights overfitting; too much and the network cannot learn the pattern."))


def read_setup(state) -> tuple[Setup | None, dict[str, str]]:
    """The Setup the form's values describe, or None and the reasons per field."""
    names = ("dataset", "points", "noise", "train_fraction", "seed", "activation", "lr", "batch_size", "l1", "l2")
    values = {**{n: state[n] for n in names}, "features": tuple(state["features"])}
    try:
        hidden = parse_hidden(state["hidden"])
    except ValueError as exc:
        return None, {**Setup(**values).errors(), "hidden": str(exc)}
    setup = Setup(**values, hidden=hidden)
    errors = setup.errors()
    return (None, errors) if errors else (setup, {})

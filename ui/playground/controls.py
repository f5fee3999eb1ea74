"""The Playground page's setup form in the sidebar, and the guided story's buttons that fill it.

Every control is bound to the URL (Streamlit's bind="query-params", the widget key is the parameter name), so the
address bar always holds the setup: ?dataset=spirals&hidden=8,8,8&lr=0.1 opens that network, and a value equal to
its default is left out. The hidden layers are one text field, as in the CLI (--hidden 8,8,8), because a bound
control that appears later (a "units in layer 3" input) does not write a value it got from a story button into the
URL. The dataset and the activation, whose options have translated labels, are bound by ui/playground/address.py,
which writes their keys (Streamlit's binding would write the shown label, ?dataset=나선) and names a value it cannot
read. Streamlit drops another bound parameter it cannot use; a number it can read but Setup refuses (noise=-1)
fills the control and is explained under it, as any value typed there is. The controls have no bounds of their
own: Setup.errors() is the one place that says what is allowed, and why.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import ACTIVATIONS, DATASETS, FEATURES, LESSONS, MAX_LAYERS, MAX_UNITS, Setup
from ui.i18n import _, current, engine, gettext
from ui.playground.address import ACTIVATION_LABELS, DATASET_LABELS, read_address, write_address

DEFAULT = Setup()
LR_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
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
    """A story button's callback: the form shows the lesson's setup (so does the URL); the page then trains it."""
    st.session_state.update(widget_values(LESSONS[key].setup))
    st.session_state["pg_start_lesson"] = key


def _bound(key: str) -> dict:
    return {"key": key, "bind": "query-params"}


def setup_sidebar() -> tuple[Setup | None, dict[str, str]]:
    """Renders the form; returns (setup, {}) when it is valid, else (None, {field: message})."""
    slots: dict = {}  # field -> an st.empty() right under its control, filled once the errors are known
    for problem in read_address():
        st.warning(problem, icon=":material/link_off:")
    with st.sidebar:
        st.header(_("Playground setup"))
        _data_controls(slots)
        _network_controls(slots)
        _training_controls(slots)
    write_address()
    setup, errors = read_setup(st.session_state)
    for name, message in errors.items():
        slots[name].error(engine(message), icon=":material/error:")
    return setup, errors


def _data_controls(slots: dict) -> None:
    st.subheader(_("Data"))
    slot(slots, "dataset", st.selectbox(
        _("Dataset"), DATASETS, index=DATASETS.index(DEFAULT.dataset), format_func=labels(DATASET_LABELS),
        key="dataset", help=_("The pattern of orange and blue points to learn. XOR and circles need a bent boundary, "
                              "gaussians a single line, and spirals need several layers.")))
    slot(slots, "points", st.number_input(
        _("Points"), value=DEFAULT.points, step=50, **_bound("points"),
        help=_("How many points, both classes together, before the split into training and test points. More "
               "points show the pattern more clearly; each step still trains on one batch.")))
    slot(slots, "noise", st.number_input(
        _("Noise"), value=DEFAULT.noise, step=0.05, format="%.2f", **_bound("noise"),
        help=_("How far points stray from their pattern: 0 = clean clusters, 1 = heavy overlap. More noise makes "
               "the classes overlap, so no boundary can be perfect.")))
    slot(slots, "train_fraction", st.number_input(
        _("Share used for training"), value=DEFAULT.train_fraction, step=0.1, format="%.1f",
        **_bound("train_fraction"),
        help=_("The part of the points the network learns from; the rest is the test set, which it never trains "
               "on. A smaller share makes overfitting easier to see.")))
    slot(slots, "seed", st.number_input(
        _("Seed"), value=DEFAULT.seed, step=1, **_bound("seed"),
        help=_("Draws the points and the network's first weights. The same seed gives the same start; another "
               "seed shows how much luck the start brings.")))
    slot(slots, "features", st.multiselect(
        _("Input features"), FEATURES, default=list(DEFAULT.features), **_bound("features"),
        help=_("What the network is given about each point: its coordinates x1 and x2, or values made from "
               "them. A feature like x1*x2 or x1^2 can let even a line-shaped model separate XOR or circles.")))


def _network_controls(slots: dict) -> None:
    st.subheader(_("Network"))
    slot(slots, "hidden", st.text_input(
        _("Hidden layers: units in each"), value=hidden_text(DEFAULT.hidden), **_bound("hidden"),
        help=_("Comma-separated, e.g. 8,8,8 for three layers of 8 (up to {layers} layers of 1 to {units}); 0 = "
               "no hidden layer, the linear model: a single line. More layers and units can draw more complex "
               "boundaries.", layers=MAX_LAYERS, units=MAX_UNITS)))
    slot(slots, "activation", st.selectbox(
        _("Activation"), ACTIVATIONS, format_func=labels(ACTIVATION_LABELS), key="activation",
        help=_("The function each hidden unit applies to its sum. Without a bend (linear) stacked layers are "
               "still one line; tanh, relu and sigmoid let layers bend lines into curves.")))


def _training_controls(slots: dict) -> None:
    st.subheader(_("Training"))
    options = sorted({*LR_STEPS, st.session_state.get("lr", DEFAULT.lr)})
    slot(slots, "lr", st.select_slider(
        _("Learning rate"), options, value=DEFAULT.lr, format_func=lambda v: f"{v:g}", **_bound("lr"),
        help=_("How big a step the optimizer takes along the gradient each step. Higher learns faster but can "
               "overshoot and jump around; lower is steadier but slower. It applies from the next step.")))
    slot(slots, "batch_size", st.number_input(
        _("Batch size"), value=DEFAULT.batch_size, step=1, **_bound("batch_size"),
        help=_("How many training points each step learns from. Larger batches give smoother, steadier steps; "
               "smaller ones are noisier but each step costs less.")))
    slot(slots, "l1", st.number_input(
        _("L1 regularisation"), value=DEFAULT.l1, step=0.001, format="%.3f", **_bound("l1"),
        help=_("A penalty on the size of every weight that pushes small weights to exactly zero. Raising it "
               "keeps fewer edges, a simpler network that may fit less well.")))
    slot(slots, "l2", st.number_input(
        _("L2 regularisation"), value=DEFAULT.l2, step=0.001, format="%.3f", **_bound("l2"),
        help=_("A penalty on the square of every weight that keeps all weights small. Raising it smooths the "
               "boundary and fights overfitting; too much and the network cannot learn the pattern.")))


def slot(slots: dict, name: str, _value) -> None:
    """Reserves the place for `name`'s error right under the control just drawn."""
    slots[name] = st.empty()


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

"""The Playground page's setup form in the sidebar, and the guided story's buttons that fill it.

Every control is bound to the URL (Streamlit's bind="query-params", the widget key is the parameter name), so the
address bar always holds the setup: ?dataset=spirals&layers=3&units_1=8&units_2=8&units_3=8&lr=0.1 opens that
network, and a value equal to its default is left out. Streamlit drops a bound parameter it cannot use (an unknown
dataset); a number it can read but Setup refuses (noise=-1) fills the control and is explained under it, as any
value typed there is. The controls have no bounds of their own: Setup.errors() is the one place that says what is
allowed, and why.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import ACTIVATIONS, DATASETS, FEATURES, LESSONS, MAX_LAYERS, Setup

DEFAULT = Setup()
LR_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
NEW_UNITS = 4  # a layer added with + starts with this many units


def units_key(i: int) -> str:
    return f"units_{i + 1}"


def widget_values(setup: Setup) -> dict:
    """The session-state values that make the form show `setup`."""
    values = {name: getattr(setup, name) for name in ("dataset", "points", "noise", "train_fraction", "seed",
                                                       "activation", "lr", "batch_size", "l1", "l2")}
    values.update(features=list(setup.features), layers=len(setup.hidden))
    values.update({units_key(i): w for i, w in enumerate(setup.hidden)})
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
    with st.sidebar:
        st.header("Playground setup")
        st.subheader("Data")
        slot(slots, "dataset", st.selectbox("Dataset", DATASETS, index=DATASETS.index(DEFAULT.dataset),
                                            **_bound("dataset")))
        slot(slots, "points", st.number_input("Points", value=DEFAULT.points, step=50, **_bound("points"),
                                              help="Both classes together, before the split"))
        slot(slots, "noise", st.number_input("Noise", value=DEFAULT.noise, step=0.05, format="%.2f",
                                             **_bound("noise"), help="0 = clean clusters, 1 = heavy overlap"))
        slot(slots, "train_fraction", st.number_input("Share used for training", value=DEFAULT.train_fraction,
                                                      step=0.1, format="%.1f", **_bound("train_fraction"),
                                                      help="The rest is the test set"))
        slot(slots, "seed", st.number_input("Seed", value=DEFAULT.seed, step=1, **_bound("seed"),
                                            help="Draws the points and the network's first weights"))
        slot(slots, "features", st.multiselect("Input features", FEATURES, default=list(DEFAULT.features),
                                               **_bound("features")))
        st.subheader("Network")
        layers = st.number_input("Hidden layers", value=len(DEFAULT.hidden), step=1, **_bound("layers"),
                                 help="0 = no hidden layer: the linear model, a single line")
        for i in range(min(max(layers, 0), MAX_LAYERS)):
            st.number_input(f"Units in layer {i + 1}", value=NEW_UNITS if i else DEFAULT.hidden[0], step=1,
                            **_bound(units_key(i)))
        slots["hidden"] = st.empty()
        slot(slots, "activation", st.selectbox("Activation", ACTIVATIONS, **_bound("activation")))
        st.subheader("Training")
        options = sorted({*LR_STEPS, st.session_state.get("lr", DEFAULT.lr)})
        slot(slots, "lr", st.select_slider("Learning rate", options, value=DEFAULT.lr, format_func=lambda v: f"{v:g}",
                                           **_bound("lr")))
        slot(slots, "batch_size", st.number_input("Batch size", value=DEFAULT.batch_size, step=1,
                                                  **_bound("batch_size")))
        slot(slots, "l1", st.number_input("L1 regularisation", value=DEFAULT.l1, step=0.001, format="%.3f",
                                          **_bound("l1")))
        slot(slots, "l2", st.number_input("L2 regularisation", value=DEFAULT.l2, step=0.001, format="%.3f",
                                          **_bound("l2")))
    setup, errors = read_setup(st.session_state)
    for name, message in errors.items():
        slots.get(name, slots["hidden"]).error(message, icon=":material/error:")
    return setup, errors


def slot(slots: dict, name: str, _value) -> None:
    """Reserves the place for `name`'s error right under the control just drawn."""
    slots[name] = st.empty()


def read_setup(state) -> tuple[Setup | None, dict[str, str]]:
    """The Setup the form's values describe, or None and the reasons per field."""
    layers = state["layers"]
    if not 0 <= layers <= MAX_LAYERS:
        errors = Setup(hidden=()).replace(**_values(state, ())).errors()
        return None, {**errors, "hidden": f"use 0 to {MAX_LAYERS} hidden layers (got {layers})"}
    setup = Setup(**_values(state, tuple(state[units_key(i)] for i in range(layers))))
    errors = setup.errors()
    return (None, errors) if errors else (setup, {})


def _values(state, hidden: tuple) -> dict:
    names = ("dataset", "points", "noise", "train_fraction", "seed", "activation", "lr", "batch_size", "l1", "l2")
    return {**{n: state[n] for n in names}, "features": tuple(state["features"]), "hidden": hidden}

"""The Playground page's setup form in the sidebar, and the guided story's buttons that fill it.

Every control is bound to the URL (Streamlit's bind="query-params", the widget key is the parameter name), so the
address bar always holds the setup: ?dataset=spirals&hidden=8,8,8&lr=0.1 opens that network, and a value equal to
its default is left out. The hidden layers are one text field, as in the CLI (--hidden 8,8,8), because a bound
control that appears later (a "units in layer 3" input) does not write a value it got from a story button into the
URL. Streamlit drops a bound parameter it cannot use (an unknown
dataset); a number it can read but Setup refuses (noise=-1) fills the control and is explained under it, as any
value typed there is. The controls have no bounds of their own: Setup.errors() is the one place that says what is
allowed, and why.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import ACTIVATIONS, DATASETS, FEATURES, LESSONS, MAX_LAYERS, Setup

DEFAULT = Setup()
LR_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def hidden_text(hidden: tuple[int, ...]) -> str:
    return ",".join(map(str, hidden)) or "0"


def parse_hidden(text: str) -> tuple[int, ...]:
    """"8,8,8" -> (8, 8, 8); "0" or "" -> () (no hidden layer); ValueError with the reason otherwise."""
    words = [w for w in text.replace(" ", "").split(",") if w]
    try:
        widths = tuple(int(w) for w in words)
    except ValueError:
        raise ValueError("give the units of each layer as whole numbers, like 8,8,8 (0 = no hidden layer)") from None
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
        slot(slots, "hidden", st.text_input("Hidden layers: units in each", value=hidden_text(DEFAULT.hidden),
                                            **_bound("hidden"), help=f"Comma-separated, e.g. 8,8,8 for three "
                                            f"layers of 8 (up to {MAX_LAYERS} layers of 1 to 8); 0 = no hidden "
                                            "layer, the linear model: a single line"))
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
        slots[name].error(message, icon=":material/error:")
    return setup, errors


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

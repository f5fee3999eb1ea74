"""The inside of the network in the app: the diagram with its unit inspector, and layer health with the weight
distributions. Train shows them from the run's per-epoch insight; Models computes the same insight from a
checkpoint (fmnist.health.network_insight), so both read alike."""

from __future__ import annotations

import streamlit as st

from fmnist import checkpoints
from fmnist.data import CLASSES
from ui import session
from ui.network_charts import (
    class_activation_figure,
    distribution_figure,
    health_figure,
    health_rows,
    images_figure,
    incoming_figure,
    network_figure,
    unit_from_selection,
)

DIAGRAM_CAPTION = ("Columns of units: 16 of the 784 input pixels, each hidden layer and the 10 classes; a wide layer "
                   "shows its 16 units with the largest outgoing weights. Each unit's 3 strongest incoming weights "
                   "are drawn, red positive and blue negative, thicker when larger; a unit's colour is its mean "
                   "activation on 2,000 test images (yellow high, purple low, per column). Click a unit to "
                   "inspect it.")
HEALTH_CAPTION = ("Per hidden layer, measured every epoch on 2,000 test images: dead units never fire, saturated ones "
                  "sit at their limits (sigmoid, tanh) where gradients vanish; the gradient norm is averaged over "
                  "the epoch's last 50 steps; the update ratio is log10 of one step's weight change over the "
                  "weights' size, healthy near -3 (green band: -5 to -1).")


def _layer_key(prefix: str) -> str:
    return f"{prefix}_unit_layer"


def _unit_key(prefix: str) -> str:
    return f"{prefix}_unit_index"


def picked_unit(prefix: str) -> tuple[int, int] | None:
    """(column, index among the shown) of the unit under inspection, or None."""
    c, j = st.session_state.get(_layer_key(prefix)), st.session_state.get(_unit_key(prefix))
    return None if c is None or j is None else (int(c), int(j))


def _on_click(prefix: str) -> None:
    event = st.session_state.get(f"{prefix}_diagram")
    picked = unit_from_selection(event.get("selection") if event else None)
    if picked is not None:
        st.session_state[_layer_key(prefix)], st.session_state[_unit_key(prefix)] = picked


def show_network(net: dict | None, epochs: list[dict], prefix: str, title: str) -> None:
    """The diagram and, once a unit is clicked or picked, its inspector."""
    if net is None:
        st.caption("The network diagram was not recorded for this run.")
        return
    cols = net["columns"]
    picked = picked_unit(prefix)
    if picked is not None and (picked[0] >= len(cols) or picked[1] >= len(cols[picked[0]]["shown"])):
        picked = None
    st.plotly_chart(network_figure(net, title, selected=picked), key=f"{prefix}_diagram",
                    on_select=lambda: _on_click(prefix), selection_mode="points")
    st.caption(DIAGRAM_CAPTION)
    _unit_picker(cols, prefix)
    picked = picked_unit(prefix)
    if picked is not None:
        show_inspector(net, picked, epochs)


def _unit_picker(cols: list[dict], prefix: str) -> None:
    left, right = st.columns(2)
    layer = left.selectbox("Inspect a unit of", range(1, len(cols)), key=_layer_key(prefix), index=None,
                           placeholder="click a unit or choose a layer", format_func=lambda c: cols[c]["name"])
    if layer is None:
        return
    shown = cols[layer]["shown"]
    if (st.session_state.get(_unit_key(prefix)) or 0) >= len(shown):
        st.session_state[_unit_key(prefix)] = 0
    right.selectbox("Unit", range(len(shown)), key=_unit_key(prefix), format_func=lambda j: f"unit {shown[j]}")


def show_inspector(net: dict, picked: tuple[int, int], epochs: list[dict]) -> None:
    cols = net["columns"]
    c, j = picked
    col = cols[c]
    if c == 0:
        st.info(f"Input pixel ({int(col['shown'][j]) // 28}, {int(col['shown'][j]) % 28}): its value is the image's "
                "brightness there. Pick a hidden or output unit to see what it learned.")
        return
    figures = unit_health(col, j)
    name = "class " + str(col["name"]) if col["name"] == "output" else col["name"]
    st.markdown(f"**Unit {figures['unit']} of {name}**")
    st.dataframe([{k: (f"{v:.0%}" if k == "saturated on" else v) for k, v in figures.items()}], hide_index=True)
    left, middle, right = st.columns(3)
    left.plotly_chart(incoming_figure(col["incoming"][j], cols[c - 1]["name"]), key=f"inspect_in_{c}_{j}")
    middle.plotly_chart(class_activation_figure(col["class_mean"][j]), key=f"inspect_cls_{c}_{j}")
    images, labels = session.test_images()
    top = list(col["top"][j])
    right.plotly_chart(images_figure(images[top], [f"#{i} {CLASSES[labels[i]][:9]}" for i in top],
                                     "The 9 test images that excite it most"), key=f"inspect_top_{c}_{j}")
    if epochs and epochs[-1].get("health") and col["name"] != "output":
        layer = int(col["name"].split()[-1])
        st.caption("Its layer's health after the last epoch: " + ", ".join(
            f"{k} {v}" for k, v in health_rows(epochs[-1]["health"])[layer - 1].items() if k != "layer"))


def show_health(epochs: list[dict], insight: list[dict], prefix: str) -> None:
    """The last epoch's warnings and health table, each figure over the epochs, and the weight distributions."""
    recorded = [e for e in epochs if e.get("health")]
    if not recorded:
        st.caption("Layer health was not recorded for this run (it was trained before health was measured).")
    else:
        last = recorded[-1]
        for warning in last.get("warnings") or []:
            st.warning(warning, icon=":material/warning:")
        if not last.get("warnings"):
            st.success(f"No health warning after epoch {last['epoch']}.", icon=":material/check_circle:")
        st.dataframe(health_rows(last["health"]), hide_index=True, key=f"{prefix}_health_table")
        st.plotly_chart(health_figure(recorded), key=f"{prefix}_health_figure")
        st.caption(HEALTH_CAPTION)
    hists = [i.get("histograms") for i in insight if i.get("histograms")]
    if hists:
        _distributions(hists, epochs, prefix)


def _distributions(hists: list[list[dict]], epochs: list[dict], prefix: str) -> None:
    names = [f"hidden {k + 1}" for k in range(len(hists[-1]) - 1)] + ["output"]
    layer = st.selectbox("Distributions of layer", range(len(names)), key=f"{prefix}_dist_layer",
                         format_func=lambda k: names[k])
    numbers = [e["epoch"] for e in epochs[:len(hists)]]
    cols = st.columns(3)
    for col, kind, label in zip(cols, ("weight", "bias", "grad"), ("weights", "biases", "weight gradients")):
        col.plotly_chart(distribution_figure([h[layer][kind] for h in hists], numbers, f"{names[layer]}: {label}"),
                         key=f"{prefix}_dist_{kind}")
    st.caption("Like TensorBoard's distributions: each column is an epoch, darker bands hold more of the layer's "
               "values. Weights that spread out are learning; a gradient distribution squeezed to 0 has vanished.")


@st.cache_data(max_entries=8, show_spinner="Measuring the network on 2,000 test images ...")
def _checkpoint_network(path: str, mtime: float, name: str) -> dict:
    from fmnist.health import network_insight

    x_test, y_test = session.test_set()
    return network_insight(session.model(name), x_test, y_test)


def show_checkpoint_network(name: str) -> None:
    """The diagram, inspector and health of a saved model (Models page)."""
    try:
        path = session.store().path_for(name)
        net = _checkpoint_network(str(path), path.stat().st_mtime, name)
        meta = session.load_checkpoint(name).meta
    except (checkpoints.CheckpointError, OSError) as exc:
        st.caption(f"Cannot show the network of {name}: {exc}")
        return
    epochs = meta.get("history") or []
    network, health = st.tabs(["Network", "Health"], key="models_network_tab", on_change="rerun")
    if network.open:
        with network:
            show_network(net, epochs, "models_net", f"{name}: the network")
    if health.open:
        with health:
            show_health(epochs, [], "models_net")


def unit_health(column: dict, j: int) -> dict:
    """The inspector's figures for the j-th shown unit of a column of network_insight()."""
    out = {"unit": int(column["shown"][j]), "mean activation": float(column["mean"][j])}
    if "dead" in column:
        out.update({"never fires": bool(column["dead"][j]), "saturated on": float(column["saturated"][j]),
                    "activation std": float(column["std"][j])})
    return out

"""The inside of the network in the app: the diagram with its unit inspector, and layer health with the weight
distributions. Train shows them from the run's per-epoch insight; Models computes the same insight from a
checkpoint (fmnist.inspect.health.network_insight), so both read alike."""

from __future__ import annotations

import streamlit as st

from fmnist.data.dataset import CLASSES
from fmnist.store import checkpoints
from ui import session
from ui.i18n import N_, _, engine
from ui.inspect.conv_view import show_blocks
from ui.inspect.network_charts import (
    class_activation_figure,
    class_activation_text,
    distribution_figure,
    distribution_text,
    health_figure,
    health_rows,
    health_text,
    images_figure,
    incoming_figure,
    incoming_text,
    layer_name,
    network_figure,
    network_text,
    top_images_text,
    top_images_titles,
    unit_from_selection,
)
from ui.names import class_name

DIAGRAM_CAPTION = N_("Columns of units: 16 of the 784 input pixels, each hidden layer and the 10 classes; a wide "
                      "layer shows its 16 units with the largest outgoing weights. Each unit's 3 strongest incoming "
                      "weights are drawn, red positive and blue negative, thicker when larger; a unit's colour is its "
                      "mean activation on 2,000 test images (yellow high, purple low, per column). Click a unit to "
                      "inspect it.")
CNN_DIAGRAM_CAPTION = N_("Columns of units: 16 of the features the convolution blocks hand to the dense layers, each "
                         "hidden layer and the 10 classes; a wide layer shows its 16 units with the largest outgoing "
                         "weights. Each unit's 3 strongest incoming weights are drawn, red positive and blue negative, "
                         "thicker when larger; a unit's colour is its mean activation on 2,000 test images (yellow "
                         "high, purple low, per column). Click a unit to inspect it.")
HEALTH_CAPTION = N_("Per hidden layer, measured every epoch on 2,000 test images: dead units never fire, saturated "
                     "ones sit at their limits (sigmoid, tanh) where gradients vanish; the gradient norm is averaged "
                     "over the epoch's last 50 steps; the update ratio is log10 of one step's weight change over the "
                     "weights' size, healthy near -3 (green band: -5 to -1).")


CONV_HEALTH_CAPTION = N_("For a convolution block the units are its channels: a channel is dead when it is never "
                         "positive anywhere on any of the probe images, and saturated when it sits at its limits at "
                         "95% or more of the positions of its maps.")


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
    """The diagram and, once a unit is clicked or picked, its inspector; a CNN's blocks and their channel inspector
    first."""
    if net is None:
        st.caption(_("The network diagram was not recorded for this run."))
        return
    if net.get("blocks"):
        show_blocks(net, prefix)
    cols = net["columns"]
    picked = picked_unit(prefix)
    if picked is not None and (picked[0] >= len(cols) or picked[1] >= len(cols[picked[0]]["shown"])):
        picked = None
    st.caption(_("**The network, unit by unit**"),
               help=_("A map of the model: inputs on the left, classes on the right, lines for its strongest "
                      "weights. Click a unit (or choose one below) to see what it learned and what excites it."))
    st.plotly_chart(network_figure(net, title, selected=picked), key=f"{prefix}_diagram",
                    on_select=lambda: _on_click(prefix), selection_mode="points")
    st.caption(_(CNN_DIAGRAM_CAPTION if net.get("blocks") else DIAGRAM_CAPTION))
    st.caption(network_text(net))
    _unit_picker(cols, prefix)
    picked = picked_unit(prefix)
    if picked is not None:
        show_inspector(net, picked, epochs)


def _unit_picker(cols: list[dict], prefix: str) -> None:
    # The option labels are made here, in the session's language: a format_func that called _() later (AppTest
    # formats the chosen value outside the script run) would give English.
    left, right = st.columns(2)
    layer = left.selectbox(_("Inspect a unit of"), range(1, len(cols)), key=_layer_key(prefix), index=None,
                           placeholder=_("click a unit or choose a layer"),
                           format_func=[layer_name(col["name"]) for col in cols].__getitem__,
                           help=_("The layer whose unit you want to look at: a hidden layer, or the output layer "
                                  "with one unit per class."))
    if layer is None:
        return
    shown = cols[layer]["shown"]
    if (st.session_state.get(_unit_key(prefix)) or 0) >= len(shown):
        st.session_state[_unit_key(prefix)] = 0
    right.selectbox(_("Unit"), range(len(shown)), key=_unit_key(prefix),
                    format_func=[_("unit {n}", n=u) for u in shown].__getitem__,
                    help=_("One of the layer's units (the 16 with the largest outgoing weights of a wide layer): "
                           "the inspector shows its incoming weights and what makes it fire."))


def show_inspector(net: dict, picked: tuple[int, int], epochs: list[dict]) -> None:
    cols = net["columns"]
    c, j = picked
    col = cols[c]
    if c == 0 and col["name"] == "head":
        st.info(_("Feature {unit} of the last block's maps, flattened (or averaged) for the dense layers. Pick a "
                  "channel of a block above to see what the maps find.", unit=int(col["shown"][j])))
        return
    if c == 0:
        st.info(_("Input pixel ({row}, {col}): its value is the image's brightness there. Pick a hidden or output "
                  "unit to see what it learned.", row=int(col["shown"][j]) // 28, col=int(col["shown"][j]) % 28))
        return
    figures = unit_health(col, j)
    if col["name"] == "output":
        title = _("**Unit {unit} of the output (class {name})**", unit=figures["unit"],
                  name=class_name(CLASSES[figures["unit"]]))
    else:
        title = _("**Unit {unit} of {layer}**", unit=figures["unit"], layer=layer_name(col["name"]))
    st.markdown(title, help=_("One unit's figures on 2,000 test images: its mean activation, and for a hidden unit "
                              "whether it never fires, how often it is saturated and how much its activation "
                              "varies."))
    st.dataframe([{_(k): (f"{v:.0%}" if k == "saturated on" else _("yes") if v is True else _("no") if v is False
                          else v) for k, v in figures.items()}], hide_index=True)
    left, middle, right = st.columns(3)
    source = cols[c - 1]["name"]
    left.caption(_("**Incoming weights**"),
                 help=_("The weights from the layer before into this unit: red ones push it up, blue ones down. From "
                        "the input they form a 28 × 28 image of the pattern the unit looks for."))
    left.plotly_chart(incoming_figure(col["incoming"][j], source), key=f"inspect_in_{c}_{j}")
    left.caption(incoming_text(col["incoming"][j], source))
    middle.caption(_("**Mean activation per class**"),
                   help=_("How strongly the unit fires, on average, on the test images of each class: a tall bar is "
                          "a class it responds to."))
    middle.plotly_chart(class_activation_figure(col["class_mean"][j]), key=f"inspect_cls_{c}_{j}")
    middle.caption(class_activation_text(col["class_mean"][j]))
    images, labels = session.test_images()
    top = list(col["top"][j])
    right.caption(_("**What excites it most**"),
                  help=_("The test images on which this unit's activation is highest, with their true class."))
    right.plotly_chart(images_figure(images[top], top_images_titles(top, labels),
                                     _("The 9 test images that excite it most")), key=f"inspect_top_{c}_{j}")
    right.caption(top_images_text(labels[top]))
    if epochs and epochs[-1].get("health") and col["name"] != "output":
        health = epochs[-1]["health"]
        layer = next((k for k, h in enumerate(health) if h.get("name") == col["name"]),
                     int(col["name"].split()[-1]) - 1)  # histories from before the rows were named
        figures = ", ".join(f"{k} {v}" for k, v in health_rows(health)[layer].items() if k != _("layer"))
        st.caption(_("Its layer's health after the last epoch: {figures}", figures=figures))


def show_health(epochs: list[dict], insight: list[dict], prefix: str) -> None:
    """The last epoch's warnings and health table, each figure over the epochs, and the weight distributions."""
    recorded = [e for e in epochs if e.get("health")]
    if not recorded:
        st.caption(_("Layer health was not recorded for this run (it was trained before health was measured)."))
    else:
        last = recorded[-1]
        for warning in last.get("warnings") or []:
            st.warning(engine(warning), icon=":material/warning:")
        if not last.get("warnings"):
            st.success(_("No health warning after epoch {epoch}.", epoch=last["epoch"]),
                       icon=":material/check_circle:")
        st.dataframe(health_rows(last["health"]), hide_index=True, key=f"{prefix}_health_table")
        st.caption(_("**Layer health over the epochs**"),
                   help=_("Six signs of whether each hidden layer learns well, one line per layer: many dead or "
                          "saturated units, a vanishing gradient or an update ratio far from the green band mean "
                          "the layer learns badly."))
        st.plotly_chart(health_figure(recorded), key=f"{prefix}_health_figure")
        st.caption(_(HEALTH_CAPTION))
        if any("channels" in h for h in last["health"]):
            st.caption(_(CONV_HEALTH_CAPTION))
        st.caption(health_text(recorded))
    hists = [i.get("histograms") for i in insight if i.get("histograms")]
    if hists:
        _distributions(hists, epochs, prefix)


def _distributions(hists: list[list[dict]], epochs: list[dict], prefix: str) -> None:
    names = [layer_name(h.get("name") or (f"hidden {k + 1}" if k < len(hists[-1]) - 1 else "output"))
             for k, h in enumerate(hists[-1])]
    layer = st.selectbox(_("Distributions of layer"), range(len(names)), key=f"{prefix}_dist_layer",
                         format_func=lambda k: names[k],
                         help=_("The layer whose weights, biases and gradients the three charts below show, epoch "
                                "by epoch."))
    numbers = [e["epoch"] for e in epochs[:len(hists)]]
    st.caption(_("**Distributions over the epochs**"),
               help=_("Each column is an epoch and each band a range of values: darker bands hold more of the "
                      "layer's values. Weights that spread out are learning; gradients squeezed to 0 have "
                      "vanished."))
    cols = st.columns(3)
    for col, kind, label in zip(cols, ("weight", "bias", "grad"),
                                (_("weights"), _("biases"), _("weight gradients"))):
        title = f"{names[layer]}: {label}"
        series = [h[layer][kind] for h in hists]
        col.plotly_chart(distribution_figure(series, numbers, title), key=f"{prefix}_dist_{kind}")
        col.caption(distribution_text(series, numbers, title))
    st.caption(_("Like TensorBoard's distributions: each column is an epoch, darker bands hold more of the layer's "
                 "values. Weights that spread out are learning; a gradient distribution squeezed to 0 has vanished."))


@st.cache_data(max_entries=8, show_spinner=False)
def _checkpoint_network(path: str, mtime: float, name: str) -> dict:
    from fmnist.inspect.health import network_insight

    x_test, y_test = session.test_set()
    return network_insight(session.model(name), x_test, y_test)


def show_checkpoint_network(name: str) -> None:
    """The diagram, inspector and health of a saved model (Models page)."""
    try:
        path = session.store().path_for(name)
        ckpt = session.load_checkpoint(name)
        with st.spinner(_("Measuring the network on 2,000 test images ...")):
            net = _checkpoint_network(str(path), path.stat().st_mtime, name)
        meta = ckpt.meta
    except (checkpoints.CheckpointError, OSError) as exc:
        st.caption(_("Cannot show the network of {name}: {error}", name=name, error=engine(str(exc))))
        return
    epochs = meta.get("history") or []
    network, health = st.tabs([_("Network"), _("Health")], key="models_network_tab", on_change="rerun")
    if network.open:
        with network:
            show_network(net, epochs, "models_net", _("{name}: the network", name=name))
    if health.open:
        with health:
            show_health(epochs, [], "models_net")


def unit_health(column: dict, j: int) -> dict:
    """The inspector's figures for the j-th shown unit of a column of network_insight()."""
    out = {N_("unit"): int(column["shown"][j]), N_("mean activation"): float(column["mean"][j])}
    if "dead" in column:
        out.update({N_("never fires"): bool(column["dead"][j]), N_("saturated on"): float(column["saturated"][j]),
                    N_("activation std"): float(column["std"][j])})
    return out

"""What the network learned, on the Train page (live, from the job's per-epoch insight) and the Models page (from a
checkpoint): per-class learning curves, first-layer filters, the learned space, and how two runs differ."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist import checkpoints
from fmnist.data import CLASSES
from ui import session
from ui.insight_charts import (
    class_curves_figure,
    confusion_diff_figure,
    filters_figure,
    point_index,
    projection_animation,
    settings_diff,
)
from ui.network_view import show_health, show_network
from ui.prediction_charts import upscale

TABS = ("Per class", "First layer", "Learned space", "Network", "Health")
TAB_KEY = "train_insight_tab"
_REPLAY = "train_insight_replay"  # (first frame, frame count, figure): rebuilt only when an epoch is added


def show_insight(snap) -> None:
    """Tabs under the training curves. Only the open one is built and sent (the page polls while a run
    goes on, and the learned space holds thousands of points per epoch)."""
    if not snap.epochs:
        st.caption("Per-class accuracy, the first layer's filters and the learned space appear after the first epoch.")
        return
    tabs = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    for tab, show in zip(tabs, (_per_class, _first_layer, _learned_space, _network, _health)):
        if tab.open:
            with tab:
                show(snap)


def _per_class(snap) -> None:
    st.plotly_chart(class_curves_figure(snap.epochs), key="train_insight_classes")
    st.caption("Test accuracy of each class after each epoch: the easy classes are learned at once, the ones "
               "that look alike (shirt, T-shirt, pullover, coat) late or never as well.")


def _first_layer(snap) -> None:
    if not snap.insight:
        st.caption("The first layer's filters were not recorded for this run.")
        return
    epoch = snap.epochs[len(snap.insight) - 1]["epoch"]
    filters = snap.insight[-1]["filters"]
    st.plotly_chart(filters_figure(filters, f"First layer after epoch {epoch}: the {len(filters)} strongest units"),
                    key="train_insight_filters")
    st.caption(FILTERS_CAPTION)


FILTERS_CAPTION = ("Each square is the 28 x 28 pattern of incoming weights of one first-layer unit: red pixels "
                   "excite the unit, blue ones inhibit it, white ones do not matter. Shown: the units with the "
                   "largest weights.")


def _learned_space(snap) -> None:
    if not snap.insight:
        st.caption("The learned space was not recorded for this run.")
        return
    frames = [i["projection"] for i in snap.insight]
    cached = st.session_state.get(_REPLAY)
    if cached is not None and cached[0] is frames[0] and cached[1] == len(frames):
        fig = cached[2]
    else:
        images, labels = session.test_images()
        epochs = [e["epoch"] for e in snap.epochs[:len(frames)]]
        fig = projection_animation(frames, labels[:len(frames[0])], epochs)
        st.session_state[_REPLAY] = (frames[0], len(frames), fig)
    chart, picked = st.columns([4, 1])
    event = chart.plotly_chart(fig, key="train_insight_space", on_select="rerun", selection_mode="points")
    with picked:
        index = point_index(event.selection if event else None)
        if index is None:
            st.caption("Click a point to see its image.")
        else:
            images, labels = session.test_images()
            st.image(upscale(images[index], 6), caption=f"Test image #{index}: {CLASSES[labels[index]]}",
                     width="stretch")
    st.caption(f"The first {len(frames[0]):,} test images placed by the two main directions (PCA) of the last "
               "hidden layer. Classes the network tells apart drift away from each other; ▶ replays the epochs.")


def _network(snap) -> None:
    net = snap.insight[-1].get("network") if snap.insight else None
    epoch = snap.epochs[len(snap.insight) - 1]["epoch"] if snap.insight else None
    show_network(net, snap.epochs, "train_net", f"The network after epoch {epoch}")


def _health(snap) -> None:
    show_health(snap.epochs, snap.insight, "train_net")


@st.cache_data(max_entries=16, show_spinner=False)
def _checkpoint_filters(path: str, mtime: float, name: str) -> np.ndarray:
    from fmnist.explain import first_layer_filters

    return first_layer_filters(session.model(name))[1]


def show_checkpoint_filters(name: str) -> None:
    """The first-layer filters of a saved model (Models page)."""
    try:
        path = session.store().path_for(name)
        filters = _checkpoint_filters(str(path), path.stat().st_mtime, name)
    except (checkpoints.CheckpointError, OSError) as exc:
        st.caption(f"Cannot show the first layer of {name}: {exc}")
        return
    st.plotly_chart(filters_figure(filters, f"First layer of {name}: the {len(filters)} strongest units"),
                    key="models_filters")
    st.caption(FILTERS_CAPTION)


def show_run_differences(metas: dict[str, dict], chosen: list[str]) -> None:
    """For two or more runs: the settings that differ, and where their mistakes differ (Models page)."""
    if len(chosen) < 2:
        st.caption("Choose two or more runs to see the settings that differ and how their mistakes differ.")
        return
    rows = settings_diff({name: (metas[name] or {}).get("config") or {} for name in chosen})
    st.markdown("**Settings that differ**")
    if rows:
        st.dataframe(rows, hide_index=True, key="models_settings_diff")
    else:
        st.caption("These runs used the same settings.")
    left, right = st.columns(2)
    a = left.selectbox("Run A", chosen, index=0, key="models_diff_a")
    b = right.selectbox("Run B", chosen, index=1, key="models_diff_b")
    if a == b:
        st.caption("Pick two different runs to compare their confusion matrices.")
        return
    try:
        ca, cb = session.predictions(a).confusion, session.predictions(b).confusion
    except (checkpoints.CheckpointError, OSError) as exc:
        st.error(f"Cannot classify the test set: {exc}")
        return
    st.plotly_chart(confusion_diff_figure(ca, cb, (a, b)), key="models_confusion_diff")
    st.caption(f"Test images per cell, {a} minus {b} (true class down, prediction across). On the diagonal red "
               f"means {a} got more right; off it, red means {a} made more of that mistake.")

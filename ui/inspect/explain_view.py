"""What the network learned, on the Train page (live, from the job's per-epoch insight) and the Models page (from a
checkpoint): per-class learning curves, first-layer filters, the learned space, and how two runs differ."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist.data.dataset import CLASSES
from fmnist.store import checkpoints
from ui import session
from ui.i18n import N_, _, engine
from ui.inspect.conv_view import show_checkpoint_kernels, show_feature_maps, show_filters
from ui.inspect.explain_charts import (
    class_curves_figure,
    class_curves_text,
    confusion_diff_figure,
    confusion_diff_text,
    filters_figure,
    filters_text,
    point_index,
    projection_animation,
    projection_text,
    settings_diff,
)
from ui.inspect.network_view import show_health, show_network
from ui.inspect.prediction_charts import upscale
from ui.names import class_name

TABS = (N_("Per class"), N_("First layer"), N_("Learned space"), N_("Network"), N_("Health"))
CNN_TABS = (N_("Per class"), N_("Filters"), N_("Feature maps"), N_("Learned space"), N_("Network"), N_("Health"))
TAB_KEY = "train_insight_tab"
_REPLAY = "train_insight_replay"  # (first frame, frame count, figure): rebuilt only when an epoch is added


def show_insight(snap) -> None:
    """Tabs under the training curves. Only the open one is built and sent (the page polls while a run
    goes on, and the learned space holds thousands of points per epoch)."""
    if not snap.epochs:
        st.caption(_("Per-class accuracy, the first layer's filters and the learned space appear after the first "
                     "epoch."))
        return
    if snap.config.conv:  # a CNN's first layer is its kernels, and its maps show what each block sees
        names, views = CNN_TABS, (_per_class, show_filters, show_feature_maps, _learned_space, _network, _health)
    else:
        names, views = TABS, (_per_class, _first_layer, _learned_space, _network, _health)
    tabs = st.tabs([_(t) for t in names], key=TAB_KEY, on_change="rerun")
    for tab, show in zip(tabs, views):
        if tab.open:
            with tab:
                show(snap)


def _per_class(snap) -> None:
    st.caption(_("**Test accuracy per class and epoch**"),
               help=_("One row per class, one column per epoch; each cell is the share of that class's test images "
                      "classified right, brighter when higher. Read a row left to right to see when a class is "
                      "learned."))
    st.plotly_chart(class_curves_figure(snap.epochs), key="train_insight_classes")
    st.caption(class_curves_text(snap.epochs))
    st.caption(_("Test accuracy of each class after each epoch: the easy classes are learned at once, the ones "
                 "that look alike (shirt, T-shirt, pullover, coat) late or never as well."))


def _first_layer(snap) -> None:
    if not snap.insight:
        st.caption(_("The first layer's filters were not recorded for this run."))
        return
    epoch = snap.epochs[len(snap.insight) - 1]["epoch"]
    filters = snap.insight[-1]["filters"]
    _filters_help()
    st.plotly_chart(filters_figure(filters, _("First layer after epoch {epoch}: the {count} strongest units",
                                              epoch=epoch, count=len(filters))), key="train_insight_filters")
    st.caption(filters_text(filters))
    st.caption(_(FILTERS_CAPTION))


FILTERS_CAPTION = N_("Each square is the 28 x 28 pattern of incoming weights of one first-layer unit: red pixels "
                     "excite the unit, blue ones inhibit it, white ones do not matter. Shown: the units with the "
                     "largest weights.")


def _filters_help() -> None:
    st.caption(_("**First-layer filters**"),
               help=_("What the first hidden layer looks for in an image: each square shows one unit's weights on "
                      "the 784 pixels. Smooth shapes (a sleeve, a sole) mean it learned a pattern; noise means it "
                      "has not yet."))


def _learned_space(snap) -> None:
    if not snap.insight:
        st.caption(_("The learned space was not recorded for this run."))
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
    st.caption(_("**The learned space**"),
               help=_("Each dot is a test image, placed by what the last hidden layer makes of it (squeezed to two "
                      "directions with PCA) and coloured by its class. Well-separated clusters mean the network "
                      "tells those classes apart."))
    chart, picked = st.columns([4, 1])
    event = chart.plotly_chart(fig, key="train_insight_space", on_select="rerun", selection_mode="points")
    with picked:
        index = point_index(event.selection if event else None)
        if index is None:
            st.caption(_("Click a point to see its image."))
        else:
            images, labels = session.test_images()
            st.image(upscale(images[index], 6), width="stretch", alt=_("Test image {index}, enlarged", index=index),
                     caption=_("Test image #{index}: {name}", index=index, name=class_name(CLASSES[labels[index]])))
    _images, labels = session.test_images()
    st.caption(projection_text(frames[-1], labels[:len(frames[-1])], snap.epochs[len(frames) - 1]["epoch"]))
    st.caption(_("The first {n} test images placed by the two main directions (PCA) of the last hidden layer. "
                 "Classes the network tells apart drift away from each other; ▶ replays the epochs.",
                 n=f"{len(frames[0]):,}"))


def _network(snap) -> None:
    net = snap.insight[-1].get("network") if snap.insight else None
    epoch = snap.epochs[len(snap.insight) - 1]["epoch"] if snap.insight else None
    show_network(net, snap.epochs, "train_net", _("The network after epoch {epoch}", epoch=epoch))


def _health(snap) -> None:
    show_health(snap.epochs, snap.insight, "train_net")


@st.cache_data(max_entries=16, show_spinner=False)
def _checkpoint_filters(path: str, mtime: float, name: str) -> np.ndarray:
    from fmnist.inspect.explain import first_layer_filters

    return first_layer_filters(session.model(name))[1]


def show_checkpoint_filters(name: str) -> None:
    """The first-layer filters of a saved model (Models page)."""
    try:
        if session.load_checkpoint(name).config.conv:
            show_checkpoint_kernels(name)
            return
        path = session.store().path_for(name)
        filters = _checkpoint_filters(str(path), path.stat().st_mtime, name)
    except (checkpoints.CheckpointError, OSError) as exc:
        st.caption(_("Cannot show the first layer of {name}: {error}", name=name, error=engine(str(exc))))
        return
    _filters_help()
    st.plotly_chart(filters_figure(filters, _("First layer of {name}: the {count} strongest units", name=name,
                                              count=len(filters))), key="models_filters")
    st.caption(filters_text(filters))
    st.caption(_(FILTERS_CAPTION))


def show_run_differences(metas: dict[str, dict], chosen: list[str]) -> None:
    """For two or more runs: the settings that differ, and where their mistakes differ (Models page)."""
    if len(chosen) < 2:
        st.caption(_("Choose two or more runs to see the settings that differ and how their mistakes differ."))
        return
    rows = settings_diff({name: (metas[name] or {}).get("config") or {} for name in chosen})
    st.markdown(_("**Settings that differ**"))
    if rows:
        st.dataframe(rows, hide_index=True, key="models_settings_diff")
    else:
        st.caption(_("These runs used the same settings."))
    left, right = st.columns(2)
    a = left.selectbox(_("Run A"), chosen, index=0, key="models_diff_a",
                       help=_("The run whose confusion matrix the chart starts from."))
    b = right.selectbox(_("Run B"), chosen, index=1, key="models_diff_b",
                        help=_("The run subtracted from run A: the chart shows where the two differ."))
    if a == b:
        st.caption(_("Pick two different runs to compare their confusion matrices."))
        return
    try:
        ca, cb = session.predictions(a).confusion, session.predictions(b).confusion
    except (checkpoints.CheckpointError, OSError) as exc:
        st.error(_("Cannot classify the test set: {error}", error=engine(str(exc))))
        return
    st.caption(_("**Where their mistakes differ**"),
               help=_("The confusion matrix of run A minus that of run B: rows are true classes, columns "
                      "predictions. Red cells are where A has more images, blue where B has more."))
    st.plotly_chart(confusion_diff_figure(ca, cb, (a, b)), key="models_confusion_diff")
    st.caption(confusion_diff_text(ca, cb, (a, b)))
    st.caption(_("Test images per cell, {a} minus {b} (true class down, prediction across). On the diagonal red "
                 "means {a} got more right; off it, red means {a} made more of that mistake.", a=a, b=b))

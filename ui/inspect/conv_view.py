"""A CNN's insight in the app: the Filters and Feature maps tabs of the Train page (from the run's per-epoch insight
and, while paused, its last Step), the overview of its blocks with the channel inspector (Network tab, Models page)
and a checkpoint's kernels (Models page)."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from fmnist.data.dataset import CLASSES
from fmnist.store import checkpoints
from ui import session
from ui.i18n import N_, _, engine
from ui.inspect.conv_charts import (
    blocks_figure,
    blocks_text,
    kernels_figure,
    kernels_text,
    maps_figure,
    maps_text,
    picked_channel,
    shape_text,
    top_images_figure,
)
from ui.inspect.network_charts import (
    class_activation_figure,
    class_activation_text,
    layer_name,
    top_images_text,
    top_images_titles,
)
from ui.inspect.prediction_charts import upscale
from ui.names import class_name

FILTERS_CAPTION = N_("Each square is one channel's kernel: the small pattern of weights it slides over its input. "
                     "Red weights raise the channel where the input is bright, blue ones lower it, white ones do not "
                     "matter; one colour scale for the whole block. A deeper block's channel has one kernel per "
                     "input channel: it is shown as their mean.")
MAPS_CAPTION = N_("Each small square is one channel's map of the chosen image: red where the channel found its "
                  "pattern, white where it found nothing. Every block's maps are what the next block sees; the "
                  "pooling halves their side.")


def frames(snap) -> list[tuple[str, dict]]:
    """(label, fmnist.inspect.conv.views) after each recorded epoch, and after the last Step while paused when it
    came after them: what the replay slider steps through."""
    out = []
    for i, insight in enumerate(snap.insight):
        if insight.get("conv"):
            out.append((_("epoch {epoch}", epoch=snap.epochs[i]["epoch"]), insight["conv"]))
    detail = snap.step_detail
    done = snap.epochs[len(snap.insight) - 1]["epoch"] if snap.insight else 0
    if detail is not None and detail.conv and detail.epoch > done:
        out.append((_("step {step}", step=f"{detail.step:,}"), detail.conv))
    return out


def _replay(frames_: list[tuple[str, dict]], key: str) -> dict:
    """A slider over the recorded frames, on the last one until the user moves it."""
    labels = [label for label, _views in frames_]
    if len(labels) == 1:
        return frames_[0][1]
    # A slider left on the newest frame follows the run to its next one; one moved back stays where it was put.
    if st.session_state.get(key) not in labels or st.session_state.get(key) == st.session_state.get(f"{key}_last"):
        st.session_state[key] = labels[-1]
    st.session_state[f"{key}_last"] = labels[-1]
    picked = st.select_slider(_("Replay"), labels, key=key,
                              help=_("The network after each epoch (and after the last Step while paused): move "
                                     "the slider to watch the filters take shape."))
    return frames_[labels.index(picked)][1]


def _block_names(count: int) -> list[str]:
    return [layer_name(f"conv {b + 1}") for b in range(count)]


def show_filters(snap) -> None:
    """The Filters tab: one block's kernels after the chosen epoch."""
    recorded = frames(snap)
    if not recorded:
        st.caption(_("The filters were not recorded for this run."))
        return
    views = _replay(recorded, "train_filters_replay")
    kernels = views["kernels"]
    names = _block_names(len(kernels))
    block = st.selectbox(_("Block"), range(len(kernels)), format_func=names.__getitem__, key="train_filters_block",
                         help=_("The convolution block whose kernels are shown: the first one looks at the pixels, "
                                "deeper ones at the maps of the block before."))
    _kernels(kernels[block], f"conv {block + 1}", _("{layer}: {count} kernels", layer=names[block],
                                                    count=len(kernels[block])), f"train_filters_{block}")


def _kernels(kernels: np.ndarray, name: str, title: str, key: str) -> None:
    st.caption(_("**Filters**"), help=_("What each channel of a convolution block looks for: a small grid of "
                                        "weights slid over the whole image, so it finds its stroke or edge "
                                        "wherever it is."))
    st.plotly_chart(kernels_figure(kernels, title), key=key)
    st.caption(kernels_text(kernels, name))
    st.caption(_(FILTERS_CAPTION))


def show_feature_maps(snap) -> None:
    """The Feature maps tab: every block's maps of one test image (one per class offered) after the chosen epoch."""
    recorded = frames(snap)
    if not recorded:
        st.caption(_("The feature maps were not recorded for this run."))
        return
    views = _replay(recorded, "train_maps_replay")
    images, labels = session.test_images()
    shown = list(views["images"])
    choices = [_("{name} (test image #{index})", name=class_name(CLASSES[labels[i]]), index=i) for i in shown]
    left, right = st.columns([1, 3])
    j = left.selectbox(_("Test image"), range(len(shown)), format_func=choices.__getitem__, key="train_maps_image",
                       help=_("One test image of each class: the maps show what every block makes of it."))
    index = shown[j]
    left.image(upscale(images[index], 4), width="stretch", alt=_("Test image {index}, enlarged", index=index),
               caption=choices[j])
    with right:
        _block_maps([maps[j] for maps in views["maps"]], "train_maps")
    st.caption(_(MAPS_CAPTION))


def _block_maps(maps: list[np.ndarray], key: str) -> None:
    """Every block's maps of one image, (channels, side, side) each: a grid titled with the block and its shape."""
    st.caption(_("**Feature maps**"), help=_("What each block's channels see in the chosen image, from the "
                                              "first block (strokes and edges at full size) to the last (coarse "
                                              "maps of garment parts)."))
    for b, one in enumerate(maps):
        one = np.asarray(one, dtype=np.float32)
        name = f"conv {b + 1}"
        st.plotly_chart(maps_figure(one, f"{layer_name(name)}: {shape_text(one.shape)}"), key=f"{key}_{b}")
        st.caption(maps_text(one, name))


def show_image_maps(maps: list[np.ndarray], key: str) -> None:
    """A CNN's feature maps of one image (the test image selected on Explore, the drawing or the upload on Classify:
    prediction_view.feature_maps, computed where the page's model is); nothing for an MLP, which makes no maps."""
    if maps:
        _block_maps(maps, key)
        st.caption(_(MAPS_CAPTION))


def show_blocks(net: dict, prefix: str) -> None:
    """The overview of a CNN's blocks and the inspector for one channel (block and channel picked)."""
    blocks = net["blocks"]
    features = int(net["columns"][0]["units"])
    st.caption(_("**The convolution blocks**"),
               help=_("Each stack is one block's output: as many maps as the block has channels, each the side "
                      "shown. Pooling halves the side from block to block; the last maps are flattened (or averaged) "
                      "into the features the dense layers take. A red stack has many dead channels. Each dot under "
                      "a stack is one of its channels (red: dead): click one to inspect it below."))
    # The click sets the inspector's block and channel in a callback: before the script draws their selectboxes.
    st.plotly_chart(blocks_figure(blocks, features), key=f"{prefix}_blocks", selection_mode="points",
                    on_select=functools.partial(_clicked, prefix))
    st.caption(blocks_text(blocks, features))
    names = _block_names(len(blocks))
    left, right = st.columns(2)
    b = left.selectbox(_("Inspect a channel of"), range(len(blocks)), format_func=names.__getitem__, index=None,
                       key=f"{prefix}_channel_block", placeholder=_("choose a block"),
                       help=_("The block whose channel you want to look at."))
    if b is None:
        return
    block = blocks[b]
    count = int(block["shape"][0])
    if (st.session_state.get(f"{prefix}_channel") or 0) >= count:
        st.session_state[f"{prefix}_channel"] = 0
    c = right.selectbox(_("Channel"), range(count), key=f"{prefix}_channel",
                        format_func=[_("channel {n}", n=n) for n in range(count)].__getitem__,
                        help=_("One of the block's channels: its kernel, what it responds to and where."))
    show_channel(block, c, f"{prefix}_{b}_{c}")


def _clicked(prefix: str) -> None:
    """A click on the blocks diagram: its channel (or its stack's block) into the inspector's selectboxes."""
    event = st.session_state.get(f"{prefix}_blocks")
    picked = picked_channel((event or {}).get("selection", {}).get("points", []))
    if picked is None:
        return
    block, channel = picked
    st.session_state[f"{prefix}_channel_block"] = block
    if channel is not None:
        st.session_state[f"{prefix}_channel"] = channel


def show_channel(block: dict, c: int, key: str) -> None:
    """The inspector for channel c of a block (fmnist.inspect.conv.conv_insight)."""
    name = layer_name(block["name"])
    figures = {_("channel"): c, _("mean activation"): f"{float(block['mean'][c]):.3g}",
               _("activation std"): f"{float(block['std'][c]):.3g}",
               _("never fires"): _("yes") if bool(block["dead"][c]) else _("no")}
    st.markdown(_("**Channel {channel} of {layer}**", channel=c, layer=name),
                help=_("One channel's figures on 2,000 test images: its mean activation over every image and "
                       "position, and whether it never fires (dead)."))
    st.dataframe([figures], hide_index=True)
    left, middle, right = st.columns(3)
    left.plotly_chart(kernels_figure(block["kernels"][c:c + 1], _("Kernel"), height=300), key=f"{key}_kernel")
    left.caption(kernels_text(block["kernels"][c:c + 1], block["name"]))
    middle.caption(_("**Mean activation per class**"),
                   help=_("How strongly the channel fires, on average over its map, on the test images of each "
                          "class."))
    middle.plotly_chart(class_activation_figure(block["class_mean"][c]), key=f"{key}_classes")
    middle.caption(class_activation_text(block["class_mean"][c]))
    images, labels = session.test_images()
    top = [int(i) for i in block["top"][c]]
    right.caption(_("**What excites it most**"),
                  help=_("The test images where the channel's strongest response is highest; the orange box is the "
                         "region of the image that response looks at (its receptive field)."))
    right.plotly_chart(top_images_figure(images[top], block["box"][c], top_images_titles(top, labels),
                                         _("The 9 test images that excite it most")), key=f"{key}_top")
    right.caption(top_images_text(labels[top]))


@st.cache_data(max_entries=8, show_spinner=False)
def _checkpoint_kernels(path: str, mtime: float, name: str) -> list[np.ndarray]:
    from fmnist.inspect.conv import kernel_images

    return kernel_images(session.model(name))


def show_checkpoint_kernels(name: str) -> None:
    """A CNN checkpoint's kernels, block by block (Models page)."""
    try:
        path = session.store().path_for(name)
        kernels = _checkpoint_kernels(str(path), path.stat().st_mtime, name)
    except (checkpoints.CheckpointError, OSError) as exc:
        st.caption(_("Cannot show the filters of {name}: {error}", name=name, error=engine(str(exc))))
        return
    names = _block_names(len(kernels))
    block = st.selectbox(_("Block"), range(len(kernels)), format_func=names.__getitem__, key="models_filters_block",
                         help=_("The convolution block whose kernels are shown: the first one looks at the pixels, "
                                "deeper ones at the maps of the block before."))
    _kernels(kernels[block], f"conv {block + 1}", _("{name}, {layer}: {count} kernels", name=name,
                                                    layer=names[block], count=len(kernels[block])),
             "models_filters")

"""The Models page's "Take it out of fmnist" downloads: the checkpoint as a script (with its weights), ONNX and
torch.export files. Each file is made only when its button is clicked (Streamlit calls the function then, off the
page's script run) and kept per checkpoint file by fmnist.export.formats, so the page itself never waits for an
export."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import streamlit as st

from fmnist.export.formats import FORMATS, WEIGHTS_SUFFIX, export_bytes
from ui.i18n import N_, _

# (kind, button label, file suffix, MIME type, what the file is for); the texts are shown through _().
DOWNLOADS = (
    ("script", N_("Script (.py)"), FORMATS["script"], "text/x-python",
     N_("The whole recipe as one readable PyTorch file in the classic notebook's style (needs only torch and "
     "torchvision): run it to train the network again, or with `--weights` to test these weights.")),
    ("weights", N_("Weights (.pt)"), WEIGHTS_SUFFIX, "application/octet-stream",
     N_("These weights as a plain PyTorch state_dict for the script's `--weights` (loads with "
     "`torch.load(..., weights_only=True)`, which runs no code).")),
    ("onnx", N_("ONNX (.onnx)"), FORMATS["onnx"], "application/octet-stream",
     N_("For onnxruntime and other ONNX tools, and Netron (netron.app) opens it to show the graph: images "
     "(N, 1, 28, 28) in [0, 1] in, the 10 class probabilities out; class names in its metadata.")),
    ("pt2", N_("PyTorch export (.pt2)"), FORMATS["pt2"], "application/octet-stream",
     N_("A torch.export program, same input and output: `torch.export.load(file).module()(images)` in any "
     "PyTorch 2 without fmnist installed.")),
)


def show_exports(path: Path, name: str, readable: bool) -> None:
    """One download button and one sentence per format for the checkpoint at `path`."""
    cols = st.columns(len(DOWNLOADS))
    for col, (kind, label, suffix, mime, what) in zip(cols, DOWNLOADS):
        col.download_button(_(label), data=partial(export_bytes, path, kind), file_name=name + suffix, mime=mime,
                            key=f"models_export_{kind}", disabled=not readable, on_click="ignore",
                            icon=":material/download:", width="stretch",
                            help=_("Download this model as {file}; the sentence below says what it is for.",
                                   file=name + suffix) if readable else _("this file cannot be loaded"))
        col.caption(_(what))

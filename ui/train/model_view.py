"""The Train page's model: its layers as a table, its parameter count, and what a running run trains."""

import streamlit as st

from fmnist.config.run import layers_text
from fmnist.config.settings import BY_NAME
from fmnist.model.architecture import multiply_adds, parameter_count, summary
from ui.i18n import _
from ui.inspect.network_charts import layer_name
from ui.tables import markdown_table
from ui.train.sidebar import OPTION_LABELS


def show_model(config, running: bool) -> None:
    if config is None:
        st.warning(_("Fix the settings marked in the sidebar to see the model and start a run."))
        return
    if running:
        st.info(_("This run trains **{model}** (seed {seed}, device {device}). Changes in the sidebar apply to the "
                  "next run.", model=run_in_words(config), seed=config.seed, device=config.device))
    left, right = st.columns([4, 1])
    left.markdown(markdown_table(summary_rows(summary(config))))
    right.metric(_("Parameters"), f"{parameter_count(config):,}",
                 help=_("How many weights and biases the model learns. More parameters can fit more patterns, but "
                        "train slower and overfit sooner."))
    right.metric(_("Multiply-adds per image"), f"{multiply_adds(config):,}",
                 help=_("How much arithmetic one image's pass through the model takes. A convolution block reuses "
                        "its few weights at every place of the image, so it computes much more than it stores."))
    if config.conv:
        mlp = config.replace(conv=())  # counted as built; with no hidden layer, 784 pixels straight into the 10 classes
        right.caption(_("Without its convolution blocks (784 pixels into the same dense layers): {params} "
                        "parameters.", params=f"{parameter_count(mlp):,}"))


def run_in_words(config) -> str:
    """What a run trains, in a sentence of the session's language (TrainConfig.describe() is the CLI's shorthand)."""
    def option(value: str) -> str:
        return _(OPTION_LABELS[value]) if value in OPTION_LABELS else value

    extras = [_(BY_NAME[name].label) for name in ("batch_norm", "augment", "flip", "warp") if getattr(config, name)]
    extras += [f"{_(BY_NAME[name].label)} {getattr(config, name):g}" for name in ("dropout", "ema")
               if getattr(config, name)]
    if config.precision != "fp32":
        extras.append(config.precision)
    words = _("a {layers} network ({activation}) trained by {optimizer} at learning rate {lr:g} ({schedule}), "
              "batches of {batch}, for {epochs} epochs", layers=layers_text(config), activation=config.activation,
              optimizer=option(config.optimizer), lr=config.lr, schedule=option(config.schedule),
              batch=config.batch_size, epochs=config.epochs)
    return words + (" (" + ", ".join(extras) + ")" if extras else "")


def summary_rows(rows: list[dict]) -> list[dict]:
    """fmnist.model.architecture.summary's rows with headers and words in the session's language."""
    words = {"batch norm": _("batch norm"), "softmax (in the loss)": _("softmax (in the loss)"),
             "flatten": _("flatten"), "global average pool": _("global average pool")}

    def then(text: str) -> str:
        return ", ".join(_("dropout {p}", p=part.split()[1]) if part.startswith("dropout ")
                         else _("{kind} pool 2 → {shape}", kind=part.split()[0], shape=part.split()[-1])
                         if " pool 2 → " in part else words.get(part, part) for part in text.split(", "))

    return [{_("layer"): layer_name(r["layer"]), _("shape"): r["shape"], _("then"): then(r["then"]),
             _("parameters"): r["parameters"], _("multiply-adds"): r["multiply-adds"]} for r in rows]

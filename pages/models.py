"""Models: the saved checkpoints. Choose the active model, compare training curves, download, or delete a file of
your own; resume an interrupted run; take a model out of fmnist as a script, ONNX or torch.export file."""

import datetime as dt

import streamlit as st

from fmnist.config import layers_text
from fmnist.store.checkpoints import CheckpointError, change_refused
from ui.i18n import N_, _, engine
from ui.inspect.explain_view import show_checkpoint_filters, show_run_differences
from ui.inspect.network_view import show_checkpoint_network
from ui.inspect.prediction_view import engine_message
from ui.models.exports import show_exports
from ui.models.interrupted import made_by, show_interrupted
from ui.models.summaries import compare_summary
from ui.owner import admin_sidebar, is_admin, owner_id
from ui.places import folder_name
from ui.router import ensure_router
from ui.session import active_model_caption, active_model_name, set_active_model, store
from ui.train import charts

ensure_router()  # first: a first visit straight to this page must still go through app.py

EMPTY = "—"  # a cell with nothing to say: a file that cannot be read has no layers, optimizer or accuracy
COLUMNS = ["name", "layers", "optimizer", "epochs", "test accuracy", "date", "size", "made by", "error"]
# The table's headers as shown (the data keeps the keys above: tests and column_order use them).
HEADERS = {"name": N_("name"), "layers": N_("layers"), "optimizer": N_("optimizer"), "epochs": N_("epochs"),
           "test accuracy": N_("test accuracy"), "date": N_("date"), "size": N_("size"), "made by": N_("made by"),
           "error": N_("error")}
HEADER_HELP = {
    "layers": N_("The width of each layer, input to output: 784 pixels in, the hidden layers, 10 class scores out."),
    "epochs": N_("Epochs trained of those planned: fewer when the run was stopped early."),
    "test accuracy": N_("The share of the 10,000 test images the saved model labels right."),
    "made by": N_("Who trained it: you, another session, or the command line."),
    "error": N_("Why the file cannot be used as a model."),
}
MADE_BY = (N_("you"), N_("command line"), N_("another session"))  # made_by()'s words, shown through _()


def table_row(row: dict) -> dict:
    """One line of the table; an unreadable file keeps its name, size and the reason it cannot be used."""
    out = dict.fromkeys(COLUMNS, EMPTY)
    out.update(name=row["name"], size=size_text(row["size"]), error=row["error"] or EMPTY,
               date=date_text(row["meta"], row["mtime"]), **{"made by": made_by(row["meta"])})
    meta = row["meta"]
    if meta is not None:
        config = meta.get("config") or {}
        out.update(layers=layers_text(config),
                   optimizer=config.get("optimizer"),
                   epochs=f"{len(meta.get('history') or [])}/{config.get('epochs', '?')}",  # a stopped run did fewer
                   **{"test accuracy": percent((meta.get("metrics") or {}).get("test_acc"))})
    return {k: EMPTY if v is None else v for k, v in out.items()}


def percent(value) -> str:
    return f"{value:.2f}%" if isinstance(value, int | float) else EMPTY


def size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def date_text(meta: dict | None, mtime: float) -> str:
    try:
        when = dt.datetime.fromisoformat(meta["created"])
    except (TypeError, KeyError, ValueError):  # no metadata, or no usable date in it: the file's own time
        when = dt.datetime.fromtimestamp(mtime, dt.UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def delete(name: str) -> None:
    """A button callback, so the table drawn after it no longer lists the file."""
    try:
        store().delete(name, owner_id(), is_admin())
        st.session_state["models_message"] = ("success", _("Deleted {name}.", name=name))
    except CheckpointError as exc:
        st.session_state["models_message"] = ("error", engine_message(str(exc)))
    st.session_state["models_delete_sure"] = False


def shown_row(row: dict) -> dict:
    """A table row with its words in the session's language (the same row in English)."""
    out = table_row(row)
    out["made by"] = _(out["made by"])
    if out["error"] != EMPTY:
        out["error"] = engine_message(out["error"])
    return out


def show_table(rows: list[dict]) -> None:
    columns = COLUMNS if any(r["error"] for r in rows) else COLUMNS[:-1]
    config = {key: st.column_config.TextColumn(_(label), help=_(HEADER_HELP[key]) if key in HEADER_HELP else None)
              for key, label in HEADERS.items()}
    config["error"] = st.column_config.TextColumn(_(HEADERS["error"]), help=_(HEADER_HELP["error"]), width="large")
    st.dataframe([shown_row(r) for r in rows], hide_index=True, column_order=columns, column_config=config,
                 placeholder="–")


def show_actions(rows: list[dict], active: str | None) -> str:
    names = [r["name"] for r in rows]
    readable = {r["name"] for r in rows if r["error"] is None}
    pick = st.selectbox(_("Checkpoint"), names, index=names.index(active) if active in names else 0, key="models_pick",
                        help=_("The saved model the buttons below act on, and the one the sections further down "
                               "describe."))
    cols = st.columns(3, vertical_alignment="bottom")
    cols[0].button(_("Make active model"), key="models_activate", on_click=set_active_model, args=(pick,),
                   disabled=pick not in readable or pick == active,
                   help=_("Explore, Evaluate and Classify then use this model.") if pick in readable
                   else _("this file cannot be loaded"))
    path = store().path_for(pick)
    cols[1].download_button(_("Download"), data=path.read_bytes, file_name=path.name, key="models_download",
                            mime="application/octet-stream",
                            help=_("The checkpoint file itself (.safetensors): weights and training metadata, "
                                   "to keep or to load in fmnist elsewhere."))
    meta = next(r["meta"] for r in rows if r["name"] == pick)
    refused = change_refused(pick, meta, owner_id(), is_admin())  # others' checkpoints: listed, not deletable
    sure = cols[2].checkbox(_("I am sure"), key="models_delete_sure", disabled=refused is not None,
                            help=_("Tick to unlock Delete: deleting cannot be undone."))
    cols[2].button(_("Delete"), key="models_delete", on_click=delete, args=(pick,), disabled=not sure or bool(refused),
                   help=_("Not yours to delete: {reason}", reason=engine(refused)) if refused
                   else _("Remove this checkpoint file for good."))
    kind, text = st.session_state.pop("models_message", (None, None))
    if kind:
        getattr(st, kind)(text)
    return pick


def show_comparison(rows: list[dict], active: str | None) -> None:
    metas = {r["name"]: r["meta"] for r in rows if r["error"] is None}
    chosen = st.multiselect(_("Compare the training curves of"), list(metas), key="models_compare",
                            default=[active] if active in metas else [],
                            help=_("Pick saved models to draw their test accuracy and loss, epoch by epoch, on "
                                   "the same axes."))
    curves = [charts.from_checkpoint(name, metas[name]) for name in chosen]
    empty = [c.label for c in curves if not c.epochs]
    if empty:
        st.caption(_("No completed epoch to draw for: {names} (stopped during its first epoch).",
                     names=", ".join(empty)))
    left, right = st.columns(2)
    left.caption(_("Test accuracy after each epoch"),
                 help=_("One line per chosen model. Higher is better; a line that flattens has stopped learning, "
                        "one that falls again after its peak is overfitting."))
    left.plotly_chart(charts.compare_figure(curves, "test_acc"), key="models_chart_acc")
    left.caption(compare_summary(curves, "test_acc"))
    right.caption(_("Test loss after each epoch"),
                  help=_("One line per chosen model. Lower is better; a loss that rises while accuracy holds "
                         "means the model grows overconfident in its mistakes."))
    right.plotly_chart(charts.compare_figure(curves, "test_loss"), key="models_chart_loss")
    right.caption(compare_summary(curves, "test_loss"))
    show_run_differences(metas, chosen)


active_model_caption()
admin_sidebar()
st.title(_("Saved models"))
rows = store().list()
show_interrupted()
if not rows:
    st.info(_("No checkpoints yet in `{folder}`: train one on the Train page.", folder=folder_name(store().root)))
    st.stop()
active = active_model_name()
st.caption(_("{count} checkpoint(s) in `{folder}`. Active model: **{active}**.", count=len(rows),
             folder=folder_name(store().root), active=active or _("none")))
show_table(rows)
pick = show_actions(rows, active)
st.header(_("Take it out of fmnist"))
show_exports(store().path_for(pick), pick, readable=any(r["name"] == pick and r["error"] is None for r in rows))
st.header(_("Compare"))
show_comparison(rows, active)
st.header(_("What the first layer learned"))
show_checkpoint_filters(pick)
st.header(_("Inside the network"))
show_checkpoint_network(pick)

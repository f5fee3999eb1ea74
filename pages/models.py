"""Models: the saved checkpoints. Choose the active model, compare training curves, download, or delete a file of
your own; resume an interrupted run; take a model out of fmnist as a script, ONNX or torch.export file."""

import datetime as dt

import streamlit as st

from fmnist.checkpoints import CheckpointError, change_refused
from ui import charts
from ui.exports import show_exports
from ui.insight import show_checkpoint_filters, show_run_differences
from ui.interrupted import made_by, show_interrupted
from ui.network_view import show_checkpoint_network
from ui.owner import admin_sidebar, is_admin, owner_id
from ui.router import ensure_router
from ui.session import active_model_caption, active_model_name, set_active_model, store

ensure_router()  # first: a first visit straight to this page must still go through app.py

EMPTY = "—"  # a cell with nothing to say: a file that cannot be read has no layers, optimizer or accuracy
COLUMNS = ["name", "layers", "optimizer", "epochs", "test accuracy", "date", "size", "made by", "error"]


def table_row(row: dict) -> dict:
    """One line of the table; an unreadable file keeps its name, size and the reason it cannot be used."""
    out = dict.fromkeys(COLUMNS, EMPTY)
    out.update(name=row["name"], size=size_text(row["size"]), error=row["error"] or EMPTY,
               date=date_text(row["meta"], row["mtime"]), **{"made by": made_by(row["meta"])})
    meta = row["meta"]
    if meta is not None:
        config = meta.get("config") or {}
        out.update(layers="-".join(map(str, (784, *config.get("hidden", []), 10))),
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
        st.session_state["models_message"] = ("success", f"Deleted {name}.")
    except CheckpointError as exc:
        st.session_state["models_message"] = ("error", str(exc))
    st.session_state["models_delete_sure"] = False


def show_table(rows: list[dict]) -> None:
    columns = COLUMNS if any(r["error"] for r in rows) else COLUMNS[:-1]
    st.dataframe([table_row(r) for r in rows], hide_index=True, column_order=columns, column_config={
        "error": st.column_config.TextColumn(width="large"),
    })


def show_actions(rows: list[dict], active: str | None) -> str:
    names = [r["name"] for r in rows]
    readable = {r["name"] for r in rows if r["error"] is None}
    pick = st.selectbox("Checkpoint", names, index=names.index(active) if active in names else 0, key="models_pick")
    cols = st.columns(3, vertical_alignment="bottom")
    cols[0].button("Make active model", key="models_activate", on_click=set_active_model, args=(pick,),
                   disabled=pick not in readable or pick == active,
                   help=None if pick in readable else "this file cannot be loaded")
    path = store().path_for(pick)
    cols[1].download_button("Download", data=path.read_bytes, file_name=path.name, key="models_download",
                            mime="application/octet-stream")
    meta = next(r["meta"] for r in rows if r["name"] == pick)
    refused = change_refused(pick, meta, owner_id(), is_admin())  # others' checkpoints: listed, not deletable
    sure = cols[2].checkbox("I am sure", key="models_delete_sure", disabled=refused is not None)
    cols[2].button("Delete", key="models_delete", on_click=delete, args=(pick,), disabled=not sure or bool(refused),
                   help=f"Not yours to delete: {refused}" if refused else None)
    kind, text = st.session_state.pop("models_message", (None, None))
    if kind:
        getattr(st, kind)(text)
    return pick


def show_comparison(rows: list[dict], active: str | None) -> None:
    metas = {r["name"]: r["meta"] for r in rows if r["error"] is None}
    chosen = st.multiselect("Compare the training curves of", list(metas), key="models_compare",
                            default=[active] if active in metas else [])
    curves = [charts.from_checkpoint(name, metas[name]) for name in chosen]
    empty = [c.label for c in curves if not c.epochs]
    if empty:
        st.caption(f"No completed epoch to draw for: {', '.join(empty)} (stopped during its first epoch).")
    left, right = st.columns(2)
    left.plotly_chart(charts.compare_figure(curves, "test_acc"), key="models_chart_acc")
    right.plotly_chart(charts.compare_figure(curves, "test_loss"), key="models_chart_loss")
    show_run_differences(metas, chosen)


active_model_caption()
admin_sidebar()
st.title("Saved models")
rows = store().list()
show_interrupted()
if not rows:
    st.info(f"No checkpoints yet in `{store().root}`: train one on the Train page.")
    st.stop()
active = active_model_name()
st.caption(f"{len(rows)} checkpoint(s) in `{store().root}`. Active model: **{active or 'none'}**.")
show_table(rows)
pick = show_actions(rows, active)
st.subheader("Take it out of fmnist")
show_exports(store().path_for(pick), pick, readable=any(r["name"] == pick and r["error"] is None for r in rows))
st.subheader("Compare")
show_comparison(rows, active)
st.subheader("What the first layer learned")
show_checkpoint_filters(pick)
st.subheader("Inside the network")
show_checkpoint_network(pick)

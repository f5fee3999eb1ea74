"""Models: runs that ended without finishing (a crash, a killed worker, a restarted server), each with the epoch
its resume file holds, a Resume button that goes on training it in this session, and Discard for its owner."""

from __future__ import annotations

import streamlit as st

from fmnist.config import ConfigError, TrainConfig
from fmnist.store import recovery
from fmnist.store.checkpoints import owner_of
from ui.i18n import _, engine
from ui.owner import is_admin, owner_id
from ui.session import session_runs, store

MESSAGE_KEY = "models_resume_message"
RESUMED_KEY = "models_resumed"


def made_by(meta: dict | None) -> str:
    owner = owner_of(meta)
    return _("you") if owner == owner_id() else _("command line") if owner == "cli" else _("another session")


def show_interrupted() -> None:
    rows = recovery.interrupted(store())
    if st.session_state.pop(RESUMED_KEY, False):
        st.switch_page("pages/train.py")  # the resumed run trains there, with its charts
    if not rows:
        return
    st.header(_("Interrupted runs"),
                 help=_("Runs that ended before their last epoch (a crash, a stopped worker, a restarted server). "
                        "Each keeps its last finished epoch, so it can go on from there."))
    job = session_runs().job
    busy = job is not None and not job.snapshot().finished
    for row in rows:
        name = row["name"]
        try:
            describe = TrainConfig.from_dict(row["meta"]["config"]).describe()
        except (KeyError, TypeError, ConfigError):
            describe = _("settings unreadable")
        refused = None if is_admin() or row["owner"] == owner_id() else _("another session's run")
        text, resume_col, discard_col = st.columns([6, 1, 1], vertical_alignment="center")
        text.markdown(_("**{name}** ({settings}, by {who}): interrupted at epoch {epoch} of {total}", name=name,
                        settings=describe, who=made_by(row["meta"]), epoch=row["epoch"], total=row["epochs"]))
        resume_col.button(_("Resume"), key=f"models_resume_{name}", on_click=_recover, args=(str(row["path"]),),
                          disabled=busy,
                          help=engine("a run is already in progress in this session") if busy else
                          _("Goes on training this run in this session from its last finished epoch, on the Train "
                            "page."))
        discard_col.button(_("Discard"), key=f"models_discard_{name}", on_click=_discard, args=(name,),
                           disabled=refused is not None,
                           help=refused or _("Deletes this run's resume file: it can no longer be resumed."))
    kind, text = st.session_state.pop(MESSAGE_KEY, (None, None))
    if kind:
        getattr(st, kind)(engine(text))


def _recover(path: str) -> None:
    try:
        session_runs().start(recovery.read_config(path), recover=path)
        st.session_state[RESUMED_KEY] = True
    except (RuntimeError, recovery.RecoveryError) as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))


def _discard(name: str) -> None:
    try:
        recovery.discard(store(), name, owner_id(), is_admin())
        st.session_state[MESSAGE_KEY] = ("success", _("Discarded {name}.", name=name))
    except recovery.RecoveryError as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))

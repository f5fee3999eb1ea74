"""Models: runs that ended without finishing (a crash, a killed worker, a restarted server), each with the epoch
its resume file holds, a Resume button that goes on training it in this session, and Discard for its owner."""

from __future__ import annotations

import streamlit as st

from fmnist import resume
from fmnist.checkpoints import owner_of
from fmnist.config import ConfigError, TrainConfig
from ui.owner import is_admin, owner_id
from ui.session import session_runs, store

MESSAGE_KEY = "models_resume_message"
RESUMED_KEY = "models_resumed"


def made_by(meta: dict | None) -> str:
    owner = owner_of(meta)
    return "you" if owner == owner_id() else "command line" if owner == "cli" else "another session"


def show_interrupted() -> None:
    rows = resume.interrupted(store())
    if st.session_state.pop(RESUMED_KEY, False):
        st.switch_page("pages/train.py")  # the resumed run trains there, with its charts
    if not rows:
        return
    st.subheader("Interrupted runs")
    job = session_runs().job
    busy = job is not None and not job.snapshot().finished
    for row in rows:
        name = row["name"]
        try:
            describe = TrainConfig.from_dict(row["meta"]["config"]).describe()
        except (KeyError, TypeError, ConfigError):
            describe = "settings unreadable"
        refused = None if is_admin() or row["owner"] == owner_id() else "another session's run"
        text, resume_col, discard_col = st.columns([6, 1, 1], vertical_alignment="center")
        text.markdown(f"**{name}** ({describe}, by {made_by(row['meta'])}): interrupted at epoch {row['epoch']} "
                      f"of {row['epochs']}")
        resume_col.button("Resume", key=f"models_resume_{name}", on_click=_resume, args=(str(row["path"]),),
                          disabled=busy, help="a run is already in progress in this session" if busy else None)
        discard_col.button("Discard", key=f"models_discard_{name}", on_click=_discard, args=(name,),
                           disabled=refused is not None, help=refused)
    kind, text = st.session_state.pop(MESSAGE_KEY, (None, None))
    if kind:
        getattr(st, kind)(text)


def _resume(path: str) -> None:
    try:
        session_runs().start(resume.read_config(path), resume=path)
        st.session_state[RESUMED_KEY] = True
    except (RuntimeError, resume.ResumeError) as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))


def _discard(name: str) -> None:
    try:
        resume.discard(store(), name, owner_id(), is_admin())
        st.session_state[MESSAGE_KEY] = ("success", f"Discarded {name}.")
    except resume.ResumeError as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))

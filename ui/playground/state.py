"""The Playground page's state in st.session_state: the network being trained, its loss history, play or pause.

The button callbacks here run before the page does, so the run they cause already shows their effect.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import Metrics, Playground, Setup

ENGINE, HISTORY, PLAYING, LESSON = "pg_engine", "pg_history", "pg_playing", "pg_start_lesson"
MAX_HISTORY = 1000  # loss points kept; beyond that every other one is dropped, so a long run still shows all of it


def engine(setup: Setup) -> Playground:
    """The session's Playground for `setup`: the same one while only the learning rate, batch size or
    regularisation change (they apply from the next step, as in TensorFlow Playground), a new one otherwise."""
    state = st.session_state
    pg = state.get(ENGINE)
    if pg is None or (pg.setup != setup and not pg.retune(setup)):
        pg = state[ENGINE] = Playground(setup)
        state[HISTORY] = [pg.metrics()]
    if state.pop(LESSON, None) is not None:  # a story button: start its lesson from scratch, playing
        reset()
        pg = engine(setup)
        state[PLAYING] = True
    return pg


def current() -> Playground:
    return st.session_state[ENGINE]


def history() -> list[Metrics]:
    return st.session_state[HISTORY]


def playing() -> bool:
    return bool(st.session_state.get(PLAYING))


def advance(steps: int) -> None:
    pg = current()
    for _ in range(steps):
        pg.step()
    points = history()
    points.append(pg.metrics())
    if len(points) > MAX_HISTORY:
        del points[1:-1:2]


def play() -> None:
    st.session_state[PLAYING] = True


def pause() -> None:
    st.session_state[PLAYING] = False


def step() -> None:
    """One batch, and pause: Step is for looking closely."""
    pause()
    advance(1)


def reset() -> None:
    """Back to the setup's first weights (the same ones: the seed decides them), paused."""
    pause()
    st.session_state.pop(ENGINE, None)

"""Playground: the tutorial's first half in the plane. A line fails on XOR, two hidden units draw the two lines that
solve it, and spirals need depth. Each hidden unit is drawn as its own output over the plane while the network
trains live on the CPU (numpy, no torch)."""

import streamlit as st

from fmnist.playground import LESSONS
from ui import playground_charts as charts
from ui import playground_session as session
from ui.playground_controls import apply_lesson, setup_sidebar
from ui.router import ensure_router

ensure_router()  # first: a first visit straight to this page must still go through app.py

FRAME_S = 0.15  # a redraw every 150 ms asked for: at least 5 a second once each takes its share of the CPU
SLOW_FRAME_S = 0.6  # the loss curve and the network drawing
SPEEDS = (1, 2, 5, 10, 20, 50)  # training steps per redraw
STORY_ICONS = (":material/horizontal_rule:", ":material/call_split:", ":material/cyclone:")
PLOT_CONFIG = {"displayModeBar": False}

setup, errors = setup_sidebar()

st.title("Playground: why layers matter")
st.caption("Orange and blue points, and a network that learns to tell them apart. The background is its answer "
           "over the whole plane; every unit on the right shows its own. Start with the story, one button a step.")

story = st.columns(len(LESSONS))
for i, (col, (key, lesson), icon) in enumerate(zip(story, LESSONS.items(), STORY_ICONS)):
    col.button(f"{i + 1}. {lesson.title}", key=f"pg_lesson_{key}", icon=icon, on_click=apply_lesson, args=(key,),
               width="stretch")
lesson = next((lesson for lesson in LESSONS.values() if lesson.setup == setup), None)
if lesson is not None:
    st.info(f"**{lesson.title}.** {lesson.why}", icon=":material/lightbulb:")

if errors:
    st.warning("Fix the settings marked in the sidebar to train this network.", icon=":material/warning:")
    st.stop()

pg = session.engine(setup)
playing = session.playing()
buttons = st.columns([1, 1, 1, 1, 3, 2], vertical_alignment="bottom")
buttons[0].button("Play", key="pg_play", icon=":material/play_arrow:", type="primary", on_click=session.play,
                  width="stretch", disabled=playing)
buttons[1].button("Pause", key="pg_pause", icon=":material/pause:", on_click=session.pause, width="stretch",
                  disabled=not playing)
buttons[2].button("Step", key="pg_step", icon=":material/skip_next:", on_click=session.step,
                  width="stretch", help="Train on one batch")
buttons[3].button("Reset", key="pg_reset", icon=":material/restart_alt:", on_click=session.reset,
                  width="stretch", help="Back to the first weights")
speed = buttons[4].select_slider("Steps per redraw", SPEEDS, value=10, key="pg_speed")
show_test = buttons[5].toggle("Show test points", value=True, key="pg_show_test")


# The heatmap redraws every frame; the loss curve and the network's thumbnails, slower (each redraw of a chart is work
# for the browser, and three charts a frame held the heatmap to about 4 redraws a second on this 2-core machine).
@st.fragment(run_every=FRAME_S if playing else None)
def live() -> None:
    if session.playing():
        session.advance(speed)
    pg, last = session.current(), session.history()[-1]
    st.container(key="pg_status").markdown(
        f"Step **{last.step:,}** · training loss **{last.train_loss:.3f}** · test loss **{last.test_loss:.3f}** · "
        f"test accuracy **{last.test_acc:.1f}%** (training {last.train_acc:.1f}%)")
    st.plotly_chart(charts.surface_figure(pg, pg.grid(), show_test), key="pg_surface", config=PLOT_CONFIG)


@st.fragment(run_every=SLOW_FRAME_S if playing else None)
def loss_curve() -> None:
    st.plotly_chart(charts.loss_figure(session.history()), key="pg_loss", config=PLOT_CONFIG)


@st.fragment(run_every=SLOW_FRAME_S if playing else None)
def network() -> None:
    pg = session.current()
    st.markdown(f"**{pg.setup.describe()}**: orange is negative, blue positive; edges as thick as their weight.")
    st.plotly_chart(charts.network_figure(pg, pg.grid()), key="pg_network", config=PLOT_CONFIG)


left, right = st.columns([5, 6], gap="medium")
with left:
    live()
    loss_curve()
with right:
    network()

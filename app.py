"""The router: each page is its own script in pages/."""

import streamlit as st

from ui import challenge
from ui.i18n import _
from ui.language import choose_language, language_switch
from ui.router import for_train
from ui.session import start_workers
from ui.style import apply as apply_style

st.set_page_config(page_title="fmnist: train an MLP on Fashion-MNIST", page_icon=":material/checkroom:", layout="wide")
apply_style()  # page-wide CSS: readable captions
choose_language()  # before any text: page titles are translated too

# The Playground is the default page, served at the root URL: the tutorial starts there, and a first visit to the
# app's address should open that start. Its own path is not "playground" because /playground is kept for a hidden page
# that sends a visitor there with the link's settings (shared Playground links): every page opens by its name, as a
# learner would type it. Train is one click away in the menu, at /train.
playground = st.Page("pages/playground.py", title=_("Playground"), icon=":material/scatter_plot:",
                     url_path="playground-page", default=True)


def playground_by_name() -> None:
    st.switch_page(playground, query_params=st.query_params.to_dict())


train = st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train")
pages = [
    playground,
    train,
    st.Page("pages/explore.py", title=_("Explore"), icon=":material/search:"),
    st.Page("pages/evaluate.py", title=_("Evaluate"), icon=":material/bar_chart:"),
    st.Page("pages/classify.py", title=_("Classify"), icon=":material/draw:"),
    st.Page("pages/models.py", title=_("Models"), icon=":material/folder_open:"),
    st.Page("pages/sweep.py", title=_("Sweep"), icon=":material/tune:"),
    st.Page("pages/class.py", title=_("Class"), icon=":material/emoji_events:", url_path="class"),
    st.Page(playground_by_name, title=_("Playground"), url_path="playground", visibility="hidden"),
]
try:
    page = st.navigation(pages)
    if page is playground and for_train(st.query_params.to_dict()):  # an older Train link to the root
        st.switch_page(train, query_params=st.query_params.to_dict())
    language_switch()
    challenge.read_link()  # ?challenge=ID on any page: this session's challenge
    challenge.banner()  # its title, task and limits on every page
    page.run()
finally:
    # After the page, not before: the spare worker's torch import would take the CPU the first page needs.
    start_workers()

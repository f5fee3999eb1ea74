"""The router: each page is its own script in pages/."""

import streamlit as st

from ui import challenge
from ui.i18n import _
from ui.language import choose_language, language_switch
from ui.session import start_workers
from ui.style import apply as apply_style

st.set_page_config(page_title="fmnist: train an MLP on Fashion-MNIST", page_icon=":material/checkroom:", layout="wide")
apply_style()  # page-wide CSS: readable captions
choose_language()  # before any text: page titles are translated too

# Train is the default page, served at the root URL. Its own path is not "train" because /train is kept for a hidden
# page that sends a visitor there with the link's settings: every page opens by its name, as a learner would type it.
train = st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train-page",
                default=True)


def train_by_name() -> None:
    st.switch_page(train, query_params=st.query_params.to_dict())


pages = [
    st.Page("pages/playground.py", title=_("Playground"), icon=":material/scatter_plot:"),
    train,
    st.Page("pages/explore.py", title=_("Explore"), icon=":material/search:"),
    st.Page("pages/evaluate.py", title=_("Evaluate"), icon=":material/bar_chart:"),
    st.Page("pages/classify.py", title=_("Classify"), icon=":material/draw:"),
    st.Page("pages/models.py", title=_("Models"), icon=":material/folder_open:"),
    st.Page("pages/sweep.py", title=_("Sweep"), icon=":material/tune:"),
    st.Page("pages/class.py", title=_("Class"), icon=":material/emoji_events:", url_path="class"),
    st.Page(train_by_name, title=_("Train"), url_path="train", visibility="hidden"),
]
try:
    page = st.navigation(pages)
    language_switch()
    challenge.read_link()  # ?challenge=ID on any page: this session's challenge
    challenge.banner()  # its title, task and limits on every page
    page.run()
finally:
    # After the page, not before: the spare worker's torch import would take the CPU the first page needs.
    start_workers()

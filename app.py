"""The router: each page is its own script in pages/."""

import streamlit as st

from ui.session import start_workers

st.set_page_config(page_title="fmnist: train an MLP on Fashion-MNIST", page_icon="👕", layout="wide")

pages = [
    st.Page("pages/playground.py", title="Playground", icon=":material/scatter_plot:"),
    st.Page("pages/train.py", title="Train", icon="🏋️", default=True),
    st.Page("pages/explore.py", title="Explore", icon="🔎"),
    st.Page("pages/evaluate.py", title="Evaluate", icon="📊"),
    st.Page("pages/classify.py", title="Classify", icon="✏️"),
    st.Page("pages/models.py", title="Models", icon="🗂️"),
    st.Page("pages/sweep.py", title="Sweep", icon="🧪"),
]
start_workers()
st.navigation(pages).run()

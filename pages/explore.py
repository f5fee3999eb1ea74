"""Explore: the test images with the active model's predictions; filter, sort, page through and inspect one."""

import streamlit as st

from fmnist.data.dataset import CLASSES
from ui.i18n import N_, _
from ui.inspect import prediction_view
from ui.inspect.prediction_charts import (
    CORRECTNESS,
    MOST_CONFIDENT,
    SORTS,
    filter_indices,
    most_confident_mistakes,
    page_count,
    page_of,
)
from ui.names import class_name
from ui.router import ensure_router

ensure_router()  # first: a first visit straight to this page must still go through app.py

PER_PAGE = 24
ANY = N_("All classes")  # an option value, like the class names: shown through _()

st.title(_("Explore the test set"))
name = prediction_view.require_model()
ev = prediction_view.evaluation(name)
model = prediction_view.active_model(name)
labels = prediction_view.held_out_images()[1]


def show_most_confident_mistakes() -> None:
    st.session_state.update(explore_true=ANY, explore_pred=ANY, explore_correctness="Wrong",
                            explore_sort=MOST_CONFIDENT)
    worst = most_confident_mistakes(ev.predictions, labels, ev.probabilities)
    if len(worst):
        st.session_state["explore_selected"] = int(worst[0])  # and show the worst one up close


def pick(index: int) -> None:
    st.session_state["explore_selected"] = index


def as_class(option: str) -> int | None:
    return None if option == ANY else CLASSES.index(option)


def class_label(option: str) -> str:
    return _(ANY) if option == ANY else class_name(option)


# Filters persist for the session, so a trip to another page and back keeps the current view.
true_col, pred_col, right_col, sort_col = st.columns(4)
true_name = true_col.selectbox(_("True class"), [ANY, *CLASSES], key="explore_true", persist_state="session",
                               format_func=class_label,
                               help=_("Show only test images whose correct label is this class."))
pred_name = pred_col.selectbox(_("Predicted class"), [ANY, *CLASSES], key="explore_pred", persist_state="session",
                               format_func=class_label,
                               help=_("Show only test images the model labelled as this class. With a true class "
                                      "too, you see one cell of the confusion matrix."))
correctness = right_col.radio(_("Predictions"), CORRECTNESS, key="explore_correctness", horizontal=True,
                              persist_state="session", format_func=_,
                              help=_("Keep every image, only those the model got right, or only its mistakes."))
sort = sort_col.selectbox(_("Order"), SORTS, key="explore_sort", persist_state="session", format_func=_,
                          help=_("Confidence is the probability of the predicted class. Lowest first shows the "
                                 "images the model hesitates over; highest first, the ones it is surest of."))
st.button(_("Most confident mistakes"), icon=":material/target:", key="explore_mistakes",
          on_click=show_most_confident_mistakes,
          help=_("Wrong predictions only, the ones the model was surest about first"))

indices = filter_indices(ev.predictions, labels, ev.probabilities, as_class(true_name), as_class(pred_name),
                         correctness, sort)
st.markdown(_("**{count}** of {total} test images match", count=f"{len(indices):,}", total=f"{len(labels):,}"))

grid_col, detail_col = st.columns([3, 2], gap="large")
with grid_col:
    if len(indices) == 0:
        st.info(_("No test image matches these filters."))
    else:
        # One pager per filter combination: a new list starts on page 1, and going back to an earlier
        # combination returns to the page it was on.
        filters = (as_class(true_name), as_class(pred_name), CORRECTNESS.index(correctness), SORTS.index(sort))
        page = st.pagination(page_count(len(indices), PER_PAGE), key="explore_page_" + "_".join(map(str, filters)),
                             persist_state="session")
        prediction_view.image_grid(page_of(indices, page, PER_PAGE), ev, columns=4, pick=pick, key="explore_pick")

with detail_col:
    st.header(_("One image up close"))
    # Until a tile is picked, show the first match: the detail panel is never empty.
    st.session_state.setdefault("explore_selected", int(indices[0]) if len(indices) else 0)
    selected = st.number_input(_("Test image index"), min_value=0, max_value=len(labels) - 1, step=1,
                               key="explore_selected", persist_state="session",
                               help=_("Which of the 10,000 test images to show up close (0 to 9,999). Or press "
                                      "Inspect under a tile."))
    prediction_view.image_detail(int(selected), ev, model, key="explore_probs")
    prediction_view.show_feature_maps(model, prediction_view.held_out_images()[0][int(selected)], key="explore_maps")

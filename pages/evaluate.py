"""Evaluate: the active model's test accuracy and loss, confusion matrix, per-class metrics, the images behind any
cell of the matrix, and how much of its accuracy it keeps on shifted and rotated images."""

import numpy as np
import streamlit as st

from fmnist.data.dataset import CLASSES
from ui.i18n import _
from ui.inspect import prediction_view, robustness_view
from ui.inspect.prediction_charts import (
    LEAST_CONFIDENT,
    MOST_CONFIDENT,
    cell_from_selection,
    confusion_figure,
    confusion_summary,
    filter_indices,
    most_confused_pair,
)
from ui.names import class_name
from ui.router import ensure_router
from ui.tables import markdown_table

ensure_router()  # first: a first visit straight to this page must still go through app.py

CHART = "evaluate_confusion"
MAX_IMAGES = 30


def cell_clicked() -> None:
    # Runs before the rerun, so the selectboxes below can still be set: the click and they stay in step.
    cell = cell_from_selection(st.session_state[CHART]["selection"])
    if cell is not None:
        st.session_state["evaluate_true"], st.session_state["evaluate_pred"] = CLASSES[cell[0]], CLASSES[cell[1]]


def headline(ev) -> None:
    """Test accuracy, loss and the number of mistakes."""
    total = int(ev.confusion.sum())
    mistakes = total - int(np.trace(ev.confusion))
    acc_col, loss_col, err_col = st.columns(3)
    acc_col.metric(_("Test accuracy"), f"{ev.accuracy:.2f}%",
                   help=_("The share of the 10,000 test images, never seen in training, that the model labels right."))
    loss_col.metric(_("Test loss"), f"{ev.loss:.4f}",
                    help=_("The mean cross-entropy on the test set: lower is better. Unlike accuracy it also counts "
                           "how sure the model was, so a right answer given hesitantly still costs a little."))
    err_col.metric(_("Mistakes"), _("{count} of {total} images", count=f"{mistakes:,}", total=f"{total:,}"),
                   help=_("Test images whose predicted class is not their true class."))


def chosen_cell(ev) -> tuple[int, int]:
    """The cell chosen so far; until one is, the model's most common mistake."""
    worst_true, worst_pred = most_confused_pair(ev.confusion)
    st.session_state.setdefault("evaluate_true", CLASSES[worst_true])
    st.session_state.setdefault("evaluate_pred", CLASSES[worst_pred])
    return CLASSES.index(st.session_state["evaluate_true"]), CLASSES.index(st.session_state["evaluate_pred"])


def matrix(ev, chosen: tuple[int, int]) -> None:
    """The confusion matrix, the chosen cell outlined; a click chooses another."""
    st.header(_("Confusion matrix"),
              help=_("Each row is the true class, each column the predicted one; the diagonal counts correct "
                     "answers, bright cells off it are the mistakes the model makes most."))
    normalize = st.toggle(_("Row percentages"), key="evaluate_normalize", persist_state="session",
                          help=_("Each row as a percentage of that true class, instead of image counts"))
    st.plotly_chart(confusion_figure(ev.confusion, normalize, highlight=chosen), key=CHART, on_select=cell_clicked,
                    selection_mode="points", config={"displayModeBar": False})
    st.caption(_("Rows are the true class, columns the prediction. Click a cell to see its images below."))
    st.caption(confusion_summary(ev.confusion))


def per_class(ev) -> None:
    """Precision, recall and accuracy per class."""
    st.header(_("Per class"),
              help=_("How well the model does on each class. A class with low precision attracts other "
                     "classes' images; one with low recall is often taken for something else."))

    # A Markdown table, not st.dataframe: its grid sized each column to the header, so a long label cut the
    # numbers under a short one (1,000 images read "10" in Korean), and nothing in the page could tell.
    percents = {"precision": _("precision"), "recall": _("recall"), "accuracy": _("accuracy"), "f1": "F1"}
    table = [{_("Class"): class_name(row["class"]), **{label: f"{row[k]:.1f}%" for k, label in percents.items()},
              _("Images"): row["support"]} for row in ev.per_class()]
    st.markdown(markdown_table(table, right=tuple(percents.values())))
    st.caption(_("Precision: of the images predicted as the class, the share that are. Recall (= the class's "
                 "accuracy): of the class's images, the share predicted right."))


def cell_images(ev, labels) -> None:
    """The images behind one cell, the telling ones first."""
    st.header(_("Images in a cell"))
    true_col, pred_col = st.columns(2)
    # Kept for the session, like Explore's filters, so coming back shows the same cell.
    true_class = CLASSES.index(true_col.selectbox(
        _("True class"), CLASSES, key="evaluate_true", persist_state="session", format_func=class_name,
        help=_("The row of the confusion matrix: the images that really are this class.")))
    pred_class = CLASSES.index(pred_col.selectbox(
        _("Predicted class"), CLASSES, key="evaluate_pred", persist_state="session", format_func=class_name,
        help=_("The column: what the model said. The same class as the true one shows the correct answers.")))

    # Mistakes the model was surest of, and correct answers it was least sure of, are the telling ones.
    order = MOST_CONFIDENT if true_class != pred_class else LEAST_CONFIDENT
    cell = filter_indices(ev.predictions, labels, ev.probabilities, true_class, pred_class, sort=order)
    if len(cell) == 0:
        st.info(_("No {true} test image was predicted as {predicted}.", true=class_name(CLASSES[true_class]),
                  predicted=class_name(CLASSES[pred_class])))
    else:
        shown = _("most confident first") if order == MOST_CONFIDENT else _("least confident first")
        st.markdown(_("**{count}** test images of class {true} predicted as {predicted}; showing {shown}, {order}.",
                      count=f"{len(cell):,}", true=class_name(CLASSES[true_class]),
                      predicted=class_name(CLASSES[pred_class]), shown=min(len(cell), MAX_IMAGES), order=shown))
        prediction_view.image_grid(cell[:MAX_IMAGES], ev, columns=6)


# The page, step by step.
st.title(_("Evaluate the active model"))
name = prediction_view.require_model()
ev = prediction_view.evaluation(name)
labels = prediction_view.held_out_images()[1]
headline(ev)
chosen = chosen_cell(ev)
# Halves: in two fifths of a 1400 px page the per-class table (470 px) had to scroll, its last column cut.
matrix_col, table_col = st.columns(2, gap="large")
with matrix_col:
    matrix(ev, chosen)
with table_col:
    per_class(ev)
cell_images(ev, labels)
robustness_view.section(name)

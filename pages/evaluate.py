"""Evaluate: the active model's test accuracy and loss, confusion matrix, per-class metrics and the images
behind any cell of the matrix."""

import numpy as np
import streamlit as st

from fmnist.data import CLASSES
from ui import prediction_view
from ui.prediction_charts import (
    LEAST_CONFIDENT,
    MOST_CONFIDENT,
    cell_from_selection,
    confusion_figure,
    filter_indices,
    most_confused_pair,
)
from ui.router import ensure_router

ensure_router()  # first: a first visit straight to this page must still go through app.py

CHART = "evaluate_confusion"
MAX_IMAGES = 30

st.title("Evaluate the active model")
name = prediction_view.require_model()
ev = prediction_view.evaluation(name)
_, labels = prediction_view.held_out_images()

total = int(ev.confusion.sum())
mistakes = total - int(np.trace(ev.confusion))
acc_col, loss_col, err_col = st.columns(3)
acc_col.metric("Test accuracy", f"{ev.accuracy:.2f}%")
loss_col.metric("Test loss", f"{ev.loss:.4f}")
err_col.metric("Mistakes", f"{mistakes:,} of {total:,}")


def cell_clicked() -> None:
    # Runs before the rerun, so the selectboxes below can still be set: the click and they stay in step.
    cell = cell_from_selection(st.session_state[CHART]["selection"])
    if cell is not None:
        st.session_state["evaluate_true"], st.session_state["evaluate_pred"] = CLASSES[cell[0]], CLASSES[cell[1]]


# Until a cell is chosen, open on the model's most common mistake.
worst_true, worst_pred = most_confused_pair(ev.confusion)
st.session_state.setdefault("evaluate_true", CLASSES[worst_true])
st.session_state.setdefault("evaluate_pred", CLASSES[worst_pred])
chosen = CLASSES.index(st.session_state["evaluate_true"]), CLASSES.index(st.session_state["evaluate_pred"])

matrix_col, table_col = st.columns([3, 2], gap="large")
with matrix_col:
    st.subheader("Confusion matrix")
    normalize = st.toggle("Row percentages", key="evaluate_normalize", persist_state="session",
                          help="Each row as a percentage of that true class, instead of image counts")
    st.plotly_chart(confusion_figure(ev.confusion, normalize, highlight=chosen), key=CHART, on_select=cell_clicked,
                    selection_mode="points", config={"displayModeBar": False})
    st.caption("Rows are the true class, columns the prediction. Click a cell to see its images below.")

with table_col:
    st.subheader("Per class")
    percent = st.column_config.NumberColumn(format="%.1f%%")
    st.dataframe(ev.per_class(), hide_index=True, key="evaluate_table",
                 column_config={"class": "Class", "precision": percent, "recall": percent,
                                "accuracy": percent, "f1": st.column_config.NumberColumn("F1", format="%.1f%%"),
                                "support": st.column_config.NumberColumn("Images")})
    st.caption("Precision: of the images predicted as the class, the share that are. Recall (= the class's "
               "accuracy): of the class's images, the share predicted right.")

st.subheader("Images in a cell")
true_col, pred_col = st.columns(2)
# Kept for the session, like Explore's filters, so coming back shows the same cell.
true_class = CLASSES.index(true_col.selectbox("True class", CLASSES, key="evaluate_true", persist_state="session"))
pred_class = CLASSES.index(pred_col.selectbox("Predicted class", CLASSES, key="evaluate_pred",
                                              persist_state="session"))

# Mistakes the model was surest of, and correct answers it was least sure of, are the telling ones.
order = MOST_CONFIDENT if true_class != pred_class else LEAST_CONFIDENT
cell = filter_indices(ev.predictions, labels, ev.probabilities, true_class, pred_class, sort=order)
if len(cell) == 0:
    st.info(f"No {CLASSES[true_class]} test image was predicted as {CLASSES[pred_class]}.")
else:
    shown = "most confident first" if order == MOST_CONFIDENT else "least confident first"
    st.markdown(f"**{len(cell):,}** test images of class {CLASSES[true_class]} predicted as "
                f"{CLASSES[pred_class]}; showing {min(len(cell), MAX_IMAGES)}, {shown}.")
    prediction_view.image_grid(cell[:MAX_IMAGES], ev, columns=6)

"""Classify: draw an item or upload a picture and see what the active model makes of it."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ui.i18n import _
from ui.inspect import prediction_view
from ui.router import ensure_router

ensure_router()  # first: a first visit straight to this page must still go through app.py

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]

st.title(_("Classify your own image"))
name = prediction_view.require_model()
model = prediction_view.active_model(name)


def clear_canvas() -> None:
    # The canvas keeps its drawing per key; a new key is a fresh, empty canvas.
    st.session_state["classify_canvas_version"] = st.session_state.get("classify_canvas_version", 0) + 1


draw_tab, upload_tab = st.tabs([_("Draw"), _("Upload")])

with draw_tab:
    canvas_col, result_col = st.columns([1, 2], gap="large")
    with canvas_col:
        st.caption(_("Draw one item in white, filling most of the square, as Fashion-MNIST items fill theirs."))
        brush = st.slider(_("Brush size"), min_value=4, max_value=48, value=18, key="classify_brush",
                          help=_("The width of the pen in canvas pixels. The drawing is shrunk to 28 x 28, so a "
                                 "thick brush gives bold strokes like the photos; a thin one may fade away."))
        canvas = st_canvas(
            stroke_width=brush, stroke_color="#FFFFFF", background_color="#000000", drawing_mode="freedraw",
            height=280, width=280, return_image_data=True,
            key=f"classify_canvas_{st.session_state.get('classify_canvas_version', 0)}",
        )
        st.button(_("Clear"), icon=":material/ink_eraser:", key="classify_clear", on_click=clear_canvas,
                  help=_("Empty the canvas to draw something new."))
    with result_col:
        # Under AppTest (and before the browser's first report) the canvas returns no image: that is "blank".
        outcome = prediction_view.classify_canvas(model, canvas.image_data)
        prediction_view.show_outcome(outcome, key="classify_draw_probs", model=model,
                             blank_hint=_("draw an item on the black canvas."))
        prediction_view.show_outcome_maps(model, outcome, key="classify_draw_maps")

with upload_tab:
    upload = st.file_uploader(_("An image of one clothing item"), type=UPLOAD_TYPES, key="classify_upload",
                              help=_("A photo or product shot works best on a plain background, cropped to the "
                                     "item"))
    st.caption(_("A photo may be misread: the model has only seen gray 28 x 28 garments alone on black, so the "
                 "background is removed first, but a shadow, a hanger, a second item or a person wearing it is "
                 "still taken as part of the garment, and an unusual angle changes its shape."))
    if upload is None:
        st.caption(_("PNG, JPEG, WebP, BMP or GIF. It is turned into a 28 x 28 gray image like the training "
                     "data."))
    else:
        data = upload.getvalue()
        outcome = prediction_view.classify_bytes(model, data, upload.name)
        prediction_view.show_outcome(outcome, key="classify_upload_probs", model=model, original=data,
                             original_caption=upload.name,
                             blank_hint=_("{name} is blank or a single colour.", name=upload.name))
        prediction_view.show_outcome_maps(model, outcome, key="classify_upload_maps")

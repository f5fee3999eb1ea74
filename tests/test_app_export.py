"""The Models page's export downloads, through AppTest: one button and one sentence per format for the selected
checkpoint, made lazily (the page run exports nothing), disabled for a file that cannot be loaded."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fmnist.export import formats as export
from tests.helpers import APP
from ui.models import exports

KINDS = ("script", "weights", "onnx", "pt2")


def download_buttons(at: AppTest) -> dict[str, object]:
    """The export download buttons by kind (AppTest has no typed accessor for download buttons)."""
    found = {}
    for el in at.get("download_button"):
        for kind in KINDS:
            if el.proto.id.endswith(f"models_export_{kind}"):
                found[kind] = el.proto
    return found


def test_models_page_offers_the_exports_lazily_and_not_for_a_broken_file(ckpt_dir, monkeypatch):
    made = []
    original = export.export_bytes
    monkeypatch.setattr(exports, "export_bytes", lambda *a: made.append(a) or original(*a))
    (ckpt_dir / "broken.safetensors").write_bytes(b"not a checkpoint")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/models.py").run()
    assert not at.exception, at.exception

    buttons = download_buttons(at)
    assert set(buttons) == set(KINDS)
    assert not any(b.disabled for b in buttons.values())
    captions = " ".join(c.value for c in at.caption)
    assert "Netron" in captions and "torch.export.load" in captions and "weights_only=True" in captions
    assert made == []  # nothing exported just to draw the page

    at.selectbox(key="models_pick").set_value("broken").run()
    assert not at.exception, at.exception
    assert all(b.disabled for b in download_buttons(at).values())

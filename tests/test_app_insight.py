"""What the network learned (Train page tabs), shareable settings (the URL) and comparing runs (Models page),
driven through Streamlit's AppTest."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fmnist.config import SEED
from fmnist.data.dataset import CLASSES
from fmnist.store import checkpoints
from tests.helpers import array, run, specs, tiny_form, title, train_page


def sidebar_text(at: AppTest, kind: str) -> str:
    return " | ".join(str(e.value) for e in getattr(at.sidebar, kind))


def test_the_train_page_shows_what_the_network_learned(ckpt_dir, started, dataset):
    at = run(train_page())
    tiny_form(at, epochs=2)
    assert [s["data"] for s in specs(at)] == [[]]  # before a run, only the step chart's empty frame
    at.button(key="train_start").click()
    run(at)
    job = started[0]
    job.resume()
    assert job.join(120), "the tiny run did not finish in two minutes"
    run(at)
    snap = job.snapshot()
    assert snap.status == "done" and len(snap.epochs) == 2
    assert len(snap.insight) == 2  # the app asks its jobs for insight
    assert [t.label for t in at.tabs] == ["Per class", "First layer", "Learned space", "Network", "Health"]

    charts = specs(at)
    assert len(charts) == 4  # step loss, epoch loss, epoch accuracy, then the open tab: per class
    heat = charts[3]["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == list(CLASSES)
    assert list(array(heat["x"])) == [1, 2]
    z = array(heat["z"]).reshape(10, 2)
    for col, epoch in enumerate(snap.epochs):
        np.testing.assert_allclose(z[:, col], epoch["test_class_acc"])

    at.session_state["train_insight_tab"] = "First layer"
    charts = specs(run(at))
    assert len(charts) == 4
    assert "epoch 2" in title(charts[3])
    heat = charts[3]["data"][0]
    filters = snap.insight[-1]["filters"]
    side = 6 * 29 - 1  # 36 filters in a 6 x 6 grid with one-pixel gaps
    z = array(heat["z"]).reshape(side, side)
    np.testing.assert_allclose(z[:28, :28], filters[0], rtol=1e-6)
    np.testing.assert_allclose(z[29:57, 29:57], filters[7], rtol=1e-6)
    assert heat["zmin"] == -heat["zmax"] == pytest.approx(-float(np.abs(filters).max()))

    at.session_state["train_insight_tab"] = "Learned space"
    charts = specs(run(at))
    assert len(charts) == 4
    space = charts[3]
    assert [f["name"] for f in space["frames"]] == ["1", "2"]
    labels = dataset.test_labels.numpy()[:2000]
    latest = snap.insight[-1]["projection"]
    assert [t["name"] for t in space["data"]] == list(CLASSES)
    assert sum(len(array(t["x"])) for t in space["data"]) == len(latest) == 2000
    for c, trace in enumerate(space["data"]):
        np.testing.assert_allclose(array(trace["x"]), latest[labels == c, 0], rtol=1e-5)
        assert list(array(trace["customdata"])) == np.flatnonzero(labels == c).tolist()
    first = snap.insight[0]["projection"]
    np.testing.assert_allclose(array(space["frames"][0]["data"][2]["y"]), first[labels == 2, 1], rtol=1e-5)
    assert "Click a point" in " ".join(str(c.value) for c in at.caption)


def test_a_shared_link_fills_the_form_and_the_form_updates_the_link(ckpt_dir):
    at = train_page()
    at.query_params.update(hidden="64,32", lr="0.003", optimizer="adam")
    at.context["url"] = "http://localhost:8501/train"  # what a browser on the Train page has
    run(at)
    assert at.number_input(key="cfg_layers").value == 2
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(2)] == [64, 32]
    assert at.select_slider(key="cfg_lr").value == 0.003
    assert at.selectbox(key="cfg_optimizer").value == "adam"
    assert at.selectbox(key="cfg_preset").value == "custom"
    assert at.number_input(key="cfg_epochs").value == SEED.epochs  # the rest is the seed preset
    assert not at.warning
    assert at.query_params == {"preset": "custom", "hidden": "64,32", "optimizer": "adam", "lr": "0.003"}
    link = "http://localhost:8501/train?preset=custom&hidden=64,32&optimizer=adam&lr=0.003"
    assert link in sidebar_text(at, "caption")

    at.number_input(key="cfg_epochs").set_value(7)
    run(at)
    assert at.query_params["epochs"] == "7" and at.query_params["hidden"] == "64,32"

    at.selectbox(key="cfg_preset").set_value("seed")
    run(at)
    assert at.query_params == {}  # the default needs no parameters
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(3)] == [1024, 128, 64]


def test_a_link_with_bad_settings_warns_and_uses_the_rest(ckpt_dir):
    at = train_page()
    at.query_params.update(lr="fast", epochs="3", bogus="1", hidden="64,99999")
    run(at)
    assert not at.sidebar.warning and len(at.main.warning) == 1  # at the top of the page, not under the sidebar
    warning = at.main.warning[0].value
    assert "lr=fast" in warning and "bogus=1" in warning and "hidden=64,99999" in warning
    assert "epochs" not in warning
    assert at.number_input(key="cfg_epochs").value == 3
    assert at.select_slider(key="cfg_lr").value == SEED.lr
    assert at.number_input(key="cfg_w0").value == SEED.hidden[0]
    assert at.query_params == {"preset": "custom", "epochs": "3"}  # the link now holds only what was used
    assert not at.button(key="train_start").disabled

    at.number_input(key="cfg_epochs").set_value(4)
    run(at)
    assert not at.warning  # gone once the form is edited


def page_order(at: AppTest) -> list[str]:
    """The types of the main area's elements, in page order (blocks walked depth first)."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            found.append(getattr(child, "type", ""))
            walk(child)
    walk(at.main)
    return found


def test_a_huge_bad_link_gives_a_notice_of_a_few_short_lines(ckpt_dir):
    at = train_page()
    junk = "x" * 5000
    at.query_params.update({"lr": junk, "[click](http://example.com)" + junk: "1", "optimizer": junk,
                            **{f"bogus{i}": junk for i in range(20)}})
    run(at)
    [notice] = at.main.warning
    lines = notice.value.splitlines()
    assert len(lines) <= 6 and len(notice.value) < 600, notice.value
    assert lines[0] == "Ignored from the link:" and lines[-1] == "- and 20 more"  # 23 problems, 3 listed
    assert all(len(line) <= 2 + 2 * 40 + 130 for line in lines)
    assert "lr=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…: expected a number" in notice.value
    assert "\\[click\\]\\(http" in notice.value  # the link's text is shown as written, never as a Markdown link
    assert page_order(at).index("warning") < page_order(at).index("title")  # above the page's title


def test_the_link_is_read_only_when_the_session_starts(ckpt_dir):
    at = train_page()
    at.query_params.update(epochs="5")
    run(at)
    at.query_params["epochs"] = "9"  # not a new session: the form stays the source of truth
    run(at)
    assert at.number_input(key="cfg_epochs").value == 5
    assert at.query_params["epochs"] == "5"


def test_models_page_compares_settings_confusions_and_shows_the_first_layer(ckpt_dir):
    default = checkpoints.load(ckpt_dir / "default.safetensors")
    meta = {**default.meta, "config": {**default.meta["config"], "optimizer": "sgd", "lr": 0.01}}
    checkpoints.CheckpointStore(ckpt_dir).save("other", default.model(), meta)
    at = run(train_page())
    at.switch_page("pages/models.py")
    run(at)
    assert "Choose two or more runs" in " ".join(str(c.value) for c in at.caption)
    assert any(title(s).startswith("First layer of default") for s in specs(at))

    at.multiselect(key="models_compare").set_value(["default", "other"])
    run(at)
    diff = at.dataframe[1].value
    assert diff["setting"].tolist() == ["optimizer", "lr"]
    assert diff.set_index("setting").loc["optimizer"].to_dict() == {"default": "adam", "other": "sgd"}
    confusion = [s for s in specs(at) if title(s) == "default minus other"]
    assert len(confusion) == 1
    z = array(confusion[0]["data"][0]["z"]).reshape(10, 10)
    assert (z == 0).all()  # the same weights make the same mistakes

"""The Train and Models pages, driven through Streamlit's AppTest (in-process, no browser)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from fmnist.config import BEST, SEED
from fmnist.runs import jobs
from fmnist.store import checkpoints
from tests.helpers import APP, TRAIN_PAGE, texts, train_page
from ui.train.model_view import run_in_words

# What set_tiny_config makes of the form, which starts from the seed preset (drop_last, eval_train included).
TINY = SEED.replace(hidden=(32,), optimizer="adam", lr=3e-3, batch_size=512, epochs=1, device="cpu")


def app() -> AppTest:
    at = train_page()
    at.run()
    assert not at.exception, at.exception
    return at


def set_tiny_config(at: AppTest) -> None:
    at.number_input(key="cfg_layers").set_value(1)
    at.number_input(key="cfg_w0").set_value(32)
    at.selectbox(key="cfg_optimizer").set_value("adam")
    at.select_slider(key="cfg_lr").set_value(3e-3)
    at.number_input(key="cfg_batch_size").set_value(512)
    at.number_input(key="cfg_epochs").set_value(1)
    at.selectbox(key="cfg_device").set_value("cpu")
    at.run()
    assert not at.exception, at.exception


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_the_first_page_and_the_train_page_render_without_importing_torch(ckpt_dir):
    """In a fresh interpreter, as a server starts: torch is the workers' to import (about 2 s here), not the pages'.
    The app's root (the Playground), then Train, its next click."""
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            f"at = AppTest.from_file({APP!r}, default_timeout=60)\nat.run()\n"
            "assert not at.exception, at.exception\nassert at.button(key='pg_play')\n"
            f"at.switch_page({TRAIN_PAGE!r}).run()\n"
            "assert not at.exception, at.exception\nassert at.button(key='train_start')\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'safetensors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_train_page_opens_with_the_seed_preset(ckpt_dir):
    at = app()
    assert at.selectbox(key="cfg_preset").value == "seed"
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(3)] == [1024, 128, 64]
    assert not at.button(key="train_start").disabled
    table = next(m.value for m in at.main.markdown if m.value.startswith("| layer |"))
    assert "| hidden 1 | 784 → 1024 | relu | 803,840 | 802,816 |" in table.splitlines()  # the model summary, as text
    assert "default" in texts(at.sidebar.caption)  # the active model is named
    assert not at.sidebar.error and not at.warning


def test_the_form_keeps_its_values_across_pages(ckpt_dir):
    at = app()
    at.selectbox(key="cfg_preset").set_value("best").run()
    at.number_input(key="cfg_epochs").set_value(7).run()
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert at.number_input(key="cfg_epochs").value == 7
    assert at.selectbox(key="cfg_preset").value == "custom"
    assert at.number_input(key="cfg_w0").value == BEST.hidden[0]


def test_choosing_a_preset_fills_the_form_and_editing_makes_it_custom(ckpt_dir):
    at = app()
    at.selectbox(key="cfg_preset").set_value("best").run()
    assert at.number_input(key="cfg_layers").value == len(BEST.hidden)
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(len(BEST.hidden))] == list(BEST.hidden)
    assert at.select_slider(key="cfg_lr").value == BEST.lr
    assert at.selectbox(key="cfg_optimizer").value == "adamw"
    assert at.selectbox(key="cfg_schedule").value == "onecycle"
    assert at.toggle(key="cfg_batch_norm").value is BEST.batch_norm
    assert at.toggle(key="cfg_augment").value is BEST.augment
    assert at.toggle(key="cfg_flip").value is BEST.flip and at.toggle(key="cfg_warp").value is BEST.warp
    assert at.number_input(key="cfg_dropout").value == BEST.dropout

    at.number_input(key="cfg_epochs").set_value(3).run()
    assert at.selectbox(key="cfg_preset").value == "custom"
    assert at.number_input(key="cfg_w0").value == BEST.hidden[0]  # the other values stay
    assert at.toggle(key="cfg_warp").value is True


def test_an_invalid_setting_is_shown_next_to_its_control_and_disables_start(ckpt_dir):
    at = app()
    at.number_input(key="cfg_w0").set_value(5000).run()
    assert "each layer needs 1 to 4096 units" in texts(at.sidebar.error)
    assert at.button(key="train_start").disabled

    at.number_input(key="cfg_w0").set_value(100)
    at.toggle(key="cfg_keep_best").set_value(True).run()
    assert "needs a validation split" in texts(at.sidebar.error)
    assert at.button(key="train_start").disabled

    at.number_input(key="cfg_val_size").set_value(5000).run()
    assert not at.sidebar.error
    assert not at.button(key="train_start").disabled


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_an_error_at_the_device_control(ckpt_dir):
    assert jobs.pool().devices(timeout=120) is not None  # what the server knows once its spare worker has looked
    at = app()
    assert "auto (cpu)" in at.selectbox(key="cfg_device").options
    at.selectbox(key="cfg_device").set_value("cuda").run()
    assert "CUDA was asked for" in texts(at.sidebar.error)
    assert at.button(key="train_start").disabled


def test_a_run_is_frozen_pausable_and_saved_as_the_active_model(ckpt_dir, started):
    at = app()
    set_tiny_config(at)
    at.button(key="train_start").click().run()
    assert len(started) == 1
    job = started[0]
    assert job.config == TINY
    # Held paused by the `started` fixture from its first step on (the browser tests click Pause itself).
    assert at.button(key="train_start").disabled and at.button(key="train_pause").disabled
    assert job.snapshot().status == "paused" and not at.button(key="train_resume").disabled

    # The sidebar now describes the next run; the running one keeps its own config and says so.
    at.number_input(key="cfg_w0").set_value(64).run()
    assert job.config == TINY
    assert run_in_words(TINY) in texts(at.info)

    at.button(key="train_resume").click().run()
    assert job.join(60), "the tiny run did not finish in a minute"
    at.run()
    assert not at.exception, at.exception

    snap = job.snapshot()
    assert snap.status == "done" and snap.checkpoint
    assert (ckpt_dir / f"{snap.checkpoint}.safetensors").is_file()
    assert snap.checkpoint in texts(at.toast) and str(ckpt_dir) not in texts(at.toast)  # a name, not the server's disk
    assert snap.checkpoint in texts(at.success)
    assert at.session_state["active_model"] == snap.checkpoint
    assert snap.checkpoint in texts(at.sidebar.caption)
    assert not at.button(key="train_start").disabled
    # What next: the pages that look at the model just made active, one click away.
    assert [link.proto.page for link in at.get("page_link")] == ["explore", "evaluate"]

    specs = chart_specs(at)
    steps, loss, acc = specs[:3]  # then the "Per class" insight tab (tests/test_app_insight.py)
    assert [t["name"] for t in steps["data"]] == ["loss (raw)", "loss (smoothed)"]
    assert steps["data"][0]["x"] == [s for s, _ in snap.steps]
    assert [t["name"] for t in loss["data"]] == ["train", "test"]
    assert loss["data"][1]["x"] == [1] and loss["data"][1]["y"] == [snap.epochs[0]["test_loss"]]
    acc_traces = {t["name"]: t for t in acc["data"]}  # the seed preset's form also scores training in eval mode
    assert acc_traces["test"]["y"] == [snap.epochs[0]["test_acc"]]
    assert acc_traces["train (eval mode)"]["y"] == [snap.epochs[0]["train_eval_acc"]]

    at.run()  # a later rerun does not announce the same run again
    assert not at.toast

    # A second run draws the first one faintly behind it.
    at.button(key="train_start").click().run()
    assert len(started) == 2 and started[1].config == TINY.replace(hidden=(64,))
    earlier = {t["name"]: t for t in chart_specs(at)[1]["data"]}
    assert set(earlier) == {"run 1 train", "run 1 test"}
    assert earlier["run 1 test"]["x"] == [1] and earlier["run 1 test"]["opacity"] < 1


def test_a_failed_run_shows_its_error(ckpt_dir, started):
    at = train_page()
    # Off the slider's grid, as a shared link can set it: each step scales the weights by 1 - 10 x 1 = -9.
    at.query_params.update(hidden="32", optimizer="sgd", lr="10", weight_decay="1", batch_size="512", epochs="1",
                           device="cpu")
    at.run()
    assert not at.exception, at.exception
    at.button(key="train_start").click().run()
    assert (started[0].config.lr, started[0].config.weight_decay) == (10.0, 1.0)
    started[0].resume()
    assert started[0].join(60)
    at.run()
    assert "training diverged" in texts(at.error)
    assert not at.toast
    assert len(at.get("plotly_chart")) == 3  # the charts stay


def save_as(ckpt_dir: Path, name: str, owner: str) -> None:
    """A copy of the tiny default model saved as `name` by the session (or CLI) `owner`."""
    ckpt = checkpoints.load(ckpt_dir / "default.safetensors")
    checkpoints.save(ckpt_dir / f"{name}.safetensors", ckpt.model(), {**ckpt.meta, "name": name, "owner": owner})


def test_models_page_lists_activates_and_deletes_with_confirmation(ckpt_dir):
    (ckpt_dir / "broken.safetensors").write_bytes(b"not a checkpoint")
    at = app()
    at.switch_page("pages/models.py").run()
    save_as(ckpt_dir, "other", at.session_state["owner_id"])  # made by this session: its own to delete
    at.run()
    assert not at.exception, at.exception

    table = at.dataframe[0].value
    assert set(table["name"]) == {"default", "other", "broken"}
    assert table.set_index("name").loc["default", "layers"] == "784-32-10"
    assert table.set_index("name").loc["default", "epochs"] == "1/1"
    assert "not a readable safetensors checkpoint" in table.set_index("name").loc["broken", "error"]
    # The unreadable file's other cells say so with a dash, not "None".
    broken = table.set_index("name").loc["broken"]
    assert [broken[c] for c in ("layers", "optimizer", "epochs", "test accuracy")] == ["—"] * 4
    assert table.set_index("name").loc["default", "test accuracy"].endswith("%")
    assert len(chart_specs(at)[0]["data"]) == 1  # the active model's curve, compared with nothing yet

    at.selectbox(key="models_pick").set_value("other").run()
    at.button(key="models_activate").click().run()
    assert at.session_state["active_model"] == "other"

    assert at.button(key="models_delete").disabled  # not before "I am sure"
    at.checkbox(key="models_delete_sure").check().run()
    at.button(key="models_delete").click().run()
    assert not (ckpt_dir / "other.safetensors").exists()
    assert "Deleted other" in texts(at.success)
    assert "other" not in set(at.dataframe[0].value["name"])

    at.selectbox(key="models_pick").set_value("default").run()
    assert at.button(key="models_delete").disabled and at.checkbox(key="models_delete_sure").disabled
    assert "never deleted" in at.button(key="models_delete").help
    assert (ckpt_dir / "default.safetensors").is_file()


def has_button(at: AppTest, key: str) -> bool:
    return any(b.key == key for b in at.button)


def sidebar_model(at: AppTest) -> str:
    return next(str(c.value) for c in at.sidebar.caption if str(c.value).startswith("Active model:"))


def test_stop_at_once_discards_the_run_and_keeps_the_active_model(ckpt_dir, started):
    at = app()
    set_tiny_config(at)
    at.button(key="train_start").click().run()
    job = started[0]  # held paused before its first step
    at.button(key="train_stop").click().run()
    assert job.join(60), "the stopped run's worker did not end"
    at.run()
    assert not at.exception, at.exception

    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["default.safetensors"]  # no checkpoint, no resume file
    assert sidebar_model(at).startswith("Active model: **default**")
    assert "discarded" in texts(at.info) and "still **default**" in texts(at.info)
    assert not at.success and not at.toast and not has_button(at, "train_make_active")
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.checkpoint is None and snap.save_error is None and snap.discarded
    assert not at.button(key="train_start").disabled


def test_stop_after_an_epoch_saves_without_switching_and_the_button_switches(ckpt_dir, started):
    at = app()
    set_tiny_config(at)
    at.number_input(key="cfg_epochs").set_value(30).run()  # far longer than the test lets it train
    at.button(key="train_start").click().run()
    job = started[0]
    job.resume()
    deadline = time.monotonic() + 300
    while not job.snapshot().epochs:
        assert time.monotonic() < deadline, "the first epoch did not end in five minutes"
        time.sleep(0.05)
    at.button(key="train_stop").click().run()
    assert job.join(60), "the stopped run's worker did not end"
    at.run()
    assert not at.exception, at.exception

    snap = job.snapshot()
    assert snap.status == "stopped" and snap.checkpoint
    assert (ckpt_dir / f"{snap.checkpoint}.safetensors").is_file()
    assert snap.checkpoint in texts(at.toast)  # where it was saved
    assert sidebar_model(at).startswith("Active model: **default**")  # not switched
    message = texts(at.success)
    assert f"saved as **{snap.checkpoint}**" in message and "still **default**" in message
    assert not snap.discarded

    at.button(key="train_make_active").click().run()
    assert not at.exception, at.exception
    assert at.session_state["active_model"] == snap.checkpoint
    assert sidebar_model(at).startswith(f"Active model: **{snap.checkpoint}**")
    assert "now the active model" in texts(at.success) and not has_button(at, "train_make_active")
    assert [link.proto.page for link in at.get("page_link")] == ["explore", "evaluate"]

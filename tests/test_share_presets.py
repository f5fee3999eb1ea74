"""The new presets and settings travel in a shared link like the others (ui/train/share.py is pure: no Streamlit)."""

from fmnist.config import PRESETS, SEED
from ui.train import share
from ui.train.sidebar import KEYS, LISTS


def test_presets_and_new_settings_round_trip_through_the_url():
    assert share.config_to_params(PRESETS["quick"]) == {"preset": "quick"}
    assert share.params_to_config({"preset": "quick"}) == (PRESETS["quick"], [])
    cfg = SEED.replace(flip=True, ema=0.999, drop_last=False, preset="custom")
    params = share.config_to_params(cfg)
    assert params == {"preset": "custom", "flip": "true", "ema": "0.999", "drop_last": "false"}
    assert share.params_to_config(params) == (cfg, [])
    config, errors = share.params_to_config({"precision": "fp16"})
    assert config == SEED and errors and errors[0].startswith("precision=fp16: unknown precision")


def test_every_setting_but_the_layers_has_a_sidebar_control():
    assert set(KEYS) == set(share.FIELDS) - set(LISTS)  # the lists (hidden, conv) are a count and an input per item

"""The one table of run settings (fmnist/config/settings.py): TrainConfig, the CLI's flags, the sidebar's controls, the
URL, the lessons, the sweep's parser and the export script's flags are all derived from it, for every setting."""

from __future__ import annotations

import dataclasses
import shlex

import pytest

from fmnist.cli.common import config_from_args
from fmnist.cli.main import build_parser
from fmnist.config import CNN_BEST, SEED, TrainConfig
from fmnist.config import text as config_text
from fmnist.config.settings import BY_NAME, LESSON_NAMES, SETTINGS
from fmnist.export.script import train_command
from fmnist.sweep.space import FIELDS as SWEEP_FIELDS
from fmnist.sweep.space import config_value, parse_param
from ui.train import share
from ui.train.sidebar import HELP, KEYS, LABELS, LISTS, setting_keys, widget_values

BASE = CNN_BEST  # a preset on which every setting can take another value (gap needs a block, keep_best a split)


def other_value(setting):
    """A valid value of the setting that differs from BASE's."""
    current = getattr(BASE, setting.name)
    if setting.choices:
        return next(c for c in setting.choices if c != current)
    if setting.kind is bool:
        return not current
    if setting.kind is tuple:
        return (48, 24) if setting.name == "hidden" else (8, 16)
    if setting.kind is int:
        return {"val_size": 3000, "seed": 7}.get(setting.name, current + 32)
    return {"lr": 0.005, "ema": 0.99}.get(setting.name, 0.125)


def test_trainconfig_has_exactly_the_table_s_fields_with_their_defaults():
    # preset names where the settings came from; val_seed is a challenge's split (fmnist.challenge), not a form's
    fields = [f for f in dataclasses.fields(TrainConfig) if f.name not in ("preset", "val_seed")]
    assert [f.name for f in fields] == [s.name for s in SETTINGS]
    assert all(f.default == BY_NAME[f.name].default for f in fields)
    assert TrainConfig().errors() == {}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_cli_flag_that_sets_it(setting):
    value = other_value(setting)
    argv = ["train", "--preset", BASE.preset]
    argv += [setting.flag if value else "--no-" + setting.flag[2:]] if setting.kind is bool else \
        [setting.flag, config_text.format_value(value)]
    config = config_from_args(build_parser().parse_args(argv))
    assert getattr(config, setting.name) == value
    assert config.replace(**{setting.name: getattr(BASE, setting.name)}) == BASE  # and nothing else changed


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_round_trips_through_the_url_and_the_export_command(setting):
    config = BASE.replace(**{setting.name: other_value(setting)})
    params = share.config_to_params(config)
    assert params[setting.name] == config_text.format_value(getattr(config, setting.name))
    back, problems = share.params_to_config(params)
    assert problems == [] and back == config
    command = shlex.split(train_command({}, config))
    assert command[:4] == ["python", "-m", "fmnist", "train"]
    rebuilt = config_from_args(build_parser().parse_args(command[3:]))
    assert rebuilt == config.replace(device=SEED.device)  # the device belongs to the machine, not the recipe


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_its_sidebar_control_label_help_and_lesson_name(setting):
    assert LABELS[setting.name] and HELP[setting.name]
    keys = setting_keys(setting.name)
    shown = widget_values(BASE.replace(**{setting.name: other_value(setting)}))
    assert keys and keys[0] in shown and all(k in shown or setting.name in LISTS for k in keys)
    assert (setting.name in KEYS) == (setting.kind is not tuple)
    assert (setting.name in LESSON_NAMES) == setting.lockable


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.sweepable], ids=lambda s: s.name)
def test_every_sweepable_setting_parses_as_a_sweep_choice(setting):
    value = other_value(setting)
    param = parse_param(f"{setting.name}=choice:{config_text.format_value(value)}", BASE)
    assert param.field == setting.name and config_value(setting.name, param.choices[0]) == value
    assert set(SWEEP_FIELDS) == {s.name for s in SETTINGS if s.sweepable}


@pytest.mark.parametrize("text,value", [("true", True), ("On", True), ("yes", True), ("1", True), ("false", False),
                                        ("off", False), ("no", False), ("0", False)])
def test_one_boolean_parser_for_the_url_the_sweep_and_the_cli(text, value):
    assert config_text.parse("flip", text) is value
    assert share.parse_value("flip", text) is value
    assert parse_param(f"flip=choice:{text}", BASE).choices == (value,)


def test_a_float_is_written_the_same_way_in_the_url_and_the_export_command():
    config = BASE.replace(lr=1 / 3)
    assert share.config_to_params(config)["lr"] == repr(1 / 3)
    assert f"--lr {repr(1 / 3)}" in train_command({}, config)

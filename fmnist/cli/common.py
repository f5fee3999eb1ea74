"""What the commands share: the usage error (exit 2), the checkpoint a name or path means, how a line is printed, and
the run settings as flags, each derived from the settings table."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from fmnist.config import PRESETS, TrainConfig
from fmnist.config.settings import SETTINGS
from fmnist.config.text import PARSERS


class UsageError(Exception):
    """Bad arguments: exit 2 with a one-line message, like argparse itself."""


def checkpoint_at(ref: str):
    """The checkpoint a command names: a path, or the name of a file in checkpoints/ (the app's session has its own
    ui.session.load_checkpoint, by name and cached)."""
    from fmnist.store import checkpoints

    path = Path(ref)
    if path.suffix == checkpoints.SUFFIX or path.exists():
        return checkpoints.load(path)
    return checkpoints.CheckpointStore().load(ref)


def emit(args, obj: dict, text: str) -> None:
    print(json.dumps(obj) if args.json else text, flush=True)


def arg_type(kind: type):
    """An argparse type from the one text parser (fmnist.config.text): its message, one line, exit 2."""
    def parse(text: str):
        try:
            return PARSERS[kind](text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def add_config_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults stay None so only what is given overrides the preset."""
    p.add_argument("--preset", choices=list(PRESETS), default="seed",
                   help="starting point: quick = 90%% in under a minute of CPU time, seed = the classic notebook, "
                        "best = our MLP recipe, cnn = convolution blocks, over 92%% in about a minute, cnn-gap = cnn "
                        "with a third block and global average pooling, cnn-best = our "
                        "CNN recipe (default: seed)")
    for s in SETTINGS:
        if s.kind is bool:
            p.add_argument(s.flag, action=argparse.BooleanOptionalAction, default=None, help=s.cli)
        else:
            p.add_argument(s.flag, type=arg_type(s.kind), choices=s.choices or None, default=None, help=s.cli)


def config_from_args(args) -> TrainConfig:
    base = PRESETS[args.preset]
    if args.preset == "seed" and getattr(args, "precision", None) not in (None, "fp32"):
        raise UsageError("the seed preset reproduces the notebook in fp32; use --precision with another preset")
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if f.name != "preset" and getattr(args, f.name, None) is not None}
    config = base.replace(**changes)
    if changes:
        config = config.replace(preset="custom" if args.preset == "seed" else f"{args.preset}-custom")
    return config.validated()

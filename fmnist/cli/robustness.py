"""`python -m fmnist robustness`: how much of their test accuracy models keep on shifted and rotated test images."""

from __future__ import annotations

import argparse
import json
import sys

from fmnist.cli.common import UsageError, arg_type, checkpoint_at
from fmnist.config import DEVICES

DEFAULT_SHIFTS, DEFAULT_ROTATIONS = "0,1,2,3,4", "0,5,10,15"


def _amounts(kind: type):
    """A comma list of whole numbers (shifts) or numbers (rotations); "none" or nothing is no amount at all."""
    one = arg_type(kind)

    def parse(text: str) -> list:
        parts = [p.strip() for p in text.split(",")]
        if text.strip().lower() in ("", "none"):
            return []
        if "" in parts:
            raise argparse.ArgumentTypeError(f"{text!r}: an empty item in the list; write amounts separated by commas, "
                                             "like 0,1,2")
        return [one(p) for p in parts]
    parse.__name__ = "list of " + kind.__name__
    return parse


def _degrees(r: float) -> str:
    return f"{r:g}"


def _table(rows: list[tuple[str, list]], kind: str) -> list[str]:
    """One line per model: its accuracy at each amount of one kind, under a header of the amounts."""
    amounts = [m.amount for m in rows[0][1] if m.kind == kind]
    if not amounts:
        return []
    width = max(len("model"), *(len(name) for name, _ in rows))
    unit = (lambda a: f"{int(a)} px") if kind == "shift" else (lambda a: f"{_degrees(a)}°")
    title = ("test accuracy (%) with every image shifted k pixels (the mean over 8 directions)" if kind == "shift"
             else "test accuracy (%) with every image rotated r degrees (the mean of +r and -r)")
    lines = [title, f"{'model':<{width}} " + " ".join(f"{unit(a):>7}" for a in amounts)]
    for name, measures in rows:
        lines.append(f"{name:<{width}} " + " ".join(f"{m.accuracy:>7.2f}" for m in measures if m.kind == kind))
    return lines


def cmd_robustness(args) -> int:
    from fmnist.data.dataset import device_tensors, load_dataset
    from fmnist.inspect.robustness import check_amounts, measure
    from fmnist.model.devices import resolve_device

    shifts, rotations = args.shifts, args.rotations
    if not shifts and not rotations:
        raise UsageError("nothing to measure: give --shifts or --rotations a list of amounts")
    try:
        check_amounts(shifts, rotations)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ckpts = [checkpoint_at(ref) for ref in args.models]  # every name checked before any measuring
    device = resolve_device(args.device)
    _, _, x_test, y_test = device_tensors(load_dataset(), device)
    rows = []
    for ckpt in ckpts:
        def progress(m, done, total, name=ckpt.name, path=str(ckpt.path)):
            if args.json:
                print(json.dumps({"model": name, "checkpoint": path, **m.as_dict()}), flush=True)
            else:
                what = f"shift {int(m.amount)} px" if m.kind == "shift" else f"rotation {_degrees(m.amount)}°"
                print(f"{name}: {what}: {m.accuracy:.2f}% ({done}/{total})", file=sys.stderr, flush=True)

        rows.append((ckpt.name, measure(ckpt.model(device), x_test, y_test, shifts, rotations, progress)))
    if not args.json:
        print("\n".join(_table(rows, "shift") + _table(rows, "rotation")))
    return 0


def add_parser(sub) -> None:
    r = sub.add_parser("robustness", help="test accuracy on shifted and rotated test images, per model",
                       description="Each test image is shifted by k pixels in each of the 8 directions (dx, dy in "
                                   "{-k, 0, k}, not both 0), the uncovered border filled with the background, and "
                                   "the accuracy is the mean over the 8; a rotation of r degrees is the mean of +r "
                                   "and -r (bilinear, background outside the frame). Shift 0 and rotation 0 are "
                                   "the plain test accuracy, as evaluate prints it.")
    r.add_argument("models", nargs="+", metavar="MODEL", help="a .safetensors path or a name in checkpoints/")
    r.add_argument("--shifts", type=_amounts(int), default=_amounts(int)(DEFAULT_SHIFTS),
                   help=f"shifts in pixels, 0 to 27, comma-separated; none for no shift (default {DEFAULT_SHIFTS})")
    r.add_argument("--rotations", type=_amounts(float), default=_amounts(float)(DEFAULT_ROTATIONS),
                   help="rotations in degrees, 0 to 180, comma-separated; none for no rotation "
                        f"(default {DEFAULT_ROTATIONS})")
    r.add_argument("--device", default="auto", choices=DEVICES)
    r.add_argument("--json", action="store_true",
                   help="one JSON object per model and shift, and per model and rotation; accuracies in percent")
    r.set_defaults(func=cmd_robustness)

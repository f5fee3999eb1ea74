"""`python -m fmnist train | evaluate | predict | bench | data`: the engine without the app."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from .config import ACTIVATIONS, DEVICES, OPTIMIZERS, PRESETS, SCHEDULES, ConfigError, TrainConfig


class UsageError(Exception):
    """Bad arguments: exit 2 with a one-line message, like argparse itself."""


def _emit(args, obj: dict, text: str) -> None:
    print(json.dumps(obj) if args.json else text, flush=True)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give layer widths as whole numbers, e.g. 1024,128,64") from None


def _positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


_FIELD_HELP = {
    "hidden": ("widths of the hidden layers, comma-separated (1-6 layers of 1-4096)", _hidden, None),
    "activation": ("activation function", str, ACTIVATIONS),
    "dropout": ("dropout after each hidden layer (0 = off)", _positive_float, None),
    "batch_norm": ("batch normalisation after each hidden layer", None, None),
    "optimizer": ("optimizer (momentum = SGD with Nesterov momentum 0.9)", str, OPTIMIZERS),
    "lr": ("(peak) learning rate", _positive_float, None),
    "weight_decay": ("weight decay (decoupled for adamw)", _positive_float, None),
    "schedule": ("learning-rate schedule", str, SCHEDULES),
    "batch_size": ("batch size", int, None),
    "epochs": ("epochs", int, None),
    "label_smoothing": ("label smoothing", _positive_float, None),
    "augment": ("random shifts of up to 2 pixels", None, None),
    "val_size": ("training images held out for validation", int, None),
    "keep_best": ("restore the epoch with the best validation accuracy", None, None),
    "seed": ("random seed", int, None),
    "device": ("device", str, DEVICES),
}


def add_config_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults stay None so only what is given overrides the preset."""
    p.add_argument("--preset", choices=sorted(PRESETS), default="seed",
                   help="starting point: seed = the classic notebook, best = our recipe (default: seed)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "preset":
            continue
        help_, type_, choices = _FIELD_HELP[f.name]
        flag = "--" + f.name.replace("_", "-")
        if type_ is None:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        else:
            p.add_argument(flag, type=type_, choices=choices, default=None, help=help_)


def config_from_args(args) -> TrainConfig:
    base = PRESETS[args.preset]
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if f.name != "preset" and getattr(args, f.name, None) is not None}
    config = base.replace(**changes)
    if changes:
        config = config.replace(preset="custom" if args.preset == "seed" else f"{args.preset}-custom")
    return config.validated()


def cmd_train(args) -> int:
    from . import checkpoints
    from .model import DeviceError, resolve_device
    from .train import train

    config = config_from_args(args)
    try:
        resolve_device(config.device)
    except DeviceError as exc:
        raise UsageError(str(exc)) from None
    store = checkpoints.CheckpointStore()
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != checkpoints.SUFFIX:
        raise UsageError(f"--out must end in {checkpoints.SUFFIX}")
    command = "python -m fmnist " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if not args.json:
        print(f"Training {config.describe()} on {config.device}", flush=True)
    for ev in train(config):
        if ev.kind == "note":
            print(ev.message, file=sys.stderr, flush=True)
        elif ev.kind == "epoch":
            line = {k: ev.__dict__[k] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
            line["elapsed_s"] = round(ev.elapsed_s, 3)
            line.update(health=ev.health, warnings=ev.warnings)
            if ev.val_acc is not None:
                line.update(val_loss=ev.val_loss, val_acc=ev.val_acc)
            val = f"  val acc {ev.val_acc:.2f}%" if ev.val_acc is not None else ""
            _emit(args, line, f"Epoch {ev.epoch:>2}/{ev.epochs}  train loss {ev.train_loss:.4f}  "
                              f"train acc {ev.train_acc:.2f}%{val}  test loss {ev.test_loss:.4f}  "
                              f"test acc {ev.test_acc:.2f}%  [{ev.elapsed_s:.1f} s]")
            if not args.json:
                for warning in ev.warnings:
                    print(f"  warning: {warning}", flush=True)
        elif ev.kind == "failed":
            _emit(args, {"error": ev.reason, "epoch": ev.epoch}, f"Training failed: {ev.reason}")
            return 1
        elif ev.kind == "done":
            r = ev.result
            meta = checkpoints.build_meta(r.config, r.history, r.test_acc, r.test_loss, r.elapsed_s, r.device,
                                          command=command, stopped=r.stopped, best_epoch=r.best_epoch,
                                          lr_changes=r.lr_changes)
            if out is None:
                path = store.save(store.unique_name(r.config, r.test_acc), r.model, meta)
            else:
                path = checkpoints.save(out, r.model, {**meta, "name": out.name.removesuffix(checkpoints.SUFFIX)})
            _emit(args, {"summary": True, "test_acc": r.test_acc, "test_loss": r.test_loss,
                         "epochs": len(r.history), "elapsed_s": round(r.elapsed_s, 3), "device": r.device,
                         "checkpoint": str(path)},
                  f"Test accuracy {r.test_acc:.2f}% after {len(r.history)} epochs in {r.elapsed_s:.1f} s "
                  f"on {r.device}. Saved {path}")
    return 0


def load_checkpoint(ref: str):
    """A path, or the name of a file in checkpoints/."""
    from . import checkpoints

    path = Path(ref)
    if path.suffix == checkpoints.SUFFIX or path.exists():
        return checkpoints.load(path)
    return checkpoints.CheckpointStore().load(ref)


def cmd_evaluate(args) -> int:
    from .data import CLASSES, device_tensors, load_dataset
    from .evaluate import evaluate
    from .model import resolve_device

    ckpt = load_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    _, _, x_test, y_test = device_tensors(load_dataset(), device)
    ev = evaluate(ckpt.model(device), x_test, y_test)
    if args.json:
        print(json.dumps({"checkpoint": str(ckpt.path), **ev.as_dict()}))
        return 0
    print(f"{ckpt.path}: test accuracy {ev.accuracy:.2f}%, loss {ev.loss:.4f}")
    print(f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>6}")
    for row in ev.per_class():
        print(f"{row['class']:<12} {row['precision']:>8.2f}% {row['recall']:>6.2f}% {row['f1']:>5.2f}%")
    print("confusion matrix (rows: true class, columns: predicted)")
    print("             " + " ".join(f"{c[:5]:>5}" for c in CLASSES))
    for name, row in zip(CLASSES, ev.confusion):
        print(f"{name:<12} " + " ".join(f"{v:>5}" for v in row))
    return 0


def cmd_predict(args) -> int:
    from .predict import predict_files

    ckpt = load_checkpoint(args.checkpoint)
    failed = False
    for res in predict_files(ckpt.model(), args.images):
        failed |= "error" in res
        if args.json:
            print(json.dumps(res), flush=True)
        elif "error" in res:
            print(f"{res['file']}: error: {res['error']}", flush=True)
        else:
            top = sorted(enumerate(res["probabilities"]), key=lambda t: -t[1])[:3]
            from .data import CLASSES
            alts = ", ".join(f"{CLASSES[i]} {100 * p:.1f}%" for i, p in top)
            print(f"{res['file']}: {res['label']} ({alts})", flush=True)
    return 1 if failed else 0


def cmd_data(args) -> int:
    from .data import PROJECT_DATA, DataError, download, find_files, load_dataset

    try:
        files = find_files(args.data_dir)
    except DataError as exc:
        if args.data_dir or args.no_download:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"Fashion-MNIST not found locally; downloading into {PROJECT_DATA} ...", file=sys.stderr, flush=True)
        files = download(PROJECT_DATA)
    ds = load_dataset(args.data_dir)
    info = {"source": str(ds.source), "train": int(ds.train_images.shape[0]), "test": int(ds.test_images.shape[0]),
            "files": {k: str(v) for k, v in files.items()}}
    _emit(args, info, f"Fashion-MNIST OK in {ds.source}: {info['train']:,} training and {info['test']:,} test images")
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    result = run_bench(args.device, args.steps, full=args.full, progress=None if args.json else print)
    if args.json:
        print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmnist", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save a checkpoint")
    add_config_args(t)
    t.add_argument("--out", help="checkpoint path (default: a unique name in checkpoints/)")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="test-set metrics of a checkpoint")
    e.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    e.add_argument("--device", default="auto", choices=DEVICES)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify image files")
    pr.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    pr.add_argument("images", nargs="+", help="png, jpg, webp, bmp, gif ... files")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)

    b = sub.add_parser("bench", help="the notebook's pipeline against ours, same device and steps")
    b.add_argument("--device", default="auto", choices=DEVICES)
    b.add_argument("--steps", type=int, default=300, help="timed steps for each pipeline (default 300)")
    b.add_argument("--full", action=argparse.BooleanOptionalAction, default=None,
                   help="also time 20 seed-preset epochs end to end (default: on for CUDA only)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("data", help="find, check (and if needed download) Fashion-MNIST")
    d.add_argument("--data-dir", help="folder with the four IDX files (default: FMNIST_DATA_DIR, ./data, Debian's)")
    d.add_argument("--no-download", action="store_true", help="fail instead of downloading when not found")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)
    return p


def main(argv: list[str] | None = None) -> int:
    from .checkpoints import CheckpointError
    from .data import DataError
    from .model import DeviceError

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ConfigError, UsageError, DeviceError) as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    except (DataError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

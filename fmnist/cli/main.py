"""`python -m fmnist train | evaluate | robustness | predict | export | bench | data | playground | sweep | challenge`:
the engine without the app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fmnist.cli import challenge, playground, robustness, sweep, train
from fmnist.cli.common import UsageError, checkpoint_at, emit
from fmnist.config import DEVICES, ConfigError


def cmd_evaluate(args) -> int:
    from fmnist.data.dataset import CLASSES, device_tensors, load_dataset
    from fmnist.inspect.evaluate import evaluate
    from fmnist.model.devices import resolve_device

    ckpt = checkpoint_at(args.checkpoint)
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
    from fmnist.inspect.predict import predict_files

    ckpt = checkpoint_at(args.checkpoint)
    failed = False
    for res in predict_files(ckpt.model(), args.images):
        failed |= "error" in res
        if args.json:
            print(json.dumps(res), flush=True)
        elif "error" in res:
            print(f"{res['file']}: error: {res['error']}", flush=True)
        else:
            top = sorted(enumerate(res["probabilities"]), key=lambda t: -t[1])[:3]
            from fmnist.data.dataset import CLASSES
            alts = ", ".join(f"{CLASSES[i]} {100 * p:.1f}%" for i, p in top)
            print(f"{res['file']}: {res['label']} ({alts})", flush=True)
    return 1 if failed else 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def cmd_export(args) -> int:
    from fmnist.export.formats import export_files, out_path, write
    from fmnist.store.checkpoints import SUFFIX

    # --out is checked before the checkpoint is read: a bad argument is reported as one, at once.
    try:
        out = out_path(Path(args.checkpoint).name.removesuffix(SUFFIX), args.format, args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ckpt = checkpoint_at(args.checkpoint)
    if args.format != "script" and not args.json:
        print(f"Exporting {ckpt.name} as {args.format} (a few seconds) ...", file=sys.stderr, flush=True)
    files = export_files(ckpt, args.format, out)
    try:
        paths = write(files)
    except OSError as exc:
        print(f"error: could not write {exc.filename or out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{p} ({_size(len(files[p]))})" for p in paths)
    text = f"Wrote {sizes}"
    if args.format == "script":
        text += f". Test the weights: python {paths[0]} --weights {paths[1]}; train again: python {paths[0]}"
    emit(args, {"format": args.format, "checkpoint": str(ckpt.path), "files": [str(p) for p in paths]}, text)
    return 0


def cmd_data(args) -> int:
    from fmnist.data.dataset import DataError, download, download_root, find_files, load_dataset

    try:
        files = find_files(args.data_dir)
    except DataError as exc:
        if args.data_dir or args.no_download:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        root = download_root()
        print(f"Fashion-MNIST not found locally; downloading into {root} ...", file=sys.stderr, flush=True)
        files = download(root)
    ds = load_dataset(args.data_dir)
    info = {"source": str(ds.source), "train": int(ds.train_images.shape[0]), "test": int(ds.test_images.shape[0]),
            "files": {k: str(v) for k, v in files.items()}}
    emit(args, info, f"Fashion-MNIST OK in {ds.source}: {info['train']:,} training and {info['test']:,} test images")
    return 0


def cmd_bench(args) -> int:
    from fmnist.training.bench import run_bench

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    result = run_bench(args.device, args.steps, full=args.full, progress=None if args.json else print)
    if args.json:
        print(json.dumps(result))
    return 0


def _add_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="test-set metrics of a checkpoint")
    e.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    e.add_argument("--device", default="auto", choices=DEVICES)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)


def _add_predict(sub) -> None:
    pr = sub.add_parser("predict", help="classify image files")
    pr.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    pr.add_argument("images", nargs="+", help="png, jpg, webp, bmp, gif ... files")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)


def _add_export(sub) -> None:
    x = sub.add_parser("export", help="a checkpoint as a standalone PyTorch script, an ONNX or a torch.export file")
    x.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    x.add_argument("--format", required=True, choices=["script", "onnx", "pt2"],
                   help="script: a training script needing only torch + torchvision, its weights next to it (.pt); "
                        "onnx: for onnxruntime, Netron and other tools; pt2: for torch.export.load")
    x.add_argument("--out", help="file (.py, .onnx or .pt2) or folder to write to (default: NAME.EXT here)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_export)


def _add_bench(sub) -> None:
    b = sub.add_parser("bench", help="the notebook's pipeline against ours, same device and steps")
    b.add_argument("--device", default="auto", choices=DEVICES)
    b.add_argument("--steps", type=int, default=300, help="timed steps for each pipeline (default 300)")
    b.add_argument("--full", action=argparse.BooleanOptionalAction, default=None,
                   help="also time 20 seed-preset epochs end to end (default: on for CUDA only)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)


def _add_data(sub) -> None:
    d = sub.add_parser("data", help="find, check (and if needed download) Fashion-MNIST")
    d.add_argument("--data-dir", help="folder with the four IDX files (default: FMNIST_DATA_DIR, ./data, Debian's)")
    d.add_argument("--no-download", action="store_true", help="fail instead of downloading when not found")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmnist", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    train.add_parser(sub)
    _add_evaluate(sub)
    robustness.add_parser(sub)
    _add_predict(sub)
    _add_export(sub)
    _add_bench(sub)
    _add_data(sub)
    playground.add_parser(sub)
    sweep.add_parser(sub)
    challenge.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from fmnist.data.dataset import DataError
    from fmnist.model.devices import DeviceError
    from fmnist.store.checkpoints import CheckpointError

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

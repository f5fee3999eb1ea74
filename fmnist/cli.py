"""`python -m fmnist train | evaluate | predict | export | bench | data | playground | sweep`: the engine without
the app."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from .config import ACTIVATIONS, DEVICES, OPTIMIZERS, PRECISIONS, PRESETS, SCHEDULES, ConfigError, TrainConfig
from .playground import ACTIVATIONS as PLAYGROUND_ACTIVATIONS
from .playground import DATASETS as PLAYGROUND_DATASETS


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
    "flip": ("random left-right mirror of half of each batch", None, None),
    "warp": ("random warp of each training image: a shift of up to 1 pixel (fractions too) and a zoom of up to 5%%",
             None, None),
    "drop_last": ("drop the last partial batch of each epoch, as the notebook's DataLoader", None, None),
    "ema": ("decay of an exponential moving average of the weights, scored instead of them (0 = off)",
            _positive_float, None),
    "eval_train": ("after each epoch also score the training images in eval mode, as the notebook", None, None),
    "val_size": ("training images held out for validation", int, None),
    "keep_best": ("restore the epoch with the best validation accuracy", None, None),
    "seed": ("random seed", int, None),
    "device": ("device", str, DEVICES),
    "precision": ("arithmetic of the training step: bf16 autocasts it (CPUs with bf16 support, CUDA)", str,
                  PRECISIONS),
}


def add_config_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; defaults stay None so only what is given overrides the preset."""
    p.add_argument("--preset", choices=list(PRESETS), default="seed",
                   help="starting point: quick = 90%% in under a minute of CPU time, seed = the classic notebook, "
                        "best = our recipe (default: seed)")
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
    if args.preset == "seed" and getattr(args, "precision", None) not in (None, "fp32"):
        raise UsageError("the seed preset reproduces the notebook in fp32; use --precision with another preset")
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
               if f.name != "preset" and getattr(args, f.name, None) is not None}
    config = base.replace(**changes)
    if changes:
        config = config.replace(preset="custom" if args.preset == "seed" else f"{args.preset}-custom")
    return config.validated()


def resume_file(args, config: TrainConfig, folder: Path):
    """The run's resume file: the one given to --resume (which it goes on writing), else a new one in `folder`."""
    from . import resume

    if args.resume:
        return resume.ResumeFile(Path(args.resume), resume=True)
    return resume.ResumeFile(resume.new_path(folder, config))


def config_to_resume(args) -> TrainConfig:
    from . import resume

    given = [f.name for f in dataclasses.fields(TrainConfig)
             if f.name != "preset" and getattr(args, f.name, None) is not None]
    if given:
        raise UsageError(f"--resume continues a run with its own settings; leave out --{given[0].replace('_', '-')}")
    try:
        return resume.read_config(Path(args.resume))
    except resume.ResumeError as exc:
        raise UsageError(str(exc)) from None


def cmd_train(args) -> int:
    from . import checkpoints, progress
    from . import resume as resume_files
    from .memory import memory_problem
    from .model import DeviceError, resolve_device
    from .train import bf16_problem, train

    config = config_to_resume(args) if args.resume else config_from_args(args)
    try:
        device = resolve_device(config.device)
        if args.precision == "bf16" and bf16_problem(device):  # asked for; a preset's bf16 falls back to fp32
            raise DeviceError(bf16_problem(device))
    except DeviceError as exc:
        raise UsageError(str(exc)) from None
    problem = memory_problem(config, dataset_loaded=False, device_type=device.type)
    if problem:
        raise UsageError(problem)
    store = checkpoints.CheckpointStore()
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != checkpoints.SUFFIX:
        raise UsageError(f"--out must end in {checkpoints.SUFFIX}")
    resume = resume_file(args, config, out.parent if out else store.root)
    command = "python -m fmnist " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if not args.json:
        print(f"Training {config.describe()} on {config.device}", flush=True)
    if args.resume:
        done = resume_files.read(resume.path, tensors=False)[0].get("epoch", 0)
        print(f"Resuming {resume.path.name} after epoch {done} of {config.epochs}", file=sys.stderr, flush=True)
    print(f"Resume file: {resume.path} (if this run is interrupted: python -m fmnist train --resume "
          f"{shlex.quote(str(resume.path))})", file=sys.stderr, flush=True)
    bar = progress.epoch_bar(sys.stdout, config, args.json)
    for ev in progress.drawn(bar, train(config, log_every=progress.log_every(bar, device), resume=resume)):
        if ev.kind == "note":
            print(ev.message, file=sys.stderr, flush=True)
        elif ev.kind == "epoch":
            line = {k: ev.__dict__[k] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
            line["elapsed_s"] = round(ev.elapsed_s, 3)
            line.update(health=ev.health, warnings=ev.warnings)
            if ev.val_acc is not None:
                line.update(val_loss=ev.val_loss, val_acc=ev.val_acc)
            if ev.train_eval_acc is not None:
                line.update(train_eval_loss=ev.train_eval_loss, train_eval_acc=ev.train_eval_acc)
            val = f"  val acc {ev.val_acc:.2f}%" if ev.val_acc is not None else ""
            evals = f" (eval mode {ev.train_eval_acc:.2f}%)" if ev.train_eval_acc is not None else ""
            _emit(args, line, f"Epoch {ev.epoch:>2}/{ev.epochs}  train loss {ev.train_loss:.4f}  "
                              f"train acc {ev.train_acc:.2f}%{evals}{val}  test loss {ev.test_loss:.4f}  "
                              f"test acc {ev.test_acc:.2f}%  [{ev.elapsed_s:.1f} s]")
            if not args.json:
                for warning in ev.warnings:
                    print(f"  warning: {warning}", flush=True)
        elif ev.kind == "failed":
            _emit(args, {"error": ev.reason, "epoch": ev.epoch}, f"Training failed: {ev.reason}")
            return 1
        elif ev.kind == "done":
            r = ev.result
            meta = checkpoints.run_meta(r, command, owner=checkpoints.MACHINE_OWNER)
            if out is None:
                path = store.save_new(store.unique_name(r.config, r.test_acc), r.model, meta)
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


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def cmd_export(args) -> int:
    from .checkpoints import SUFFIX
    from .export import export_files, out_path, write

    # --out is checked before the checkpoint is read: a bad argument is reported as one, at once.
    try:
        out = out_path(Path(args.checkpoint).name.removesuffix(SUFFIX), args.format, args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ckpt = load_checkpoint(args.checkpoint)
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
    _emit(args, {"format": args.format, "checkpoint": str(ckpt.path), "files": [str(p) for p in paths]}, text)
    return 0


def cmd_data(args) -> int:
    from .data import DataError, download, download_root, find_files, load_dataset

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


def _playground_hidden(text: str) -> tuple[int, ...]:
    """`0` (or an empty text) is no hidden layer; `4,4` two layers of 4."""
    widths = _hidden(text)
    return () if widths == (0,) else widths


def _names(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def cmd_playground(args) -> int:
    from .playground import Setup, SetupError, bench, stuck_message, train

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    if args.every is not None and args.every < 1:
        raise UsageError("--every must be at least 1")
    fields = {"dataset", "points", "noise", "train_fraction", "seed", "features", "hidden", "activation", "lr",
              "batch_size", "l1", "l2"}
    try:
        setup = Setup().replace(**{k: v for k, v in vars(args).items() if k in fields and v is not None}).validated()
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    if args.bench:
        result = bench(setup)
        _emit(args, result, f"{result['network']}: one step + one {result['grid']} grid pass: median "
                            f"{result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, "
                            f"min {result['min_ms']:.2f} ms; CPU time median {result['cpu_median_ms']:.2f} ms "
                            f"({result['repeats']} repeats)")
        return 0
    if not args.json:
        print(f"Training {setup.describe()} on {setup.points} points ({setup.n_train} for training), "
              f"{args.steps} steps", flush=True)
    for ev in train(setup, args.steps, args.every):
        m = ev.metrics
        line = m.as_dict()
        text = (f"step {m.step:>6}  train loss {m.train_loss:.4f}  train acc {m.train_acc:.1f}%  "
                f"test loss {m.test_loss:.4f}  test acc {m.test_acc:.1f}%")
        if ev.kind == "done":
            line.update(summary=True, elapsed_s=round(ev.elapsed_s, 3), stuck=ev.stuck)
            text = f"Done: {text.strip()}  [{ev.elapsed_s:.2f} s]" + (f"\n{stuck_message(setup)}" if ev.stuck else "")
        _emit(args, line, text)
    return 0


def cmd_sweep(args) -> int:
    from . import sweep

    try:
        return _run_sweep(args, sweep)
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None


def _run_sweep(args, sweep) -> int:
    import signal

    from .data import load_dataset

    name = sweep.check_study_name(args.study)
    sweep.check_trials(args.trials)
    base = sweep.base_config(config_from_args(args), val_size=args.val_size)
    params = sweep.parse_params(args.param, base)
    both = [p.field for p in params if getattr(args, p.field, None) is not None]
    if both:
        raise UsageError(f"{', '.join(both)}: fixed with a flag and varied with --param; give one of them")
    storage = args.storage or sweep.default_storage()
    study = sweep.open_study(name, storage, sweep.make_sampler(args.sampler, params))
    store = sweep.checkpoint_store(name)
    command = "python -m fmnist " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    runner = sweep.SequentialSweep(study, base, params, store, load_dataset(), command)
    if not args.json:
        print(f"Study {name!r} in {sweep.describe_storage(storage)}: {args.trials} trials of {base.describe()}, "
              f"varying {', '.join(p.spec() for p in params)}", flush=True)

    def on_epoch(run, ev):
        if not args.json:
            print(f"  trial {run.number} epoch {ev.epoch}/{ev.epochs}: val acc {ev.val_acc:.2f}%"
                  + ("  (pruned)" if run.pruned else ""), flush=True)

    def stop(signum, frame):  # first Ctrl-C: end the running trial cleanly; a second one interrupts at once
        signal.signal(signum, signal.default_int_handler)
        runner.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    for out in runner.run(args.trials, on_epoch):
        values = "  ".join(f"{k}={v}" for k, v in out.params.items())
        acc = f"val acc {out.val_acc:.2f}%" if out.val_acc is not None else "no val acc"
        test = f"  test acc {out.test_acc:.2f}%" if out.test_acc is not None else ""
        why = f": {out.reason}" if out.reason else ""
        _emit(args, out.as_dict(), f"Trial {out.trial} {out.state}{why}  {values}  {acc}{test}  "
                                   f"[{out.elapsed_s:.1f} s]")
    result = {"summary": True, "stopped": runner.stopping, **sweep.summary(study, store)}
    best = result["best"]
    text = (f"Best: trial {best['trial']} val acc {best['val_acc']:.2f}% ({best['params']})" if best
            else "No trial has completed yet")
    _emit(args, result, ("Stopped; the interrupted trial is queued again: run the same command to resume. "
                         if runner.stopping else "") + text + f". Study trials: {result['trials']}")
    return 130 if runner.stopping else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmnist", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save a checkpoint")
    add_config_args(t)
    t.add_argument("--out", help="checkpoint path (default: a unique name in checkpoints/)")
    t.add_argument("--resume", metavar="FILE", help="continue an interrupted run from its resume file "
                   "(checkpoints/.resume/*.safetensors, printed when the run started) to its planned epochs")
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

    x = sub.add_parser("export", help="a checkpoint as a standalone PyTorch script, an ONNX or a torch.export file")
    x.add_argument("checkpoint", help="a .safetensors path or a name in checkpoints/")
    x.add_argument("--format", required=True, choices=["script", "onnx", "pt2"],
                   help="script: a training script needing only torch + torchvision, its weights next to it (.pt); "
                        "onnx: for onnxruntime, Netron and other tools; pt2: for torch.export.load")
    x.add_argument("--out", help="file (.py, .onnx or .pt2) or folder to write to (default: NAME.EXT here)")
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_export)

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
    g = sub.add_parser("playground", help="a tiny network on 2-D points (XOR, circles, gaussians, spirals)")
    g.add_argument("--dataset", choices=PLAYGROUND_DATASETS, help="the points (default xor)")
    g.add_argument("--points", type=int, help="number of points, both classes (default 400)")
    g.add_argument("--noise", type=_positive_float, help="0 = clean to 1 = heavy overlap (default 0)")
    g.add_argument("--train-fraction", type=_positive_float, help="share of the points to train on (default 0.5)")
    g.add_argument("--features", type=_names, help="inputs, comma-separated, from x1,x2,x1^2,x2^2,x1*x2,sin x1,"
                                                     "sin x2 (default x1,x2)")
    g.add_argument("--hidden", type=_playground_hidden,
                   help="hidden layer widths (1-8 units, 0-6 layers): 0 = none, 4,4 = two layers (default 2)")
    g.add_argument("--activation", choices=PLAYGROUND_ACTIVATIONS, help="hidden activation (default tanh)")
    g.add_argument("--lr", type=_positive_float, help="learning rate (default 0.03)")
    g.add_argument("--batch-size", type=int, help="batch size (default 10)")
    g.add_argument("--l1", type=_positive_float, help="L1 regularisation rate (default 0)")
    g.add_argument("--l2", type=_positive_float, help="L2 regularisation rate (default 0)")
    g.add_argument("--seed", type=int, help="draws the points and the initial weights (default 0)")
    g.add_argument("--steps", type=int, default=2000, help="training steps, one batch each (default 2000)")
    g.add_argument("--every", type=int, help="a progress line every N steps (default: ten lines)")
    g.add_argument("--bench", action="store_true",
                   help="instead of training, time one step plus one 80x80 grid pass of this network")
    g.add_argument("--json", action="store_true", help="one JSON object per line; accuracies in percent")
    g.set_defaults(func=cmd_playground)

    sw = sub.add_parser("sweep", help="a hyper-parameter search on Optuna; several processes can share one study")
    sw.add_argument("--study", required=True, help="study name (also the folder checkpoints/sweeps/NAME/)")
    sw.add_argument("--trials", type=int, required=True, help="trials this command runs (at most 500)")
    sw.add_argument("--param", action="append", default=[], metavar="FIELD=SPEC",
                    help="a TrainConfig field to vary: loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or "
                         "choice:A|B|C (hidden: choice:512,256|128); repeat for more fields")
    sw.add_argument("--storage", help="Optuna storage URL (sqlite:///..., postgresql://..., journal:PATH; "
                                      "default: FMNIST_SWEEP_STORAGE or sweeps/studies.db)")
    sw.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe", help="default: tpe")
    add_config_args(sw)  # the fields not varied: the preset's, or fixed with the same flags as train
    sw.add_argument("--json", action="store_true", help="one JSON object per trial, then a summary")
    sw.set_defaults(func=cmd_sweep)
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

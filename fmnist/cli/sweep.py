"""`python -m fmnist sweep`: a hyper-parameter search on Optuna from a terminal; several processes can share one
study."""

from __future__ import annotations

import shlex
import sys

from fmnist.cli.common import UsageError, add_config_args, config_from_args, emit


def cmd_sweep(args) -> int:
    from fmnist.sweep import space
    from fmnist.sweep import study as sweep

    try:
        return _run_sweep(args, sweep)
    except space.SweepError as exc:
        raise UsageError(str(exc)) from None


def _run_sweep(args, sweep) -> int:
    import signal

    from fmnist.data.dataset import load_dataset
    from fmnist.sweep import space

    name = sweep.check_study_name(args.study)
    space.check_trials(args.trials)
    base = space.base_config(config_from_args(args), val_size=args.val_size)
    params = space.parse_params(args.param, base)
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
        emit(args, out.as_dict(), f"Trial {out.trial} {out.state}{why}  {values}  {acc}{test}  "
                                   f"[{out.elapsed_s:.1f} s]")
    result = {"summary": True, "stopped": runner.stopping, **sweep.summary(study, store)}
    best = result["best"]
    text = (f"Best: trial {best['trial']} val acc {best['val_acc']:.2f}% ({best['params']})" if best
            else "No trial has completed yet")
    emit(args, result, ("Stopped; the interrupted trial is queued again: run the same command to resume. "
                         if runner.stopping else "") + text + f". Study trials: {result['trials']}")
    return 130 if runner.stopping else 0


def add_parser(sub) -> None:
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

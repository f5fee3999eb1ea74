"""`python -m fmnist train`: a run from a preset and flags, its progress, epochs and warnings as lines, and its
checkpoint; `--recover FILE` goes on with an interrupted run."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

from fmnist.cli.common import UsageError, add_config_args, config_from_args, emit
from fmnist.config import TrainConfig
from fmnist.training.events import DoneEvent, EpochEvent, FailedEvent, NoteEvent, StepEvent


def recovery_file(args, config: TrainConfig, folder: Path):
    """The run's recovery file: the one given to --recover (which it goes on writing), else a new one in `folder`."""
    from fmnist.store import recovery

    if args.recover:
        return recovery.RecoveryFile(Path(args.recover), continuing=True)
    return recovery.RecoveryFile(recovery.new_path(folder, config))


def config_to_recover(args) -> TrainConfig:
    from fmnist.store import recovery

    given = [f.name for f in dataclasses.fields(TrainConfig)
             if f.name != "preset" and getattr(args, f.name, None) is not None]
    if given:
        raise UsageError(f"--recover continues a run with its own settings; leave out --{given[0].replace('_', '-')}")
    try:
        return recovery.read_config(Path(args.recover))
    except recovery.RecoveryError as exc:
        raise UsageError(str(exc)) from None


def _print_epoch(args, ev) -> None:
    line = {k: getattr(ev, k) for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
    line["elapsed_s"] = round(ev.elapsed_s, 3)
    line.update(health=ev.health, warnings=ev.warnings)
    if ev.val_acc is not None:
        line.update(val_loss=ev.val_loss, val_acc=ev.val_acc)
    if ev.train_eval_acc is not None:
        line.update(train_eval_loss=ev.train_eval_loss, train_eval_acc=ev.train_eval_acc)
    val = f"  val acc {ev.val_acc:.2f}%" if ev.val_acc is not None else ""
    evals = f" (eval mode {ev.train_eval_acc:.2f}%)" if ev.train_eval_acc is not None else ""
    emit(args, line, f"Epoch {ev.epoch:>2}/{ev.epochs}  train loss {ev.train_loss:.4f}  "
                      f"train acc {ev.train_acc:.2f}%{evals}{val}  test loss {ev.test_loss:.4f}  "
                      f"test acc {ev.test_acc:.2f}%  [{ev.elapsed_s:.1f} s]")
    if not args.json:
        for warning in ev.warnings:
            print(f"  warning: {warning}", flush=True)


def _save_result(args, r, command: str, store, out: Path | None) -> str:
    from fmnist.store import checkpoints

    meta = checkpoints.run_meta(r, command, owner=checkpoints.MACHINE_OWNER)
    if out is None:
        path = store.save_new(store.unique_name(r.config, r.test_acc), r.model, meta)
    else:
        path = checkpoints.save(out, r.model, {**meta, "name": out.name.removesuffix(checkpoints.SUFFIX)})
    emit(args, {"summary": True, "test_acc": r.test_acc, "test_loss": r.test_loss,
                 "epochs": len(r.history), "elapsed_s": round(r.elapsed_s, 3), "device": r.device,
                 "checkpoint": str(path)},
          f"Test accuracy {r.test_acc:.2f}% after {len(r.history)} epochs in {r.elapsed_s:.1f} s "
          f"on {r.device}. Saved {path}")
    return path.name.removesuffix(checkpoints.SUFFIX)


def cmd_train(args) -> int:
    from fmnist.cli import progress
    from fmnist.store import recovery

    config, challenge, name, device = _checked_run(args)
    store, out = _store_and_out(args)
    rec = recovery_file(args, config, out.parent if out else store.root)
    command = "python -m fmnist " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if not args.json:
        print(f"Training {config.describe()} on {config.device}", flush=True)
    epoch = recovery.read(rec.path, tensors=False)[0].get("epoch", 0) if args.recover else 0  # the last completed
    if args.recover:
        print(f"Recovering {rec.path.name} after epoch {epoch} of {config.epochs}", file=sys.stderr, flush=True)
    print(f"Recovery file: {rec.path} (if this run is interrupted: python -m fmnist train --recover "
          f"{shlex.quote(str(rec.path))})", file=sys.stderr, flush=True)
    bar = progress.epoch_bar(sys.stdout, config, args.json)
    run = _Run(args, config, challenge, name, command, store, out)
    try:
        for ev in progress.drawn(bar, run.events(rec, progress.log_every(bar, device))):
            epoch = run.take(ev, epoch)
            if run.failed:
                return 1
    except KeyboardInterrupt:
        if epoch is None:
            raise
        _interrupted(args, config, epoch, rec.path)
        return 130
    return 0


def _checked_run(args):
    """The run's config, its challenge (refused here, before any training, when it breaks a limit) and its device;
    UsageError (exit 2) for what cannot run."""
    from fmnist.cli import challenge as class_challenge
    from fmnist.model.devices import DeviceError, resolve_device
    from fmnist.training.memory import memory_problem
    from fmnist.training.recipe import bf16_problem

    config = config_to_recover(args) if args.recover else config_from_args(args)
    challenge = name = None
    if args.challenge:
        config, challenge, name = class_challenge.prepare_run(args, config)
    elif args.name:
        raise UsageError("--name is the name on a challenge's board: give --challenge ID too")
    try:
        device = resolve_device(config.device)
        if args.precision == "bf16" and bf16_problem(device):  # asked for; a preset's bf16 falls back to fp32
            raise DeviceError(bf16_problem(device))
    except DeviceError as exc:
        raise UsageError(str(exc)) from None
    problem = memory_problem(config, dataset_loaded=False, device_type=device.type)
    if problem:
        raise UsageError(problem)
    return config, challenge, name, device


def _store_and_out(args):
    from fmnist.store import checkpoints

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != checkpoints.SUFFIX:
        raise UsageError(f"--out must end in {checkpoints.SUFFIX}")
    return checkpoints.CheckpointStore(), out


class _Run:
    """The trainer's events as the CLI prints them; a challenge's run is stopped past its seconds and entered at the
    end."""

    def __init__(self, args, config: TrainConfig, challenge, name, command: str, store, out: Path | None):
        from fmnist.training.control import RunControl

        self.args, self.config, self.challenge, self.name = args, config, challenge, name
        self.command, self.store, self.out = command, store, out
        self.control, self.late, self.failed = RunControl(), False, False
        if challenge is not None:  # imported once, and only for a challenge's run (SQLAlchemy is not light)
            from fmnist.challenge.limits import over_time
            from fmnist.cli import challenge as class_challenge

            self.over_time, self.enter_run = over_time, class_challenge.enter_run

    def events(self, rec, log_every: int):
        from fmnist.training.loop import train

        return train(self.config, control=self.control, log_every=log_every, recovery=rec)

    def take(self, ev, epoch: int | None) -> int | None:
        """Prints one event; returns the last completed epoch (None once trained: an interrupt from then on is the
        save's, and fmnist.cli.main says so)."""
        args, challenge = self.args, self.challenge
        if challenge is not None and isinstance(ev, (StepEvent, EpochEvent)) and not self.late \
                and self.over_time(challenge.limits, ev.elapsed_s):
            self.late = True  # past the challenge's seconds: stopped, and listed apart
            print(f"Stopping: challenge {challenge.id} allows {challenge.limits.max_seconds:g} s of training",
                  file=sys.stderr, flush=True)
            self.control.stop()
        match ev:
            case NoteEvent(message=message):
                print(message, file=sys.stderr, flush=True)
            case EpochEvent():
                _print_epoch(args, ev)
                return ev.epoch
            case FailedEvent(reason=reason, epoch=failed_at):
                emit(args, {"error": reason, "epoch": failed_at}, f"Training failed: {reason}")
                self.failed = True
            case DoneEvent(result=result):
                saved = _save_result(args, result, self.command, self.store, self.out)
                if challenge is not None:
                    self.enter_run(args, challenge, self.name, result, self.late, saved)
                return None
        return epoch


def _interrupted(args, config: TrainConfig, epoch: int, recover: Path) -> None:
    """Ctrl-C while training: no checkpoint is written, --out's file (often the shipped default) included, so a
    half-trained model never replaces one by surprise. Before the first epoch ended nothing is kept at all; after it,
    the recovery file holds the last completed epoch and --recover finishes the run as if it had never stopped."""
    if not epoch:
        emit(args, {"interrupted": True, "epochs": 0, "checkpoint": None, "recover": None},
             "Interrupted before the first epoch ended: the run is discarded, no checkpoint written.")
        return
    if not recover.is_file():  # its write failed (and the run said so)
        emit(args, {"interrupted": True, "epochs": epoch, "checkpoint": None, "recover": None},
             f"Interrupted after epoch {epoch} of {config.epochs}: no checkpoint written, and no recovery file to "
             "finish the run from.")
        return
    emit(args, {"interrupted": True, "epochs": epoch, "checkpoint": None, "recover": str(recover)},
         f"Interrupted after epoch {epoch} of {config.epochs}: no checkpoint written. To finish the run: "
         f"python -m fmnist train --recover {shlex.quote(str(recover))}")


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model and save a checkpoint")
    add_config_args(t)
    t.add_argument("--out", help="checkpoint path (default: a unique name in checkpoints/)")
    t.add_argument("--recover", "--resume", dest="recover", metavar="FILE",
                   help="continue an interrupted run from its recovery file "
                   "(checkpoints/.resume/*.safetensors, printed when the run started) to its planned epochs")
    t.add_argument("--challenge", metavar="ID", help="enter the run on a class challenge's board (refused before "
                   "training, exit 2, when it breaks one of the challenge's limits)")
    t.add_argument("--name", help="your name on the challenge's board (at most 32 characters)")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.set_defaults(func=cmd_train)

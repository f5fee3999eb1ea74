"""One training run in a process of its own, started by the app's server (fmnist.runs.jobs) as
`python -m fmnist.runs.worker IN_FD OUT_FD`.

A crash here (a native fault, an out-of-memory kill, a poisoned CUDA context) costs this run and nothing else.
The process imports torch and warms it up before it is given a run, so a waiting spare starts training at once.

The protocol is plain data (dicts of numbers, strings, lists and numpy arrays), pickled by
multiprocessing.connection over two pipes:

    worker -> server   {"kind": "ready", "devices": {...}} once warmed up; for the run: {"kind": "started"}, then
                       the trainer's events as dicts (step, epoch, note, failed) and one {"kind": "done", ...}
                       after the checkpoint is saved (or could not be).
    server -> worker   {"op": "start", "job": {...}} once; then pause, resume, step (one batch while paused), stop,
                       {"op": "lr", "scale": x} and {"op": "threads", "n": k} at any time.

Before its start message a waiting spare also answers the pages' inference requests ({"op": "infer", ...}: the test
set's predictions, one image's probabilities, saliency or feature maps, one item of the shift and rotation test),
described in fmnist/runs/answers.py.

A worker runs one job and exits, which hands its memory back to the OS. When the server goes away its end of the
pipes closes, and the worker exits at once: no training process outlives the server.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from fmnist import env
from fmnist.messages import N_
from fmnist.runs.messages import RunSaved, RunStarted


def niceness() -> int:
    """Below the server, which must keep answering while runs train: FMNIST_WORKER_NICE, default 5."""
    try:
        return int(env.number("FMNIST_WORKER_NICE", 5, int))
    except ValueError:
        return 5


def lower_priority(nice: int) -> None:
    """A session of its own, so a scheduling group of its own (Linux's autogroup), at `nice` below the server.

    In the server's autogroup a worker was weighed against every other group (the users' browsers, anything else)
    with only its share of that group's load: at nice 10 beside a busy server it got about a tenth of a core wherever
    a browser was drawing, and the browser tests' runs crawled. In a group of its own the worker competes with the
    server's group and the browsers' groups by the group's nice alone. Where autogroups are off, the task's own nice
    does the same job. Ctrl-C in the server's terminal no longer reaches the worker: the server ends it by closing
    the pipes."""
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass  # no autogroups here (or not Linux)
    try:
        os.nice(nice)
    except OSError:
        pass


def main(argv: list[str]) -> None:
    inbox, outbox = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    process_name("fmnist-spare")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is the server's to do (it closes the pipes)
    # A spare is terminated at the server's exit, maybe mid-import or mid-way through writing the dataset's cache:
    # SystemExit lets that write remove its temporary file. A run's worker gets the default back (below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lower_priority(niceness())
    import torch

    from fmnist.data.dataset import device_tensors
    from fmnist.model import devices
    from fmnist.training.loop import warm_up

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    warm_up()
    try:
        device_tensors(None, "cpu")  # map the shared normalised dataset now, not after Start
    except Exception:  # noqa: BLE001 - a missing dataset is the run's to report, with its message
        pass
    outbox.send({"kind": "ready", "devices": devices.available(), "pid": os.getpid()})
    message = wait_for_run(inbox, outbox)
    if message.get("op") != "start":
        os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    process_name("fmnist-train")
    run(message["job"], inbox, outbox)
    outbox.close()
    os._exit(0)  # skip interpreter teardown: the results are sent, and a finished run should free its slot now


def wait_for_run(inbox: Connection, outbox: Connection) -> dict:
    """Answers the pages' inference requests (fmnist.runs.answers) until the server gives this spare a run; its
    start message."""
    from fmnist.runs import answers

    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            os._exit(0)  # the server went away before giving this spare a run
        if message.get("op") != "infer":
            answers.forget()
            return message
        outbox.send(answers.answer(message))


def run(job: dict, inbox: Connection, outbox: Connection) -> None:
    from fmnist.config import TrainConfig
    from fmnist.model.devices import DeviceError, device_label, resolve_device
    from fmnist.store import checkpoints, recovery
    from fmnist.training.control import RunControl
    from fmnist.training.events import DoneEvent, FailedEvent
    from fmnist.training.loop import train

    config = TrainConfig.from_dict(job["config"])
    control = RunControl()
    control.set_threads(job.get("threads"))
    if job.get("paused"):
        control.pause()
    threading.Thread(target=listen, args=(inbox, control), name="fmnist-control", daemon=True).start()
    try:
        device = device_label(resolve_device(config.device))
    except DeviceError:
        device = config.device  # train() fails the run with the reason
    outbox.send(RunStarted(device).to_message())
    entry = ChallengeEntry.of(job)
    if entry is not None:
        config, refused = entry.check(config)
        if refused:  # a crafted request (the page refuses such a run): not trained, listed apart with the reason
            outbox.send(FailedEvent(refused, 0, 0).to_message())
            return
    store = checkpoints.CheckpointStore(job["store"])
    rec = recovery.for_run(store, config, job["owner"], job.get("recover"))
    for ev in train(config, control=control, log_every=job.get("log_every", 25), insight=job.get("insight", False),
                    recovery=rec):
        if entry is not None:
            entry.watch(ev, control)
        match ev:
            case DoneEvent(result=result):
                saved = finish(result, job, checkpoints)
                if entry is not None:
                    saved.notes.append(entry.enter(result, saved.checkpoint))
                outbox.send(saved.to_message())
            case _:
                outbox.send(ev.to_message())


class ChallengeEntry:
    """A run of a class challenge (job["challenge"]: id, name, db): the worker, not the page, has the last word on
    its limits, stops it past the challenge's seconds and enters it on the board (fmnist.challenge)."""

    def __init__(self, spec: dict, owner: str):
        from fmnist.challenge import store

        self.id, self.name, self.owner = spec["id"], spec["name"], owner
        self.store = store(spec.get("db"))
        self.challenge = None
        self.late = False

    @classmethod
    def of(cls, job: dict) -> ChallengeEntry | None:
        spec = job.get("challenge")
        return cls(spec, job["owner"]) if spec else None

    def check(self, config):
        """The config with the challenge's split, and why it may not train (None: it may)."""
        from fmnist.challenge import ChallengeError, broken_limits, challenge_config
        from fmnist.challenge.store import CLOSED

        try:
            self.challenge = c = self.store.require(self.id)
        except ChallengeError as exc:
            return config, str(exc)
        config = challenge_config(c.limits, config)
        broken = broken_limits(c.limits, config)
        if not c.is_open():
            return config, CLOSED
        if broken:
            reason = "; ".join(map(str, broken))
            try:
                self.store.enter(c.id, self.name, self.owner, {"network": config.describe(),
                                                               "config": config.to_dict()}, broken=reason)
            except ChallengeError:
                pass
            return config, N_("broken limit: {reason}").format(reason=reason)
        return config, None

    def watch(self, ev, control) -> None:
        from fmnist.challenge.limits import over_time

        elapsed = getattr(ev, "elapsed_s", None)
        if elapsed is not None and not self.late and ev.kind in ("step", "epoch") \
                and over_time(self.challenge.limits, elapsed):
            self.late = True
            control.stop()

    def enter(self, result, checkpoint: str | None) -> str:
        """Enters the finished run; the note the page shows."""
        from fmnist.challenge import ChallengeError, entry_figures
        from fmnist.challenge.limits import OVER_TIME, STOPPED_EARLY

        figures = entry_figures(result.config, result.history, result.test_acc, result.elapsed_s, result.best_epoch)
        broken = None
        if self.late:
            broken = OVER_TIME.format(seconds=f"{result.elapsed_s:.0f}", max=f"{self.challenge.limits.max_seconds:g}")
        elif result.stopped:
            broken = STOPPED_EARLY
        try:
            e = self.store.enter(self.id, self.name, self.owner, figures, broken, checkpoint)
        except ChallengeError as exc:
            return N_("not entered on the challenge's board: {reason}").format(reason=exc)
        if broken:
            return N_("entered on the challenge's board, listed apart: {reason}").format(reason=broken)
        return N_("entered on the challenge's board: validation accuracy {accuracy}%").format(
            accuracy=f"{e.val_acc:.2f}")


def process_name(name: str) -> None:
    """What `ps` and `top` call this process (Linux): a spare waiting for a run, or a run training."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name)
    except OSError:
        pass


def discards(result) -> bool:
    """A run stopped before its first epoch ended is not kept: a few hundred steps of a run make a model nobody asked
    for (a Stop pressed 0.3 s after Start saved one at 21% test accuracy). A run resumed from a recovery file has its
    earlier epochs in its history, so it is kept."""
    return result.stopped and not result.history


def finish(result, job: dict, checkpoints) -> RunSaved:
    """Saves the run where the server asked, unless it is discarded; a failed save keeps every metric in the server's
    snapshot and says why."""
    out = RunSaved(result.test_acc, result.test_loss, result.device, result.stopped, result.best_epoch,
                   list(result.lr_changes), elapsed_s=result.elapsed_s)
    if discards(result):
        out.discarded = True
        return out
    store = checkpoints.CheckpointStore(job["store"])
    meta = checkpoints.run_meta(result, job.get("command", "the fmnist app's Train page"), **job.get("meta", {}))
    try:
        name = job.get("name") or store.unique_name(result.config, result.test_acc)
        quotas = job.get("quotas") or {}  # the server's
        if "error" in quotas:
            raise checkpoints.CheckpointError(quotas["error"])
        saved = checkpoints.save_run(store, name, result.model, meta, job["owner"],
                                     checkpoints.Quotas(**quotas) if quotas else None)
        out.checkpoint, out.notes = saved.path.name.removesuffix(checkpoints.SUFFIX), saved.notes
    except (checkpoints.CheckpointError, OSError) as exc:
        out.save_error = N_("{error}. The run's metrics are kept in this session.").format(error=exc)
    return out


def listen(inbox: Connection, control) -> None:
    """Turns the server's messages into the RunControl calls the trainer reads between steps."""
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            os._exit(0)  # the server is gone: nobody is left to save this run for
        op = message.get("op")
        if op == "pause":
            control.pause()
        elif op == "resume":
            control.resume()
        elif op == "stop":
            control.stop()
        elif op == "lr":
            control.set_lr_scale(message["scale"])
        elif op == "threads":
            control.set_threads(message["n"])
        elif op == "step":
            control.request_step()


if __name__ == "__main__":
    main(sys.argv[1:])

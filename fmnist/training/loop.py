"""The trainer: the whole dataset on the device, index-slice batches, metrics kept on the device until read.

`train()` is a generator of events; whoever iterates it (the CLI, the app's worker thread, a test) decides what
to do with them. A RunControl lets another thread pause, resume, stop or change the learning rate between steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fmnist.config import TrainConfig
from fmnist.data.dataset import Dataset, device_tensors
from fmnist.inspect import conv
from fmnist.inspect.evaluate import evaluate_logits, predict_logits
from fmnist.inspect.explain import first_layer_filters, hidden_features, pca_2d, starts_with_pixels
from fmnist.inspect.health import HealthTracker, histograms, network_insight
from fmnist.messages import N_
from fmnist.model.devices import device_label, resolve_device
from fmnist.model.mlp import MLP
from fmnist.training.control import RunControl
from fmnist.training.events import DoneEvent, EpochEvent, Event, FailedEvent, NoteEvent, StepEvent, TrainResult
from fmnist.training.memory import is_out_of_memory, out_of_memory
from fmnist.training.notebook import loader_order, notebook_eval_draws, seeded_init, train_eval_score
from fmnist.training.recipe import WeightAverage, bf16_problem, lr_at, make_optimizer, set_lr, split_validation
from fmnist.training.step import Step
from fmnist.training.step_detail import after_step, before_step


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, list[float]]:
    ev = evaluate_logits(predict_logits(model, x), y, with_predictions=False)
    return ev.loss, ev.accuracy, ev.class_accuracy


INSIGHT_IMAGES = 2000  # test images projected each epoch: enough to see the classes, cheap on a CPU


def _insight(model: nn.Module, x_test: torch.Tensor, previous: np.ndarray | None, y_test: torch.Tensor,
             blocks: list[dict] | None = None) -> dict:
    """The epoch's look inside. The first-layer images describe an MLP, whose first layer sees the 784 pixels: a
    network with convolution blocks has None there and its kernels and feature maps under "conv" instead; its
    diagram's blocks are `blocks` when the health tracker has just measured them on this model."""
    mlp = starts_with_pixels(model)
    filters = first_layer_filters(model)[1] if mlp else None
    projection = pca_2d(hidden_features(model, x_test[:INSIGHT_IMAGES]), previous)
    out = {"filters": filters, "projection": projection, "histograms": histograms(model),
           "network": network_insight(model, x_test, y_test, blocks)}
    if not mlp:
        out["conv"] = conv.views(model, x_test[:INSIGHT_IMAGES], y_test[:INSIGHT_IMAGES])
    model.train()
    return out


def warm_up(device: str = "cpu") -> None:
    """Pays PyTorch's one-off costs (the optimizers' lazy imports take seconds, the first matmuls of each shape
    pick their kernels) before anyone presses Start, with one step of the seed preset's model."""
    model = MLP(TrainConfig()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.zeros(64, 784, device=device), torch.zeros(64, dtype=torch.long, device=device)
    F.cross_entropy(model(x), y).backward()
    opt.step()


@dataclass
class RunStart:
    """Where a run starts: nothing done yet, or the last completed epoch of an interrupted run."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    lr_scale: float = 1.0
    lr_changes: list[dict] = field(default_factory=list)
    best: tuple = (-1.0, None, None)  # (val acc, epoch, weights)
    elapsed_s: float = 0.0


class _Run:
    """One run's state and its named steps: set_up(), then per epoch steps() and end_of_epoch(), then finish().
    train() drives them; each yields the events it produces."""

    def __init__(self, config: TrainConfig, dataset: Dataset | None, control: RunControl, log_every: int,
                 cuda_graph: bool, insight: bool, recovery):
        self.config, self.dataset, self.control, self.log_every = config, dataset, control, log_every
        self.cuda_graph, self.insight, self.recovery = cuda_graph, insight, recovery
        self.history: list[dict] = []
        self.epoch = self.step = 0
        self.diverged = False

    def set_up(self) -> Iterator[Event]:
        """The data on the device, the model drawn from the seed, optimizer and step (captured on CUDA), and an
        interrupted run's last epoch put back."""
        config = self.config
        self.device = device = resolve_device(config.device)
        if config.precision == "bf16" and bf16_problem(device):  # a preset's bf16 on a machine without it
            yield NoteEvent(N_("training in fp32: {reason}").format(reason=bf16_problem(device)))
            self.config = config = config.replace(precision="fp32")
        self.x_all, self.y_all, self.x_test, self.y_test = device_tensors(self.dataset, device)
        # Batches are index lists into the whole training set, shared by every session: the hold-out only leaves
        # its rows out, and a run never copies the training images (188 MB as float32).
        if config.val_size:
            split_seed = config.seed if config.val_seed is None else config.val_seed  # a challenge fixes its own
            self.rows, va = (t.to(device) for t in split_validation(self.x_all.shape[0], config.val_size, split_seed))
            self.x_val, self.y_val = self.x_all[va], self.y_all[va]
        else:
            self.rows, self.x_val, self.y_val = None, None, None
        model, self.rng = seeded_init(config)
        self.model = model = model.to(device)
        if config.conv:  # convolutions run faster on channels-last maps (fp32 and bf16 alike, docs/benchmarks.md)
            model.to(memory_format=torch.channels_last)
        model.train()
        use_graph = self.cuda_graph and device.type == "cuda"
        self.opt = make_optimizer(config, model, device, capturable=use_graph)
        self.stepper = Step(model, self.opt, config, self.x_all, self.y_all, device)
        if use_graph and (note := self.stepper.try_capture(config.batch_size)):
            self.opt = self.stepper.opt  # the eager fallback's optimizer, rebuilt without capturable
            yield NoteEvent(note)
        try:
            r = self.recovery.restore(config, model, self.opt, self.rng, self.stepper.rng) if self.recovery \
                else RunStart()
        except OSError as exc:
            if self.recovery.continuing:
                raise  # the run to go on with cannot be read: that run fails, with the reason
            # A new run whose resume file cannot be made (a read-only or full folder): it trains all the same, and
            # its save at the end will say the same of the checkpoint.
            yield NoteEvent(f"{exc.strerror or exc} ({exc.filename}): this run could not be resumed after a crash")
            self.recovery, r = None, RunStart()
        self.history.extend(r.history)
        self.step, self.first_epoch = r.step, r.epoch + 1
        self.average = WeightAverage(model, config.ema) if config.ema else None  # after a resume: from its weights
        self.scored = self.average.model if self.average else model  # what is evaluated, kept and returned
        self._count_steps()
        self.lr_scale, self.lr_changes, self.best = r.lr_scale, r.lr_changes, r.best  # best: (val acc, epoch, weights)
        self.lr = lr_at(0, self.total, config.lr, config.schedule)
        self.start = time.perf_counter() - r.elapsed_s
        self.paused = 0.0  # seconds spent paused so far: left out of elapsed time and throughput
        self.mark = (time.perf_counter(), self.step, 0.0)  # time, step and paused seconds at the previous StepEvent
        self.ep_loss = torch.zeros((), device=device)
        self.ep_correct = torch.zeros((), dtype=torch.long, device=device)
        self.ep_seen = 0
        self.previous_projection = None
        self.tracker = HealthTracker(model, self.x_test, self.steps_per_epoch, y_probe=self.y_test)

    def _count_steps(self) -> None:
        config = self.config
        self.n = n = self.x_all.shape[0] if self.rows is None else self.rows.shape[0]
        bs = config.batch_size
        self.steps_per_epoch = n // bs if config.drop_last else math.ceil(n / bs)
        if config.batch_norm and n % bs == 1:
            self.steps_per_epoch -= 1  # batch norm cannot train on a batch of one image
        self.total = self.steps_per_epoch * config.epochs

    def end_recovery(self) -> None:
        """The run ended as its user wanted (done, stopped or diverged): nothing is left to recover."""
        if self.recovery is not None:
            self.recovery.finish()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def steps(self) -> Iterator[Event]:
        """One epoch's steps in the notebook's shuffled order, publishing the loss every log_every steps."""
        config, control, bs = self.config, self.control, self.config.batch_size
        perm = loader_order(self.rng, self.n).to(self.device)
        if self.rows is not None:
            perm = self.rows[perm]
        for i in range(self.steps_per_epoch):
            if control.paused and self.step > self.mark[1]:
                yield self._log_point()  # where a paused run stands, not the last multiple of log_every
                if self.diverged:
                    return
            self.paused += control.between_steps()
            if control.stopped:
                return
            scale = control.take_lr_scale()
            if scale is not None:
                self.lr_scale = scale
                self.lr_changes.append({"step": self.step, "epoch": self.epoch, "scale": scale})
            self.lr = lr_at(self.step, self.total, config.lr, config.schedule) * self.lr_scale
            set_lr(self.opt, self.lr)
            batch = perm[i * bs:(i + 1) * bs]
            single = control.take_single_step()  # Step while paused: its batch is shown before and after
            single = single and before_step(self.model, self.x_all, self.y_all, batch)
            self.tracker.before(i)
            self.stepper(batch)
            if self.average:
                self.average.update()
            self.tracker.after(i)
            self.step += 1
            # Step 1 is published at once, so a chart has its first point as soon as training is under way.
            if self.step % self.log_every == 0 or self.step == 1 or i == self.steps_per_epoch - 1 or single:
                yield self._log_point()
                if self.diverged:
                    return
            if single:
                detail = after_step(single, self.model, self.step, self.epoch)
                if self.insight and config.conv:  # the Filters and Feature maps tabs redraw after a Step too
                    detail.conv = conv.views(self.model, self.x_test[:INSIGHT_IMAGES], self.y_test[:INSIGHT_IMAGES])
                yield detail

    def _log_point(self) -> StepEvent | FailedEvent:
        loss_sum, correct, seen = self.stepper.take()
        self.ep_loss += loss_sum
        self.ep_correct += correct
        self.ep_seen += seen
        mean_loss = loss_sum.item() / seen  # the one sync per log interval
        if not math.isfinite(mean_loss):
            self.diverged = True
            message = N_("the loss became {loss} at epoch {epoch}, step {step}: training diverged. Try a lower "
                         "learning rate (or batch norm).")
            return FailedEvent(message.format(loss=mean_loss, epoch=self.epoch, step=self.step), self.epoch, self.step)
        now = time.perf_counter()
        active = now - self.mark[0] - (self.paused - self.mark[2])
        ev = StepEvent(self.epoch, self.step, self.total, mean_loss, self.lr,
                       (self.step - self.mark[1]) * self.config.batch_size / max(active, 1e-9), now - self.start
                       - self.paused)
        self.mark = (now, self.step, self.paused)
        return ev

    def end_of_epoch(self) -> Iterator[Event]:
        """Scores the epoch (test, validation, the notebook's training pass), keeps the best epoch, measures the
        layers' health and the insight, saves the recovery file and publishes the EpochEvent."""
        config, scored, epoch = self.config, self.scored, self.epoch
        train_eval = train_eval_score(config, scored, self.x_all, self.y_all, self.rows,
                                      notebook_eval_draws(self.rng, self.n))
        test_loss, test_acc, class_acc = _evaluate(scored, self.x_test, self.y_test)
        val_loss = val_acc = None
        if self.x_val is not None:
            val_loss, val_acc, _ = _evaluate(scored, self.x_val, self.y_val)
            if val_acc > self.best[0]:
                weights = {k: v.clone() for k, v in scored.state_dict().items()} if config.keep_best else None
                self.best = (val_acc, epoch, weights)
        lr_share = lr_at(self.step - 1, self.total, config.lr, config.schedule) / config.lr
        health, warnings = self.tracker.epoch_end(lr_share)
        blocks = self.tracker.blocks if scored is self.model else None  # EMA's average is another model
        extra = _insight(scored, self.x_test, self.previous_projection, self.y_test, blocks) if self.insight else None
        self.previous_projection = extra["projection"] if extra else None
        ev = EpochEvent(epoch, config.epochs, self.ep_loss.item() / self.ep_seen,
                        100.0 * self.ep_correct.item() / self.ep_seen, test_loss, test_acc, class_acc, val_loss,
                        val_acc, self.lr, self.elapsed, extra, *train_eval, health=health, warnings=warnings)
        self.ep_loss.zero_()
        self.ep_correct.zero_()
        self.ep_seen = 0
        self.history.append(ev.as_dict())
        note = self.recovery and self.recovery.save(config, self.model, self.opt, (self.rng, self.stepper.rng),
                                                    self.history, self.step, self.lr_scale, self.lr_changes,
                                                    self.best, self.elapsed)
        if note:
            yield NoteEvent(note)
        yield ev

    def finish(self) -> DoneEvent:
        """The best epoch's weights when asked (chosen on validation accuracy, never on the test set), scored once."""
        scored = self.scored
        if self.config.keep_best and self.best[2] is not None:
            scored.load_state_dict(self.best[2])
        self.stepper.release()
        test_loss, test_acc, _ = _evaluate(scored, self.x_test, self.y_test)
        scored.eval()
        self.end_recovery()
        return DoneEvent(TrainResult(self.config, scored, self.history, test_acc, test_loss, self.elapsed,
                                     device_label(self.device), self.control.stopped, self.best[1],
                                     lr_changes=self.lr_changes))


def train(config: TrainConfig, dataset: Dataset | None = None, control: RunControl | None = None,
          log_every: int = 25, cuda_graph: bool = True, insight: bool = False, recovery=None) -> Iterator[Event]:
    """Trains per `config`, yielding events. Never raises for a failed run: it yields FailedEvent instead.
    With `recovery` (a fmnist.store.recovery.RecoveryFile), each completed epoch is kept in that file, and a run already
    in it goes on from there."""
    run = _Run(config.validated(), dataset, control or RunControl(), log_every, cuda_graph, insight, recovery)
    try:
        yield from run.set_up()
        for epoch in range(run.first_epoch, run.config.epochs + 1):
            run.epoch = epoch
            yield from run.steps()
            if run.diverged:
                run.end_recovery()  # a diverged run is over, not interrupted
                return
            if run.control.stopped:
                break
            yield from run.end_of_epoch()
        yield run.finish()
    except torch.cuda.OutOfMemoryError:
        yield FailedEvent(N_("the GPU ran out of memory: try a smaller batch or fewer/narrower layers, or train on the "
                             "CPU"), run.epoch, run.step)
    except Exception as exc:  # the worker must report, not die silently; the recovery file keeps the last epoch
        reason = out_of_memory(run.config, run.epoch) if is_out_of_memory(exc) else f"{type(exc).__name__}: {exc}"
        yield FailedEvent(reason, run.epoch, run.step)
    finally:
        if run.recovery is not None:
            run.recovery.release()  # an unfinished run's file stays, free to be recovered

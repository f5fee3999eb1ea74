"""One optimisation step, its metrics kept on the device; on CUDA the whole step is captured once as a CUDA graph and
replayed."""

from __future__ import annotations

import threading
import warnings

import torch
from torch.nn import functional as F

from fmnist.config import TrainConfig
from fmnist.messages import N_
from fmnist.training.recipe import autocast, make_optimizer, shift_batch, warp_batch

# CUDA-graph capture is process-wide state (PyTorch allows one capture underway at a time in a process), so runs
# started together in one process (the CLI's, the tests', threads in one server) capture one after another.
_CAPTURE_LOCK = threading.Lock()
WARMUP_STEPS = 3  # eager steps before a capture, as PyTorch's CUDA-graph guide does, on a side stream


class Step:
    """One optimisation step with its metrics accumulated on the device; on CUDA the whole step (gather,
    augmentation, forward, backward, optimizer) is replayed from a CUDA graph."""

    def __init__(self, model, opt, config: TrainConfig, x: torch.Tensor, y: torch.Tensor, device):
        self.model, self.opt, self.config, self.x, self.y = model, opt, config, x, y
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.seen = 0
        self.graph = None
        self.static_idx = None
        # Shifts, mirrors and warps draw from a generator of the run's own: another run's draws cannot move them, a
        # capture can put it back exactly as it was, and the resume file keeps it (dropout, which takes no generator,
        # uses the device's default one).
        self.rng = (torch.Generator(device=x.device).manual_seed(config.seed)
                    if config.augment or config.flip or config.warp else None)

    def _body(self, idx: torch.Tensor, zero: str = "none") -> None:
        # Gradients: freed before an eager step; zeroed in place around a graph (whose captured backward writes
        # into fixed tensors); neither inside the capture itself, where backward assigns fresh ones.
        if zero == "none":
            self.opt.zero_grad(set_to_none=True)
        elif zero == "inplace":
            self.opt.zero_grad(set_to_none=False)
        xb = self.x.index_select(0, idx)
        yb = self.y.index_select(0, idx)
        if self.config.augment or self.config.flip:
            xb = shift_batch(xb, 2 if self.config.augment else 0, generator=self.rng, flip=self.config.flip)
        if self.config.warp:
            xb = warp_batch(xb, generator=self.rng)
        with autocast(self.config, self.x.device):
            logits = self.model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=self.config.label_smoothing)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.loss_sum.add_(loss.detach() * idx.shape[0])
            self.correct.add_((logits.argmax(1) == yb).sum())

    def try_capture(self, batch_size: int) -> str | None:
        """Records the step as a CUDA graph for a fixed batch size. Returns None, or, when the capture fails, a
        note for the user: the step then trains eagerly, from exactly the state it started in."""
        try:
            with _CAPTURE_LOCK:
                self._capture(batch_size)
        except Exception as exc:  # any capture failure leaves eager mode as a correct fallback
            self._fall_back()
            return N_("CUDA graph capture failed ({error}); training eagerly").format(
                error=f"{type(exc).__name__}: {exc}")
        return None

    def _capture(self, batch_size: int) -> None:
        # Warm-up steps change the weights, batch-norm statistics, optimizer state, running sums and random
        # streams: all are put back afterwards, whether the capture worked or not.
        saved = self._snapshot()
        self.static_idx = torch.arange(batch_size, device=self.x.device)
        try:
            self.graph = self._record(self.static_idx)
        finally:
            self._restore(saved)

    def _record(self, idx: torch.Tensor) -> torch.cuda.CUDAGraph:
        """Warm-up and capture on a stream of this capture's own. The explicit stream context puts the thread back
        on its own stream even when capture_end() raises (torch.cuda.graph then skips its stream exit)."""
        stream = torch.cuda.Stream(self.x.device)
        stream.wait_stream(torch.cuda.current_stream(self.x.device))
        with torch.cuda.stream(stream):
            self._warm_up(idx)
            graph = torch.cuda.CUDAGraph()
            if self.rng is not None:
                graph.register_generator_state(self.rng)  # a private generator must be registered before capture
            self.opt.zero_grad(set_to_none=True)
            # thread_local: another thread's eager CUDA work does not break this capture, nor this capture it.
            with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
                self._body(idx, zero="skip")
        torch.cuda.current_stream(self.x.device).wait_stream(stream)
        return graph

    def _warm_up(self, idx: torch.Tensor) -> None:
        # A capturable optimizer warns when it steps outside a capture: these steps are meant to.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            for _ in range(WARMUP_STEPS):
                self._body(idx)

    def _generators(self) -> list[torch.Generator]:
        device = self.x.device
        if device.type == "cuda":
            default = torch.cuda.default_generators[device.index if device.index is not None
                                                    else torch.cuda.current_device()]
        else:
            default = torch.default_generator
        return [g for g in (default, self.rng) if g is not None]

    def _snapshot(self) -> tuple[list[torch.Tensor], list[tuple[torch.Generator, torch.Tensor]]]:
        return ([t.detach().clone() for t in self._state_tensors()],
                [(g, g.get_state()) for g in self._generators()])

    def _restore(self, saved) -> None:
        if self.x.device.type == "cuda":
            torch.cuda.synchronize(self.x.device)  # the warm-up's work may still be queued on the side stream
        tensors, rng_states = saved
        current = self._state_tensors()
        with torch.no_grad():
            for t, s in zip(current, tensors):
                t.copy_(s)
            # Optimizer state (moments, momentum buffers, step counts) was created by the warm-up: a zeroed state
            # is exactly what a fresh optimizer would have started from.
            for t in current[len(tensors):]:
                t.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()
        self.seen = 0
        # Reseeded: the first replay draws the dropout masks and shifts the first eager step would have drawn.
        for g, state in rng_states:
            g.set_state(state)

    def _fall_back(self) -> None:
        self.release()
        # capturable=True keeps the slow path (and warns) outside a graph: an eager optimizer of the same settings.
        self.opt = make_optimizer(self.config, self.model, self.x.device)

    def release(self) -> None:
        """Drops the graph and the gradients, which live in the graph's private memory pool: a finished run's model
        would otherwise hold that pool for as long as it is kept."""
        self.graph = None
        self.static_idx = None
        for p in self.model.parameters():
            p.grad = None

    def _state_tensors(self) -> list[torch.Tensor]:
        out = [t for t in self.model.state_dict().values()]
        for state in self.opt.state.values():
            out.extend(v for v in state.values() if isinstance(v, torch.Tensor))
        return out

    def __call__(self, idx: torch.Tensor) -> None:
        if self.graph is not None and idx.shape[0] == self.static_idx.shape[0]:
            self.static_idx.copy_(idx)
            self.graph.replay()
        else:
            self._body(idx, zero="none" if self.graph is None else "inplace")
        self.seen += idx.shape[0]

    def take(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Returns and resets the running sums (still on the device: the caller decides when to sync)."""
        out = (self.loss_sum.clone(), self.correct.clone(), self.seen)
        self.loss_sum.zero_()
        self.correct.zero_()
        self.seen = 0
        return out

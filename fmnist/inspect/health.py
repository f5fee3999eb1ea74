"""Layer health: is each hidden layer alive, saturated, learning too fast or not at all?

Measured in the run, on its device: activations on a fixed probe batch of test images, the weight gradients and the
weights' actual change over the epoch's last steps (the change itself, so the figure holds for Adam too). The same
module describes single units for the unit inspector and the compact per-epoch picture the network diagram needs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from fmnist.inspect import conv
from fmnist.messages import N_

PROBE_IMAGES = 2000  # test images every figure is measured on: the same ones every epoch
WINDOW = 50  # last steps of an epoch whose gradients and updates are measured
SATURATED_SHARE = 0.95  # a unit is saturated when it is saturated on at least this share of the probe images
DEAD_WARN = SATURATED_WARN = 0.30
UPDATE_RANGE = (-5.0, -1.0)  # log10 update ratio outside this is too slow or too fast
VANISHING = 100.0  # first hidden layer's gradient norm this many times below the last one's
SHOWN = 16  # units a wide layer shows in the network diagram
TOP_IMAGES = 9
BINS = 30
HEALTH_KEYS = ("name", "dead", "saturated", "act_mean", "act_std", "grad_norm", "update_ratio", "weight_norm")
SATURATING = ("tanh", "sigmoid")


def hidden_layers(model: nn.Sequential) -> list[tuple[nn.Linear, int]]:
    """Each dense hidden layer's Linear and the index of its activation module in the Sequential (a convolution
    block's activation follows a Conv2d, not a Linear, and is not one of them)."""
    acts = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU)
    mods = list(model)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, acts):
            weights = next(mods[j] for j in range(i - 1, -1, -1) if isinstance(mods[j], (nn.Linear, nn.Conv2d)))
            if isinstance(weights, nn.Linear):
                out.append((weights, i))
    return out


def _activation_name(model: nn.Sequential) -> str:
    config = getattr(model, "config", None)
    if config is not None:
        return config.activation
    names = {nn.ReLU: "relu", nn.GELU: "gelu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.LeakyReLU: "leaky_relu"}
    return next(names[type(m)] for m in model if type(m) in names)


@torch.no_grad()
def probe_activations(model: nn.Sequential, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(pre-activation, activation) of every hidden layer on x, in eval mode (no dropout; batch norm's running
    statistics). The model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    out, h, pre = [], x, None
    acts = {i for _, i in hidden_layers(model)}
    for i, m in enumerate(model):
        if i in acts:
            pre = h
        h = m(h)
        if i in acts:
            out.append((pre.float(), h.float()))
    model.train(was_training)
    return out


def unit_states(pre: torch.Tensor, act: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per unit: dead (never fires on any probe image: its input to the activation is <= 0 on all, which for ReLU
    means activation 0) and the share of probe images on which it is saturated."""
    if activation in SATURATING:
        dead = torch.zeros(act.shape[1], dtype=torch.bool, device=act.device)
        sat = act.abs() > 0.97 if activation == "tanh" else (act < 0.03) | (act > 0.97)
        return dead, sat.float().mean(0)
    return (pre <= 0).all(0), torch.zeros(act.shape[1], device=act.device)


class HealthTracker:
    """Watches the last WINDOW steps of each epoch: before(i) keeps the weights, after(i) adds the gradient norms
    and the norms of the weights' change, both on the device (no sync); epoch_end() reads them once."""

    def __init__(self, model: nn.Sequential, x_probe: torch.Tensor, steps_per_epoch: int, window: int = WINDOW,
                 y_probe: torch.Tensor | None = None):
        self.model, self.x_probe = model, x_probe[:PROBE_IMAGES]
        # labels only sort the conv insight's per-class means, which the health itself does not use
        self.probe_labels = torch.zeros(len(self.x_probe), dtype=torch.long) if y_probe is None \
            else y_probe[:PROBE_IMAGES]
        self.first = max(0, steps_per_epoch - window)
        # A CNN's convolutions first, each block one row of the health like a hidden layer, then the dense layers.
        self.linears = [m for m in model if isinstance(m, nn.Conv2d)] + [lin for lin, _ in hidden_layers(model)]
        self.activation = _activation_name(model)
        self.blocks: list[dict] = []  # the last epoch's conv.conv_insight, which the run's insight reuses
        self._reset()

    def _reset(self) -> None:
        dev = self.x_probe.device
        self.grad_sum = torch.zeros(len(self.linears), device=dev)
        self.ratio_sum = torch.zeros(len(self.linears), device=dev)
        self.watched = 0
        self._before = None

    def before(self, i: int) -> None:
        if i >= self.first:
            self._before = [lin.weight.detach().clone() for lin in self.linears]

    def after(self, i: int) -> None:
        if i < self.first or self._before is None:
            return
        with torch.no_grad():
            for k, (lin, old) in enumerate(zip(self.linears, self._before)):
                w = lin.weight.detach()
                if lin.weight.grad is not None:
                    self.grad_sum[k] += lin.weight.grad.detach().float().norm()
                self.ratio_sum[k] += (w - old).float().norm() / w.float().norm().clamp_min(1e-12)
        self.watched += 1
        self._before = None

    def epoch_end(self, lr_share: float = 1.0) -> tuple[list[dict], list[str]]:
        """The epoch's figures and warnings; `lr_share` is the schedule's learning rate over the watched steps as a
        share of its peak."""
        n = max(self.watched, 1)
        grads = (self.grad_sum / n).tolist()
        ratios = (self.ratio_sum / n).tolist()
        watched = self.watched
        self._reset()
        rows = []
        if conv.spans(self.model):
            self.blocks = conv.conv_insight(self.model, self.x_probe, self.probe_labels)
            rows = conv.health_rows(self.blocks)
        for pre, act in probe_activations(self.model, self.x_probe):
            dead, sat = unit_states(pre, act, self.activation)
            saturated = float((sat >= SATURATED_SHARE).float().mean())
            rows.append({"name": f"hidden {len(rows) - len(self.blocks) + 1}", "dead": float(dead.float().mean()),
                         "saturated": saturated, "act_mean": float(act.mean()), "act_std": float(act.std())})
        for k, row in enumerate(rows):
            row.update(grad_norm=grads[k] if watched else None,
                       update_ratio=math.log10(ratios[k]) if watched and ratios[k] > 0 else None,
                       weight_norm=float(self.linears[k].weight.detach().float().norm()))
        return rows, warnings(rows, lr_share)


ANNEALED = 0.1  # below this share of its peak, a schedule's learning rate moves the weights little on purpose


def warnings(health: list[dict], lr_share: float = 1.0) -> list[str]:
    """Plain-language warnings, each with what to try, on the issue's thresholds. A small update ratio is not
    warned about while a schedule has brought the learning rate below ANNEALED of its peak (the last epochs of a
    one-cycle or cosine run): there "try a higher learning rate" would be wrong. A convolution block's row speaks of
    the block and its channels (conv.health_rows), a dense layer's of the layer and its units."""
    out = []
    for k, h in enumerate(health, start=1):
        name = h.get("name") or ""
        if name.startswith("conv "):
            out += _block_warnings(int(name.split()[-1]), h, lr_share)
        else:
            out += _layer_warnings(int(name.split()[-1]) if name.startswith("hidden ") else k, h, lr_share)
    first, last = health[0]["grad_norm"] if health else None, health[-1]["grad_norm"] if health else None
    if len(health) > 1 and first is not None and last and first < last / VANISHING:
        figures = {"first": f"{first:.1e}", "times": f"{last / max(first, 1e-30):,.0f}", "last": f"{last:.1e}"}
        if (health[0].get("name") or "").startswith("conv "):
            out.append(N_("vanishing gradients: block 1's gradient ({first}) is {times}x smaller than the deepest "
                          "layer's ({last}), so the first blocks hardly learn; try relu, batch norm, adam or fewer "
                          "blocks").format(**figures))
        else:
            out.append(N_("vanishing gradients: layer 1's gradient ({first}) is {times}x smaller than layer "
                          "{deepest}'s ({last}), so the first layers hardly learn; try relu, batch norm, adam or "
                          "fewer layers").format(deepest=len(health), **figures))
    return out


def _update_too_slow(r: float | None, lr_share: float) -> bool:
    return r is not None and r < UPDATE_RANGE[0] and lr_share >= ANNEALED


def _layer_warnings(k: int, h: dict, lr_share: float) -> list[str]:
    """A dense hidden layer's warnings, the layer named by its number among the hidden layers."""
    out = []
    if h["dead"] > DEAD_WARN:
        out.append(N_("layer {k}: {share} of its units never fire on the test images; try a lower learning rate, "
                      "batch norm or leaky_relu").format(k=k, share=f"{h['dead']:.0%}"))
    if h["saturated"] > SATURATED_WARN:
        out.append(N_("layer {k}: {share} of its units are saturated (stuck near their limits, where the gradient "
                      "vanishes); try a lower learning rate, batch norm or relu").format(
            k=k, share=f"{h['saturated']:.0%}"))
    r = h["update_ratio"]
    if r is not None and r > UPDATE_RANGE[1]:
        out.append(N_("layer {k}: each step changes its weights by 10^{ratio} of their size (healthy: near "
                      "10^-3); the learning rate is too high, try a lower one").format(k=k, ratio=f"{r:.1f}"))
    elif _update_too_slow(r, lr_share):
        out.append(N_("layer {k}: each step changes its weights by only 10^{ratio} of their size (healthy: near "
                      "10^-3); it barely learns, try a higher learning rate or adam").format(k=k, ratio=f"{r:.1f}"))
    return out


def _block_warnings(b: int, h: dict, lr_share: float) -> list[str]:
    """A convolution block's warnings: how many of its channels are dead or saturated, and its kernels' update."""
    out = []
    channels = int(h.get("channels") or 0)
    if h["dead"] > DEAD_WARN:
        out.append(N_("block {b}: {count} of {channels} channels are never positive on the probe images (dead); "
                      "try a lower learning rate, batch norm or leaky_relu").format(
            b=b, count=round(h["dead"] * channels), channels=channels))
    if h["saturated"] > SATURATED_WARN:
        out.append(N_("block {b}: {count} of {channels} channels are saturated (stuck near their limits, where the "
                      "gradient vanishes); try a lower learning rate, batch norm or relu").format(
            b=b, count=round(h["saturated"] * channels), channels=channels))
    r = h["update_ratio"]
    if r is not None and r > UPDATE_RANGE[1]:
        out.append(N_("block {b}: each step changes its kernels by 10^{ratio} of their size (healthy: near "
                      "10^-3); the learning rate is too high, try a lower one").format(b=b, ratio=f"{r:.1f}"))
    elif _update_too_slow(r, lr_share):
        out.append(N_("block {b}: each step changes its kernels by only 10^{ratio} of their size (healthy: near "
                      "10^-3); it barely learns, try a higher learning rate or adam").format(b=b, ratio=f"{r:.1f}"))
    return out


def layer_names(model: nn.Module) -> list[str]:
    """The names of the layers with weights, in order: "conv 1"... for a CNN's convolutions, then "hidden 1"...
    and "output"."""
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    dense = sum(isinstance(m, nn.Linear) for m in model.modules())
    return [f"conv {k}" for k in range(1, convs + 1)] + [f"hidden {k}" for k in range(1, dense)] + ["output"]


def histograms(model: nn.Module, bins: int = BINS) -> list[dict]:
    """Per convolution and Linear layer: its name, weight, bias and weight-gradient histograms ({"lo", "hi",
    "counts"}), small enough to keep one per epoch. The gradient is the last step's."""
    out = []
    weighted = (m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    for name, lin in zip(layer_names(model), weighted):
        row = {"name": name}
        for name, t in (("weight", lin.weight), ("bias", lin.bias), ("grad", lin.weight.grad)):
            row[name] = None if t is None else _histogram(t.detach().float(), bins)
        out.append(row)
    return out


def _histogram(t: torch.Tensor, bins: int) -> dict:
    lo, hi = float(t.min()), float(t.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * bins}
    if hi <= lo:
        hi = lo + 1e-12
    return {"lo": lo, "hi": hi, "counts": torch.histc(t, bins, lo, hi).long().tolist()}


def _shown(norms: torch.Tensor, k: int = SHOWN) -> torch.Tensor:
    """The k units with the largest outgoing weight norm, in their own order (all of them for a narrow layer)."""
    if norms.numel() <= k:
        return torch.arange(norms.numel())
    return torch.sort(torch.argsort(norms, descending=True)[:k]).values


@torch.no_grad()
def _features(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """What the first dense layer takes: a CNN's flattened (or globally pooled) last maps, in eval mode."""
    end = conv.spans(model)[-1].end
    head = next(i for i in range(end, len(model)) if isinstance(model[i], nn.Flatten))
    was_training = model.training
    model.eval()
    out = torch.cat([nn.Sequential(*list(model)[:head + 1])(x[i:i + conv.CHUNK]) for i in range(0, len(x),
                                                                                             conv.CHUNK)])
    model.train(was_training)
    return out


@torch.no_grad()
def network_insight(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, blocks: list[dict] | None = None) -> dict:
    """What the network diagram and the unit inspector show, for the shown units of each column (input pixels,
    hidden layers, output classes): their indices, mean activations, full incoming weights, mean activation per
    class, the probe images that excite them most and their health. Plain numpy, from x (the probe batch).
    A CNN's first column is the features its blocks hand to the dense layers ("head"), and "blocks" holds its
    convolution blocks (fmnist.inspect.conv.conv_insight, or `blocks` when the run has just measured them)."""
    x, y = x[:PROBE_IMAGES], y[:PROBE_IMAGES].cpu()
    cnn = bool(conv.spans(model))
    if cnn and blocks is None:
        blocks = conv.conv_insight(model, x, y)
    inputs = _features(model, x) if cnn else x
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    states = probe_activations(model, x)
    activation = _activation_name(model)
    was_training = model.training
    model.eval()
    logits = model(x).float()
    model.train(was_training)
    outs = [a for _, a in states] + [logits]
    outgoing = [lin.weight.detach().float().cpu().norm(dim=0) for lin in linears]
    input_shown = _shown(outgoing[0])
    columns = [{"name": "head" if cnn else "input", "units": inputs.shape[1], "shown": input_shown.numpy(),
                "mean": (inputs.float().cpu().mean(0)[input_shown]).numpy()}]
    for k, (lin, act) in enumerate(zip(linears, outs)):
        last = k == len(linears) - 1
        act = act.cpu()
        shown = torch.arange(act.shape[1]) if last else _shown(outgoing[k + 1])
        a = act[:, shown]
        col = {"name": "output" if last else f"hidden {k + 1}", "units": act.shape[1], "shown": shown.numpy(),
               "mean": a.mean(0).numpy(), "incoming": lin.weight.detach().float().cpu()[shown].numpy(),
               "class_mean": np.stack([a[y == c].mean(0).numpy() if (y == c).any() else np.zeros(len(shown))
                                       for c in range(10)], 1),
               "top": torch.argsort(a, dim=0, descending=True)[:TOP_IMAGES].T.numpy()}
        if not last:
            pre = states[k][0].cpu()[:, shown]
            dead, sat = unit_states(pre, a, activation)
            col.update(dead=dead.numpy(), saturated=sat.numpy(), std=a.std(0).numpy())
        columns.append(col)
    return {"columns": columns, "activation": activation, **({"blocks": blocks} if cnn else {})}

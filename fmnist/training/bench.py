"""The notebook's input pipeline against ours, same model, optimizer, device and number of steps."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from fmnist.config import CNN, SEED, TrainConfig
from fmnist.data.dataset import device_tensors, find_files, load_dataset, torchvision_root
from fmnist.model.architecture import flops_per_sample
from fmnist.model.devices import device_label, resolve_device
from fmnist.model.mlp import MLP
from fmnist.training.events import FailedEvent, NoteEvent
from fmnist.training.loop import train
from fmnist.training.notebook import loader_order
from fmnist.training.recipe import autocast, bf16_problem, make_optimizer
from fmnist.training.step import Step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(device: torch.device, seconds: float = 1.0) -> float:
    """FLOP/s of a large float32 matmul: the ceiling for an MLP's training step on this device."""
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    reps, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        reps += 1
        if reps % 8 == 0:
            _sync(device)
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def notebook_samples_per_s(device: torch.device, steps: int, warmup: int = 20, config: TrainConfig = SEED) -> float:
    """torchvision FashionMNIST + ToTensor + Normalize + DataLoader(batch, shuffle, 2 workers), as the notebook,
    training the config's network (the seed preset's unless told) with its optimizer and arithmetic."""
    from torchvision import datasets, transforms

    root = torchvision_root(find_files())
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ds = datasets.FashionMNIST(str(root), train=True, download=False, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=config.batch_size, shuffle=True, num_workers=2)
    torch.manual_seed(config.seed)
    model = nn.Sequential(nn.Flatten(), *MLP(config)).to(device)
    # The notebook's own optimizer for its own network (make_optimizer fuses SGD on CUDA; the notebook does not).
    opt = torch.optim.SGD(model.parameters(), lr=SEED.lr) if config == SEED else make_optimizer(config, model, device)
    loss_fn = nn.CrossEntropyLoss()

    def batches():
        while True:
            yield from loader

    it = batches()
    running = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t = time.perf_counter()
        x, y = next(it)
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        with autocast(config, device):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        running += loss.item()  # the notebook's running loss: one sync per batch
    _sync(device)
    elapsed = time.perf_counter() - t
    del it
    return steps * config.batch_size / elapsed


def ours_samples_per_s(device: torch.device, steps: int, warmup: int = 20, config: TrainConfig = SEED,
                       notes: list[str] | None = None) -> float:
    """The trainer's own step (CUDA graph on GPUs, with train()'s eager fallback), on the seed preset unless told
    otherwise; a failed capture's note is appended to `notes`."""
    x, y, _, _ = device_tensors(load_dataset(), device)
    torch.manual_seed(config.seed)
    model = MLP(config).to(device).train()
    if config.conv:  # as the trainer does
        model.to(memory_format=torch.channels_last)
    use_graph = device.type == "cuda"
    opt = make_optimizer(config, model, device, capturable=use_graph)
    step = Step(model, opt, config, x, y, device)
    bs = config.batch_size
    if use_graph and (note := step.try_capture(bs)) and notes is not None:
        notes.append(note)
    rng = torch.Generator().manual_seed(0)
    perm = loader_order(rng, x.shape[0]).to(device)
    per_epoch = x.shape[0] // bs
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t = time.perf_counter()
        j = i % per_epoch
        step(perm[j * bs:(j + 1) * bs])
    step.take()[0].item()
    elapsed = time.perf_counter() - t
    return steps * bs / elapsed


PRECISION_BATCHES = (64, 256)


def precision_figures(device: torch.device, steps: int, say: Callable[[str], None]) -> dict:
    """Samples/s of the seed preset's model in fp32 and bf16 autocast, at the notebook's batch and at 256:
    bf16's faster matmuls pay off only once a batch is large enough to outweigh autocast's casts."""
    if bf16_problem(device):
        say(f"bf16: not measured ({bf16_problem(device)})")
        return {}
    out = {}
    for bs in PRECISION_BATCHES:
        row = {p: ours_samples_per_s(device, steps, config=SEED.replace(batch_size=bs, precision=p))
               for p in ("fp32", "bf16")}
        say(f"batch {bs}: fp32 {row['fp32']:,.0f} samples/s, bf16 {row['bf16']:,.0f} samples/s "
            f"({row['bf16'] / row['fp32']:.2f}x)")
        out[f"batch_{bs}"] = {p: round(v, 1) for p, v in row.items()}
    return out


def cnn_figures(device: torch.device, steps: int, say: Callable[[str], None]) -> dict:
    """The cnn preset's network, optimizer and arithmetic through both pipelines: the notebook's DataLoader, and the
    trainer's step on the dataset held as tensors (channels-last maps)."""
    config = CNN.replace(device=device.type)
    if bf16_problem(device):
        config = config.replace(precision="fp32")
    nb = notebook_samples_per_s(device, steps, config=config)
    ours = ours_samples_per_s(device, steps, config=config)
    say(f"cnn preset ({config.describe()}): notebook pipeline {nb:,.0f} samples/s, fmnist trainer {ours:,.0f} "
        f"samples/s ({ours / nb:.2f}x)")
    return {"notebook_samples_per_s": round(nb, 1), "ours_samples_per_s": round(ours, 1), "ratio": round(ours / nb, 3),
            "precision": config.precision}


def full_seed_run(device: torch.device, notes: list[str] | None = None) -> float:
    """Seconds for the 20 seed-preset epochs with per-epoch test evaluation, through the real trainer; its notes
    (a failed capture's) are appended to `notes`."""
    t = time.perf_counter()
    for ev in train(SEED.replace(device=device.type), log_every=10_000):
        match ev:
            case FailedEvent(reason=reason):
                raise RuntimeError(reason)
            case NoteEvent(message=message) if notes is not None:
                notes.append(message)
    return time.perf_counter() - t


def run_bench(device_name: str = "auto", steps: int = 300, full: bool | None = None,
              progress: Callable[[str], None] | None = print) -> dict:
    device = resolve_device(device_name)
    say = progress or (lambda _msg: None)
    say(f"Device: {device_label(device)}; {steps} timed steps of batch 64 each, after 20 warm-up steps")
    nb = notebook_samples_per_s(device, steps)
    say(f"notebook pipeline (torchvision + DataLoader): {nb:,.0f} samples/s")
    notes: list[str] = []
    ours = ours_samples_per_s(device, steps, notes=notes)
    for note in notes:
        say(note)
    graph = device.type == "cuda" and not notes
    say(f"fmnist trainer (tensors on device{', CUDA graph' if graph else ''}): {ours:,.0f} samples/s")
    peak = matmul_flops(device)
    fraction = ours * flops_per_sample(SEED) / peak
    say(f"ratio {ours / nb:.2f}x; our step reaches {100 * fraction:.0f}% of this device's measured matmul "
        f"throughput ({peak / 1e9:,.0f} GFLOP/s)")
    result = {"device": device_label(device), "steps": steps, "notebook_samples_per_s": round(nb, 1),
              "ours_samples_per_s": round(ours, 1), "ratio": round(ours / nb, 3),
              "peak_fraction": round(fraction, 4), "matmul_gflops": round(peak / 1e9, 1), "cuda_graph": graph}
    precision = precision_figures(device, steps, say)
    if precision:
        result["precision_samples_per_s"] = precision
    result["cnn"] = cnn_figures(device, steps, say)
    if full if full is not None else device.type == "cuda":
        before = len(notes)
        secs = full_seed_run(device, notes)
        for note in notes[before:]:
            say(note)
        say(f"20 seed-preset epochs with per-epoch evaluation: {secs:.2f} s")
        result["seed_20_epochs_s"] = round(secs, 3)
    if notes:
        result["notes"] = notes
    return result


"""Recovery files: a run's last completed epoch (weights, optimizer state, RNG states, history, step count,
learning-rate changes), so a crash, a killed worker or a restarted server loses at most one epoch.

One file per run under the checkpoints folder's hidden .resume/ (never listed as a checkpoint), replaced
atomically after each epoch and deleted when the run ends (done, or stopped by its user). The training process
holds an advisory lock (flock) beside the file while it trains; the kernel drops the lock when the process
dies, so a file whose lock is free belongs to an interrupted run. Safetensors + JSON metadata: nothing is ever
unpickled.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save
from torch import nn

from fmnist.config import ConfigError, TrainConfig
from fmnist.messages import N_
from fmnist.store import checkpoints

FORMAT = "fmnist-resume"
VERSION = 1


class RecoveryError(checkpoints.CheckpointError):
    """A recovery file that cannot be used (missing, damaged, another run's, or under way elsewhere)."""


def new_path(root: Path, config: TrainConfig) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / checkpoints.RESUME_DIR / f"{stamp}-{config.preset}-{secrets.token_hex(3)}{checkpoints.SUFFIX}"


def lock_path(path: Path) -> Path:
    return Path(path).with_suffix(".lock")


@dataclass
class RecoveryFile:
    """Where a run keeps its last epoch; `continuing=True` goes on with the run the file already holds."""

    path: Path
    owner: str = checkpoints.MACHINE_OWNER
    continuing: bool = False
    failed: bool = False  # a write failed (and the run said so once)
    _lock: object = field(default=None, repr=False)

    def claim(self) -> None:
        """Takes the run's lock, or says the run is under way elsewhere."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock_path(self.path), "a")  # noqa: SIM115 (held open for the whole run: the lock is the open file)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise RecoveryError(N_("{name}: this run is being trained right now (resumed elsewhere)").format(
                name=self.path.name)) from None
        self._lock = f

    def write(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        meta = {"format": FORMAT, "version": VERSION, "owner": self.owner, **meta}
        blob = st_save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
                       metadata={"fmnist": json.dumps(meta)})
        checkpoints.write_atomic(self.path, blob)

    def restore(self, config: TrainConfig, model: nn.Module, opt: torch.optim.Optimizer, rng: torch.Generator,
                augment_rng: torch.Generator | None):
        """Claims the run's file and, when continuing a run, puts its last completed epoch back in place (in place: a
        captured CUDA graph keeps pointing at the same tensors). Returns where the run starts (a RunStart)."""
        from fmnist.training.loop import RunStart

        self.claim()
        if not self.continuing:
            return RunStart()
        meta, t = read(self.path)
        if TrainConfig.from_dict(meta["config"]) != config:
            raise RecoveryError(f"{self.path.name} holds another run's settings")
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(t["model." + k])
        _restore_optimizer(opt, t)
        rng.set_state(t["rng.trainer"])
        if augment_rng is not None and "rng.augment" in t:  # mirrors, shifts and warps go on where they were
            augment_rng.set_state(t["rng.augment"])
        torch.set_rng_state(t["rng.torch"])  # dropout draws from the global generator
        if "rng.cuda" in t and torch.cuda.is_available():
            torch.cuda.set_rng_state(t["rng.cuda"])
        best_w = {k.removeprefix("best."): v for k, v in t.items() if k.startswith("best.")} or None
        return RunStart(meta["epoch"], meta["step"], meta["history"], meta["lr_scale"], meta["lr_changes"],
                        (meta["best_val_acc"], meta["best_epoch"], best_w), meta["elapsed_s"])

    def save(self, config: TrainConfig, model: nn.Module, opt: torch.optim.Optimizer, generators: tuple,
             history: list[dict], step: int, lr_scale: float, lr_changes: list[dict], best: tuple,
             elapsed_s: float) -> str | None:
        """Writes the epoch just completed, after the epoch's last RNG draw. A failed write (a full disk) costs only
        the ability to recover: the run goes on, and the note returned says so once."""
        rng, augment_rng = generators
        tensors = {"model." + k: v for k, v in model.state_dict().items()}
        params = {id(p): i for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
        for p, state in opt.state.items():
            tensors.update({f"opt.{params[id(p)]}.{k}": v for k, v in state.items() if isinstance(v, torch.Tensor)})
        tensors.update({"rng.trainer": rng.get_state(), "rng.torch": torch.get_rng_state()})
        if augment_rng is not None:
            tensors["rng.augment"] = augment_rng.get_state()
        if next(model.parameters()).device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        if best[2] is not None:
            tensors.update({"best." + k: v for k, v in best[2].items()})
        meta = {"config": config.to_dict(), "epoch": len(history), "step": step, "history": history,
                "lr_scale": lr_scale, "lr_changes": lr_changes, "best_val_acc": best[0], "best_epoch": best[1],
                "elapsed_s": elapsed_s}
        try:
            self.write(tensors, meta)
        except checkpoints.CheckpointError as exc:
            if not self.failed:
                self.failed = True
                return N_("{error}: this run could not be resumed after a crash").format(error=exc)
        return None

    def finish(self) -> None:
        """The run ended as its user wanted: nothing left to resume."""
        self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """The trainer is done with the file: an interrupted run's stays; a run without one leaves nothing."""
        if self._lock is None:
            return
        if not self.path.exists():
            lock_path(self.path).unlink(missing_ok=True)
        self._lock.close()
        self._lock = None
        try:
            self.path.parent.rmdir()  # only when empty: other runs' files stay
        except OSError:
            pass


def _restore_optimizer(opt: torch.optim.Optimizer, t: dict[str, torch.Tensor]) -> None:
    params = [p for g in opt.param_groups for p in g["params"]]
    for key, v in t.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state, current = opt.state[params[int(i)]], opt.state[params[int(i)]].get(name)
            if isinstance(current, torch.Tensor) and current.shape == v.shape:
                current.copy_(v)
            else:  # a fresh optimizer has no state yet: Adam's step count stays on the CPU, moments on the device
                state[name] = v if name == "step" else v.to(params[int(i)].device)


def read(path: Path, tensors: bool = True) -> tuple[dict, dict[str, torch.Tensor]]:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("fmnist") or "null")
            state = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except FileNotFoundError:
        raise RecoveryError(N_("{name}: no such resume file").format(name=path.name)) from None
    except Exception as exc:  # safetensors' own errors for damage, JSON errors for a bad header
        raise RecoveryError(N_("{name}: not a readable resume file ({error})").format(
            name=path.name, error=exc)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RecoveryError(N_("{name}: not an fmnist resume file (a checkpoint cannot be resumed, only its run's "
                               "resume file under checkpoints/.resume/)").format(name=path.name))
    return meta, state


def read_config(path: Path) -> TrainConfig:
    meta, _ = read(path, tensors=False)
    try:
        return TrainConfig.from_dict(meta["config"]).validated()
    except (KeyError, TypeError, ConfigError) as exc:
        raise RecoveryError(N_("{name}: its config is invalid ({error})").format(
            name=Path(path).name, error=exc)) from None


def is_under_way(path: Path) -> bool:
    """Whether a live process holds the run's lock (trying it takes the lock for an instant)."""
    try:
        with open(lock_path(path), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def interrupted(store: checkpoints.CheckpointStore) -> list[dict]:
    """Runs that ended without finishing, newest first: path, epoch reached, epochs planned, owner, config."""
    rows = []
    folder = store.resume_dir()
    for path in sorted(folder.glob("*" + checkpoints.SUFFIX)) if folder.is_dir() else []:
        if path.name.startswith(".") or is_under_way(path):
            continue
        try:
            meta, _ = read(path, tensors=False)
        except RecoveryError:
            continue  # a damaged file cannot be resumed; it is still counted in the folder's size
        config = meta.get("config") or {}
        rows.append({"name": path.name.removesuffix(checkpoints.SUFFIX), "path": path, "meta": meta,
                     "epoch": meta.get("epoch", 0), "epochs": config.get("epochs"),
                     "owner": checkpoints.owner_of(meta), "mtime": path.stat().st_mtime})
    return sorted(rows, key=lambda r: -r["mtime"])


def discard(store: checkpoints.CheckpointStore, name: str, owner: str, admin: bool = False) -> None:
    path = store.resume_dir() / (checkpoints.check_name(name) + checkpoints.SUFFIX)
    meta, _ = read(path, tensors=False)
    if not admin and checkpoints.owner_of(meta) != owner:
        raise RecoveryError(N_("cannot discard {name}: another session's run; only that session or an admin "
                               "may").format(name=name))
    if is_under_way(path):
        raise RecoveryError(N_("{name}: this run is being trained right now").format(name=name))
    path.unlink(missing_ok=True)
    lock_path(path).unlink(missing_ok=True)


def for_run(store: checkpoints.CheckpointStore, config: TrainConfig, owner: str,
            recover: str | Path | None = None) -> RecoveryFile:
    """A new run's file in the store's .resume/, or the given file of an interrupted run to go on with."""
    if recover:
        return RecoveryFile(Path(recover), owner, continuing=True)
    return RecoveryFile(new_path(store.root, config), owner)

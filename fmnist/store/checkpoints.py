"""Checkpoints: safetensors weights plus JSON metadata (config, per-epoch history, metrics, normalisation,
versions, timing), so that one file rebuilds the model and loading never executes code.

Listing and reading metadata parse the safetensors header in plain Python: the app's server lists models and names
the active one without importing torch. Saving and loading weights import it when called."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fmnist import env
from fmnist.config import ConfigError, TrainConfig
from fmnist.data.dataset import MEAN, STD
from fmnist.messages import N_

if TYPE_CHECKING:
    import torch

    from fmnist.model.mlp import MLP
    from fmnist.training.events import TrainResult

FORMAT = "fmnist-checkpoint"
VERSION = 1
SUFFIX = ".safetensors"
CHECKPOINT_DIR = env.ROOT / "checkpoints"
DEFAULT_NAME = "default"
MACHINE_OWNER = "cli"  # checkpoints made on the command line, and those older than owners: the machine's owner
RESUME_DIR = ".resume"  # hidden from the listing: one file per run under way or interrupted (fmnist/store/recovery.py)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
# Why a file is not a readable safetensors checkpoint, as _header() puts it inside its message's {detail}.
SHORT_HEADER = N_("shorter than a safetensors header")
HEADER_PAST_END = N_("header length past the end of the file")
HEADER_DETAILS = (SHORT_HEADER, HEADER_PAST_END)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, or a name that cannot be one; the message says which and why."""


class CheckpointExists(CheckpointError):
    """An exclusive save found the name taken (another session saved under it first)."""


@dataclass
class Checkpoint:
    path: Path
    meta: dict
    config: TrainConfig
    state: dict[str, torch.Tensor]

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(SUFFIX)

    def model(self, device: str | torch.device = "cpu") -> MLP:
        from fmnist.model.mlp import MLP

        model = MLP(self.config)
        try:
            model.load_state_dict(self.state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = first[1].strip() if len(first) > 1 else first[0]
            raise CheckpointError(N_("{name}: the weights do not match the model its metadata describes ({detail})")
                                  .format(name=self.path.name, detail=detail)) from None
        return model.to(device).eval()


def versions() -> dict:
    import torch

    return {"torch": torch.__version__, "python": platform.python_version()}


def build_meta(config: TrainConfig, history: list[dict], test_acc: float, test_loss: float, elapsed_s: float,
               device: str, **extra) -> dict:
    return {
        "format": FORMAT, "version": VERSION, "config": config.to_dict(), "history": history,
        "metrics": {"test_acc": test_acc, "test_loss": test_loss},
        "normalization": {"mean": MEAN, "std": STD}, "versions": versions(), "elapsed_s": elapsed_s,
        "device": device, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **extra,
    }


def run_meta(result: TrainResult, command: str, **extra) -> dict:
    """The metadata of a finished (or stopped) run, as the CLI and the app's workers save it."""
    return build_meta(result.config, result.history, result.test_acc, result.test_loss, result.elapsed_s,
                      result.device, command=command, stopped=result.stopped, best_epoch=result.best_epoch,
                      lr_changes=result.lr_changes, **extra)


def save(path: Path, model: torch.nn.Module, meta: dict, exclusive: bool = False) -> Path:
    from safetensors.torch import save as st_save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return write_atomic(Path(path), st_save(tensors, metadata={"fmnist": json.dumps(meta)}), exclusive)


def write_atomic(path: Path, blob: bytes, exclusive: bool = False) -> Path:
    """Atomic: the bytes go to a hidden temporary file in the same folder, then one rename makes them visible,
    so a crash or a full disk never leaves a partial checkpoint under the real name. `exclusive` never replaces
    an existing file (a hard link fails if the name is taken), so two sessions cannot overwrite each other."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(f"could not save {path.name}: {exc.strerror or exc}") from exc
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the model from other users of a shared folder
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointExists(f"{path.name}: a checkpoint of that name already exists") from None
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"could not save {path.name}: {exc.strerror or exc}") from exc
    return path


def _header(path: Path) -> dict:
    """The safetensors header (tensor entries and __metadata__), checked as safetensors itself checks it: a JSON
    object whose tensors' data ends exactly where the file does."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(SHORT_HEADER)
            (n,) = struct.unpack("<Q", head)
            size = os.fstat(f.fileno()).st_size
            if n > min(size - 8, 100_000_000):
                raise ValueError(HEADER_PAST_END)
            header = json.loads(f.read(n))
    except FileNotFoundError:
        raise CheckpointError(N_("{name}: no such checkpoint").format(name=path.name)) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(N_("{name}: not a readable safetensors checkpoint (corrupt, truncated or another format: "
                                 "{detail})").format(name=path.name, detail=exc)) from None
    ends = [t.get("data_offsets", [0, 0])[1] for k, t in header.items() if k != "__metadata__"] \
        if isinstance(header, dict) else None
    if ends is None or not all(isinstance(e, int) for e in ends) or 8 + n + max(ends, default=0) != size:
        raise CheckpointError(N_("{name}: not a readable safetensors checkpoint (corrupt, truncated or another format: "
                                 "its tensors do not fill the file)").format(name=path.name))
    return header


def read_meta(path: Path) -> dict:
    """The metadata alone (the header), cheap enough to list many files."""
    path = Path(path)
    raw = (_header(path).get("__metadata__") or {}).get("fmnist")
    try:
        meta = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(N_("{name}: a safetensors file, but not an fmnist checkpoint (no fmnist metadata)")
                              .format(name=path.name))
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(N_("{name}: written by a newer fmnist (format {version})").format(
            name=path.name, version=meta["version"]))
    return meta


def load(path: Path) -> Checkpoint:
    from safetensors import safe_open

    path = Path(path)
    meta = read_meta(path)
    saved = meta.get("normalization") or {}
    if (saved.get("mean", MEAN), saved.get("std", STD)) != (MEAN, STD):
        raise CheckpointError(N_("{name}: trained on inputs normalised with mean {mean} and std {std}, but fmnist "
                                 "feeds models mean {model_mean} and std {model_std}").format(
            name=path.name, mean=saved.get("mean"), std=saved.get("std"), model_mean=MEAN, model_std=STD))
    try:
        config = TrainConfig.from_dict(meta["config"]).validated()
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(N_("{name}: its config metadata is invalid ({detail})").format(
            name=path.name, detail=exc)) from None
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise CheckpointError(N_("{name}: the weights cannot be read ({detail})").format(
            name=path.name, detail=exc)) from None
    ckpt = Checkpoint(path, meta, config, state)
    ckpt.model()  # fail now, with a clear message, if weights and metadata disagree
    return ckpt


def check_name(name: str) -> str:
    """A checkpoint name is a plain file name: no folders, no '..', no control characters."""
    name = name.removesuffix(SUFFIX) if isinstance(name, str) else name
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise CheckpointError(f"{name!r} is not a valid checkpoint name: use letters, digits, '-', '_' and '.', "
                              "starting with a letter or digit, at most 80 characters")
    return name


class CheckpointStore:
    """The checkpoints folder; every path it hands out is checked to lie inside it."""

    def __init__(self, root: Path | None = None):
        # FMNIST_CHECKPOINT_DIR lets tests and parallel servers (and the CLI beside them) use a folder of their own.
        self.root = Path(root or env.checkpoint_dir())

    def path_for(self, name: str) -> Path:
        path = (self.root / (check_name(name) + SUFFIX)).resolve()
        if path.parent != self.root.resolve():
            raise CheckpointError(f"{name!r} points outside the checkpoints folder")
        return path

    def list(self) -> list[dict]:
        """One row per file, newest first; unreadable files are listed with their error, not hidden."""
        rows = []
        if not self.root.is_dir():
            return rows
        for path in self.root.glob("*" + SUFFIX):
            if path.name.startswith(".") or not path.is_file():
                continue
            stat = path.stat()
            row = {"name": path.name.removesuffix(SUFFIX), "path": path, "size": stat.st_size,
                   "mtime": stat.st_mtime, "meta": None, "error": None}
            try:
                row["meta"] = read_meta(path)
            except CheckpointError as exc:
                row["error"] = str(exc)
            rows.append(row)
        return sorted(rows, key=lambda r: (r["name"] != DEFAULT_NAME, -r["mtime"]))

    def load(self, name: str) -> Checkpoint:
        return load(self.path_for(name))

    def unique_name(self, config: TrainConfig, test_acc: float | None = None) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{config.preset}" + (f"-{test_acc:.2f}" if test_acc is not None else "")
        name, i = base, 2
        while self.path_for(name).exists():
            name, i = f"{base}-{i}", i + 1
        return name

    def save(self, name: str, model: torch.nn.Module, meta: dict, exclusive: bool = False) -> Path:
        return save(self.path_for(name), model, {**meta, "name": check_name(name)}, exclusive)

    def save_new(self, base: str, model: torch.nn.Module, meta: dict) -> Path:
        """Saves under `base`, or base-2, base-3 ... if another session took the name in the meantime."""
        for i in range(1, 100):
            try:
                return self.save(base if i == 1 else f"{base}-{i}", model, meta, exclusive=True)
            except CheckpointExists:
                continue
        raise CheckpointError(f"{base}: no free name for the checkpoint")

    def delete(self, name: str, owner: str = MACHINE_OWNER, admin: bool = False) -> None:
        path = self.path_for(name)
        if check_name(name) == DEFAULT_NAME:
            raise CheckpointError(N_("the shipped default model cannot be deleted"))
        if not path.is_file():
            raise CheckpointError(N_("{name}: no such checkpoint").format(name=name))
        _check_allowed(path, owner, admin, "delete")
        path.unlink()

    def rename(self, old: str, new: str, owner: str = MACHINE_OWNER, admin: bool = False) -> Path:
        src, dst = self.path_for(old), self.path_for(new)
        if check_name(old) == DEFAULT_NAME:
            raise CheckpointError("the shipped default model cannot be renamed")
        if not src.is_file():
            raise CheckpointError(N_("{name}: no such checkpoint").format(name=old))
        if dst.exists():
            raise CheckpointError(f"{new}: a checkpoint of that name already exists")
        _check_allowed(src, owner, admin, "rename")
        os.replace(src, dst)
        return dst

    def resume_dir(self) -> Path:
        return self.root / RESUME_DIR

    def total_bytes(self) -> int:
        """Everything in the folder (resume files included): what the folder cap bounds."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else 0


def owner_of(meta: dict | None) -> str:
    """Who made a checkpoint: an app session's opaque id, or the machine owner (CLI runs, older files)."""
    owner = (meta or {}).get("owner")
    return owner if isinstance(owner, str) and owner else MACHINE_OWNER


NEVER_DELETED = N_("the shipped default model is never deleted")
ADMIN_ONLY = N_("made on the command line (or before owners were recorded): only an admin may delete it here")
OTHER_SESSION = N_("made by another session: only that session or an admin may delete it")
# "cannot delete NAME: REASON" written whole for each reason, so that the app translates it as one sentence.
CANNOT_DELETE = {
    NEVER_DELETED: N_("cannot delete {name}: the shipped default model is never deleted"),
    ADMIN_ONLY: N_("cannot delete {name}: made on the command line (or before owners were recorded): only an admin may "
                   "delete it here"),
    OTHER_SESSION: N_("cannot delete {name}: made by another session: only that session or an admin may delete it"),
}


def change_refused(name: str, meta: dict | None, owner: str, admin: bool = False) -> str | None:
    """Why `owner` may not delete or rename this checkpoint, or None when it may."""
    if name == DEFAULT_NAME:
        return NEVER_DELETED
    if admin or owner_of(meta) == owner:
        return None
    if owner_of(meta) == MACHINE_OWNER:
        return ADMIN_ONLY
    return OTHER_SESSION


def _check_allowed(path: Path, owner: str, admin: bool, verb: str) -> None:
    try:
        meta = read_meta(path)
    except CheckpointError:
        meta = None  # an unreadable file has no owner to ask: the machine owner's, like a file from before owners
    name = path.name.removesuffix(SUFFIX)
    reason = change_refused(name, meta, owner, admin)
    if reason:
        whole = CANNOT_DELETE.get(reason) if verb == "delete" else None
        raise CheckpointError(whole.format(name=name) if whole else f"cannot {verb} {name}: {reason}")


class QuotaExceeded(CheckpointError):
    """The checkpoints folder is full by the server's own cap: the run is kept in the session, not saved."""


@dataclass(frozen=True)
class Quotas:
    """A shared server's bounds: checkpoints kept per owner, and the folder's total size."""

    max_runs: int = 20
    max_mb: float = 2048

    @classmethod
    def from_env(cls, environ=None) -> Quotas:
        def number(key: str, default, kind):
            try:
                value = env.number(key, default, kind, environ)
            except ValueError as exc:
                raise CheckpointError(str(exc)) from None
            if value < 1:
                raise CheckpointError(f"{key} must be at least 1 (got {value})")
            return value

        return cls(number("FMNIST_MAX_RUNS_PER_SESSION", cls.max_runs, int),
                   number("FMNIST_MAX_CHECKPOINT_MB", cls.max_mb, float))


@dataclass
class Saved:
    path: Path
    removed: list[str]  # the owner's oldest checkpoints removed to stay within max_runs
    notes: list[str]  # one sentence per removal, for the page


def save_run(store: CheckpointStore, name: str, model: torch.nn.Module, meta: dict, owner: str = MACHINE_OWNER,
             quotas: Quotas | None = None) -> Saved:
    """How a finished run is saved on a shared server: refused (QuotaExceeded, nothing written) when the folder
    would pass its size cap; then, beyond `max_runs` checkpoints of this owner, the owner's oldest are removed.
    The shipped default is never counted, removed or replaced."""
    quotas = quotas or Quotas.from_env()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    used, cap = store.total_bytes(), quotas.max_mb * 1e6
    if used + size > cap:
        raise QuotaExceeded(f"the checkpoints folder holds {used / 1e6:,.0f} MB and this run needs "
                            f"{size / 1e6:,.1f} MB more, past the server's cap of {quotas.max_mb:,.0f} MB "
                            "(FMNIST_MAX_CHECKPOINT_MB): it was not saved. Delete checkpoints you no longer need "
                            "on the Models page")
    path = store.save_new(name, model, {**meta, "owner": owner})
    removed = _prune(store, owner, quotas.max_runs, keep=path)
    notes = [N_("Removed your oldest checkpoint {name}: a session keeps at most {max} (FMNIST_MAX_RUNS_PER_SESSION).")
             .format(name=r, max=quotas.max_runs) for r in removed]
    return Saved(path, removed, notes)


def _prune(store: CheckpointStore, owner: str, max_runs: int, keep: Path) -> list[str]:
    mine = [r for r in store.list() if r["name"] != DEFAULT_NAME and r["meta"] is not None
            and owner_of(r["meta"]) == owner and r["path"].resolve() != keep.resolve()]
    mine.sort(key=lambda r: (r["meta"].get("created") or "", r["mtime"]))
    excess = mine[:max(0, len(mine) + 1 - max_runs)]
    for row in excess:
        row["path"].unlink(missing_ok=True)
    return [r["name"] for r in excess]

"""What devices this machine offers, as plain data. Workers (which import torch) measure it with `available()`; the
app's server, which does not import torch, checks a chosen device against that report with `problem()`."""

from __future__ import annotations

CUDA_MISSING = "CUDA was asked for, but PyTorch sees no CUDA GPU here: choose cpu or auto"
MPS_MISSING = "MPS was asked for, but this machine has no Apple GPU: choose cpu or auto"


def available() -> dict:
    """{"auto": what device=auto picks, as a label, "cuda": bool, "mps": bool}."""
    import torch

    from .model import device_label, resolve_device

    mps = getattr(torch.backends, "mps", None)
    return {"auto": device_label(resolve_device("auto")), "cuda": torch.cuda.is_available(),
            "mps": bool(mps and mps.is_available())}


def problem(name: str, report: dict | None) -> str | None:
    """Why `name` cannot be used on a machine described by `report` (from `available()`); None when it can, or when
    there is no report yet (the run itself then says so)."""
    if report is None:
        return None
    if name == "cuda" and not report["cuda"]:
        return CUDA_MISSING
    if name == "mps" and not report["mps"]:
        return MPS_MISSING
    return None

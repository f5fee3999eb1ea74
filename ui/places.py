"""Names, not the server's disk: a shared server shows its checkpoints folder and sweep storage by name
(checkpoints/, sqlite studies.db), never by absolute path or connection URL (the README and the CLI may show those)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fmnist import env


def folder_name(path) -> str:
    """A folder as a visitor may see it: relative to the app's folder when inside it, else its last name."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(env.ROOT.resolve()).as_posix() + "/"
    except ValueError:
        return resolved.name + "/"


def storage_name(url: str) -> str:
    """A sweep storage by its kind and the name of its file or database: "sqlite studies.db", "postgresql sweeps"."""
    kind, _sep, rest = url.partition(":")
    if kind == "journal":
        return f"journal {PurePosixPath(rest.removeprefix('//')).name}"
    rest = rest.removeprefix("//").split("?", 1)[0]
    if kind != "sqlite":
        rest = rest.rpartition("@")[2].partition("/")[2]  # drop the user, password and host
    name = PurePosixPath(rest).name
    return f"{kind.split('+')[0]} {name}".strip()

"""The board, worked out from a challenge's entries in plain Python: each student's best run by validation accuracy
ranks, every other run is kept; runs that broke a limit or were stopped are listed apart; hidden runs are left out
(their owner is told why). Test accuracy appears only once the teacher reveals it, with how each rank moved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class BoardRow:
    rank: int
    name: str
    entry: object  # fmnist.challenge.store.EntryInfo: the student's best run
    runs: int  # the student's ranked runs, all kept
    test_rank: int | None = None  # with the test accuracy revealed: the rank by it
    moved: int | None = None  # places gained (+) or lost (-) when ranked by test accuracy

    def as_dict(self, revealed: bool) -> dict:
        e = self.entry
        row = {"rank": self.rank, "name": self.name, "val_acc": e.val_acc, "params": e.params,
               "seconds": round(e.seconds, 1), "network": e.network, "when": _when(e.created_at), "runs": self.runs,
               "entry": e.id}
        if revealed:
            row.update(test_acc=e.test_acc, test_rank=self.test_rank, moved=self.moved)
        return row


@dataclass(frozen=True)
class Board:
    challenge: object  # fmnist.challenge.store.ChallengeInfo
    rows: list[BoardRow] = field(default_factory=list)
    apart: list = field(default_factory=list)  # EntryInfo of runs that broke a limit or were stopped, newest first
    hidden: list = field(default_factory=list)  # EntryInfo the teacher hid, newest first
    entries: list = field(default_factory=list)  # every entry, oldest first

    @property
    def revealed(self) -> bool:
        return self.challenge.revealed

    def as_dict(self) -> dict:
        """The board as the CLI prints it: no test accuracy until revealed, hidden runs counted, not shown."""
        revealed = self.revealed
        return {"challenge": self.challenge.as_dict(), "revealed": revealed,
                "rows": [r.as_dict(revealed) for r in self.rows],
                "apart": [{"name": e.name, "reason": e.broken, "val_acc": e.val_acc, "network": e.network,
                           "when": _when(e.created_at), "entry": e.id} for e in self.apart],
                "hidden": len(self.hidden)}

    def hidden_for(self, owner: str) -> list:
        """The owner's hidden runs, each with the teacher's reason."""
        return [e for e in self.hidden if e.owner == owner]


def _when(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") + "Z" if at else None


def _order(entry) -> tuple:
    return (-(entry.val_acc if entry.val_acc is not None else -1.0), entry.created_at or datetime.min, entry.id)


def rank(challenge, entries: list) -> Board:
    """The board of `entries` (EntryInfo, any order). Ties rank the earlier run first: it got there first."""
    entries = sorted(entries, key=lambda e: (e.created_at or datetime.min, e.id))
    hidden = [e for e in entries if e.hidden]
    apart = [e for e in entries if not e.hidden and (e.broken or e.val_acc is None)]
    ranked = [e for e in entries if not e.hidden and not e.broken and e.val_acc is not None]
    best: dict[str, object] = {}
    runs: dict[str, int] = {}
    for e in ranked:
        key = e.name.casefold()
        runs[key] = runs.get(key, 0) + 1
        if key not in best or _order(e) < _order(best[key]):
            best[key] = e
    chosen = sorted(best.values(), key=_order)
    test_ranks: dict[int, int] = {}
    if challenge.revealed:
        by_test = sorted(chosen, key=lambda e: (-e.test_acc, _order(e)))
        test_ranks = {e.id: i + 1 for i, e in enumerate(by_test)}
    rows = []
    for i, e in enumerate(chosen):
        t = test_ranks.get(e.id)
        rows.append(BoardRow(i + 1, e.name, e, runs[e.name.casefold()], t, None if t is None else (i + 1) - t))
    return Board(challenge, rows, apart[::-1], hidden[::-1], entries)

"""Challenges, their students' names and their entries in a database, through SQLAlchemy 2.

SQLite at <checkpoints folder>/challenges.db by default; FMNIST_CLASS_DB names any SQLAlchemy URL (PostgreSQL, so that
several app servers share one class). Every write is one transaction: a board never shows half an entry, and what
was written survives a restart. The teacher's operations (reveal, close, hide, clear, export) need the admin password
(FMNIST_ADMIN_PASSWORD).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from fmnist import env
from fmnist.challenge.board import Board, rank
from fmnist.challenge.limits import Limits
from fmnist.messages import N_

NAME_MAX = 32
ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied from a board
ID_LENGTH = 6
CLOSED = N_("the challenge is closed: this run was not entered")


class ChallengeError(ValueError):
    """What a student or a teacher asked for cannot be done: the sentence says why (English, marked for Korean)."""


class AdminError(PermissionError):
    """A teacher's operation without the admin password."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC: SQLite keeps no zone


class Base(DeclarativeBase):
    pass


class ChallengeRow(Base):
    __tablename__ = "fmnist_challenges"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(Text, default="")
    max_params: Mapped[int | None] = mapped_column(Integer)
    max_epochs: Mapped[int | None] = mapped_column(Integer)
    max_seconds: Mapped[float | None] = mapped_column(Float)
    allow_conv: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[str] = mapped_column(Text, default="{}")  # JSON: setting -> value
    split_seed: Mapped[int] = mapped_column(Integer)
    val_size: Mapped[int] = mapped_column(Integer)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StudentRow(Base):
    """A display name held in a challenge by one owner (a browser session, or the terminal)."""

    __tablename__ = "fmnist_challenge_students"
    __table_args__ = (UniqueConstraint("challenge_id", "name_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("fmnist_challenges.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    name_key: Mapped[str] = mapped_column(String(4 * NAME_MAX))
    owner: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(DateTime)


class EntryRow(Base):
    __tablename__ = "fmnist_challenge_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("fmnist_challenges.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    owner: Mapped[str] = mapped_column(String(64))
    val_acc: Mapped[float | None] = mapped_column(Float)
    test_acc: Mapped[float | None] = mapped_column(Float)
    params: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    network: Mapped[str] = mapped_column(String(300), default="")
    config: Mapped[str] = mapped_column(Text, default="{}")  # the run's TrainConfig as JSON
    checkpoint: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    broken: Mapped[str | None] = mapped_column(Text)  # the limit it broke, or why it stopped early; None: ranked


@dataclass(frozen=True)
class ChallengeInfo:
    id: str
    title: str
    task: str
    limits: Limits
    closes_at: datetime | None
    closed: bool
    revealed: bool
    created_at: datetime

    def is_open(self, at: datetime | None = None) -> bool:
        return not self.closed and (self.closes_at is None or (at or now()) < self.closes_at)

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "task": self.task, **self.limits.to_dict(),
                "closes_at": self.closes_at.isoformat(timespec="minutes") + "Z" if self.closes_at else None,
                "closed": not self.is_open(), "revealed": self.revealed,
                "created_at": self.created_at.isoformat(timespec="seconds") + "Z"}


@dataclass(frozen=True)
class EntryInfo:
    id: int
    name: str
    owner: str
    val_acc: float | None
    test_acc: float | None
    params: int | None
    seconds: float
    network: str
    config: dict
    checkpoint: str | None
    created_at: datetime
    hidden: bool
    hidden_reason: str | None
    broken: str | None


def _challenge_info(r: ChallengeRow) -> ChallengeInfo:
    limits = Limits(r.max_params, r.max_epochs, r.max_seconds, bool(r.allow_conv), json.loads(r.locked or "{}"),
                    r.split_seed, r.val_size)
    return ChallengeInfo(r.id, r.title, r.task or "", limits, r.closes_at, bool(r.closed), bool(r.revealed),
                         r.created_at)


def _entry_info(r: EntryRow) -> EntryInfo:
    return EntryInfo(r.id, r.name, r.owner, r.val_acc, r.test_acc, r.params, r.seconds or 0.0, r.network or "",
                     json.loads(r.config or "{}"), r.checkpoint, r.created_at, bool(r.hidden), r.hidden_reason,
                     r.broken)


_SPACE = re.compile(r"\s+")


def clean_name(text) -> str:
    """A display name as it is kept: spaces trimmed and runs of them made one, control characters dropped, at most
    32 characters. ChallengeError when nothing is left or it is too long. It is kept as typed otherwise (HTML
    included): whatever shows it escapes it."""
    text = "".join(c for c in unicodedata.normalize("NFC", str(text or "")) if unicodedata.category(c)[0] != "C"
                   or c in " \t")
    text = _SPACE.sub(" ", text).strip()
    if not text:
        raise ChallengeError(N_("choose a display name"))
    if len(text) > NAME_MAX:
        raise ChallengeError(N_("a display name has at most {max} characters").format(max=NAME_MAX))
    return text


def default_url() -> str:
    """FMNIST_CLASS_DB, else SQLite in the checkpoints folder."""
    url = env.get("FMNIST_CLASS_DB")
    if url:
        return url
    folder = env.checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'challenges.db').resolve()}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # WAL: readers (30 boards) never wait for a writer; foreign keys on
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


class ChallengeStore:
    def __init__(self, url: str | None = None, admin_password: str | None = None):
        self.url = url or default_url()
        self.engine = _engine(self.url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        # The server's password: given (the app reads Streamlit's secrets too), else FMNIST_ADMIN_PASSWORD.
        self._admin_password = admin_password

    def close(self) -> None:
        self.engine.dispose()

    # The teacher's.
    def create(self, title: str, task: str = "", limits: Limits | None = None,
               closes_at: datetime | None = None) -> ChallengeInfo:
        title = _SPACE.sub(" ", str(title or "")).strip()
        if not title:
            raise ChallengeError(N_("give the challenge a title"))
        limits = limits or Limits()
        for name, value in (("max_params", limits.max_params), ("max_epochs", limits.max_epochs),
                            ("max_seconds", limits.max_seconds)):
            if value is not None and not value > 0:
                raise ChallengeError(N_("{limit} must be above 0").format(limit=name))
        from fmnist.challenge.limits import check_locked

        bad = check_locked(limits.locked)
        if bad:
            raise ChallengeError("; ".join(f"{k}: {v}" for k, v in bad.items()))
        for _try in range(20):
            cid = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            row = ChallengeRow(id=cid, title=title[:200], task=str(task or "").strip(), max_params=limits.max_params,
                               max_epochs=limits.max_epochs, max_seconds=limits.max_seconds,
                               allow_conv=limits.allow_conv, locked=json.dumps(dict(limits.locked)),
                               split_seed=limits.split_seed, val_size=limits.val_size, closes_at=closes_at,
                               closed=False, revealed=False, created_at=now())
            try:
                with self._session.begin() as s:
                    s.add(row)
                return _challenge_info(row)
            except IntegrityError:
                continue
        raise ChallengeError("could not find a free challenge id")

    def check_admin(self, password: str | None) -> None:
        expected = self._admin_password or env.get("FMNIST_ADMIN_PASSWORD")
        if not expected:
            raise AdminError("no admin password is set on this server (FMNIST_ADMIN_PASSWORD): nobody may do this")
        if not password or not hmac.compare_digest(str(password).encode(), expected.encode()):
            raise AdminError("wrong admin password")

    def _set(self, cid: str, password: str | None, **values) -> ChallengeInfo:
        self.check_admin(password)
        with self._session.begin() as s:
            row = s.get(ChallengeRow, cid)
            if row is None:
                raise ChallengeError(N_("no challenge {id}").format(id=cid))
            for k, v in values.items():
                setattr(row, k, v)
            return _challenge_info(row)

    def reveal(self, cid: str, password: str | None, revealed: bool = True) -> ChallengeInfo:
        return self._set(cid, password, revealed=revealed)

    def close_challenge(self, cid: str, password: str | None, closed: bool = True) -> ChallengeInfo:
        return self._set(cid, password, closed=closed)

    def hide(self, cid: str, entry_id: int, reason: str, password: str | None, hidden: bool = True) -> None:
        self.check_admin(password)
        reason = str(reason or "").strip()
        if hidden and not reason:
            raise ChallengeError(N_("say why the run is hidden: its owner sees the reason"))
        with self._session.begin() as s:
            done = s.execute(update(EntryRow).where(EntryRow.id == entry_id, EntryRow.challenge_id == cid)
                             .values(hidden=hidden, hidden_reason=reason if hidden else None)).rowcount
            if not done:
                raise ChallengeError(N_("no such run in this challenge"))

    def clear(self, cid: str, password: str | None) -> int:
        """Removes this challenge's entries and names (nothing of another challenge); how many entries went."""
        self.check_admin(password)
        with self._session.begin() as s:
            gone = s.execute(delete(EntryRow).where(EntryRow.challenge_id == cid)).rowcount
            s.execute(delete(StudentRow).where(StudentRow.challenge_id == cid))
        return gone

    def export_csv(self, cid: str, password: str | None) -> str:
        """Every entry, ranked or not, hidden or not, with its test accuracy: the teacher's copy."""
        self.check_admin(password)
        board = self.board(cid)
        ranks = {r.entry.id: r for r in board.rows}
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["rank", "name", "val_acc", "test_acc", "params", "seconds", "network", "when", "best_of_student",
                    "hidden", "hidden_reason", "not_ranked_because", "entry"])
        for e in board.entries:
            row = ranks.get(e.id)
            w.writerow([row.rank if row else "", e.name, e.val_acc, e.test_acc, e.params, round(e.seconds, 2),
                        e.network, e.created_at.isoformat(timespec="seconds") + "Z", bool(row), e.hidden,
                        e.hidden_reason or "", e.broken or "", e.id])
        return out.getvalue()

    # Everyone's.
    def get(self, cid: str) -> ChallengeInfo | None:
        if not cid:
            return None
        with self._session() as s:
            row = s.get(ChallengeRow, str(cid).strip().lower())
            return _challenge_info(row) if row else None

    def require(self, cid: str) -> ChallengeInfo:
        found = self.get(cid)
        if found is None:
            raise ChallengeError(N_("no challenge {id}").format(id=cid))
        return found

    def board(self, cid: str) -> Board:
        """The challenge and its board, in one query (the challenge's row joined to its entries)."""
        with self._session() as s:
            joined = select(ChallengeRow, EntryRow).outerjoin(EntryRow, EntryRow.challenge_id == ChallengeRow.id)
            rows = s.execute(joined.where(ChallengeRow.id == str(cid).strip().lower())).all()
        if not rows:
            raise ChallengeError(N_("no challenge {id}").format(id=cid))
        challenge = _challenge_info(rows[0][0])
        return rank(challenge, [_entry_info(e) for _c, e in rows if e is not None])

    def join(self, cid: str, name: str, owner: str) -> str:
        """Holds `name` in the challenge for `owner` and returns it as kept; ChallengeError when it is taken by
        someone else (names are compared without case) or not a name."""
        name = clean_name(name)
        challenge = self.require(cid)
        with self._session.begin() as s:
            held = s.execute(select(StudentRow).where(StudentRow.challenge_id == challenge.id,
                                                      StudentRow.name_key == name.casefold())).scalar_one_or_none()
            if held is not None:
                if held.owner != owner:
                    raise ChallengeError(N_("{name} is taken in this challenge: choose another name").format(
                        name=name))
                return held.name
            s.add(StudentRow(challenge_id=challenge.id, name=name, name_key=name.casefold(), owner=owner,
                             joined_at=now()))
        return name

    def enter(self, cid: str, name: str, owner: str, figures: dict | None = None, broken: str | None = None,
              checkpoint: str | None = None) -> EntryInfo:
        """One run on the board, in one transaction. `figures` as fmnist.challenge.limits.entry_figures makes them;
        `broken`: why it is listed apart (a limit, stopped early). A closed challenge takes no more runs."""
        figures = dict(figures or {})
        name = self.join(cid, name, owner)
        challenge = self.require(cid)
        if not challenge.is_open():
            raise ChallengeError(CLOSED)
        row = EntryRow(challenge_id=challenge.id, name=name, owner=owner, val_acc=figures.get("val_acc"),
                       test_acc=figures.get("test_acc"), params=figures.get("params"),
                       seconds=float(figures.get("seconds") or 0.0), network=str(figures.get("network", ""))[:300],
                       config=json.dumps(figures.get("config") or {}), checkpoint=checkpoint, created_at=now(),
                       hidden=False, broken=broken)
        with self._session.begin() as s:
            s.add(row)
        return _entry_info(row)

    def entry(self, cid: str, entry_id: int) -> EntryInfo | None:
        with self._session() as s:
            row = s.get(EntryRow, int(entry_id))
            return _entry_info(row) if row is not None and row.challenge_id == cid else None


_stores: dict[tuple[str, str | None], ChallengeStore] = {}
_lock = threading.Lock()


def store(url: str | None = None, admin_password: str | None = None) -> ChallengeStore:
    """One ChallengeStore (and its connection pool) per URL in this process."""
    key = (url or default_url(), admin_password)
    with _lock:
        if key not in _stores:
            _stores[key] = ChallengeStore(key[0], admin_password)
        return _stores[key]

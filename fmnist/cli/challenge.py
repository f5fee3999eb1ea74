"""`python -m fmnist challenge create | board | reveal | close`: a class challenge from a terminal, and what `train
--challenge ID --name NAME` needs to enter a run on its board (refused before training, exit 2, when it breaks a
limit)."""

from __future__ import annotations

import sys
from datetime import timedelta

from fmnist import env
from fmnist.cli.common import UsageError, emit
from fmnist.config.settings import BY_NAME
from fmnist.config.text import PARSERS

DEFAULT_APP = "http://localhost:8501"
PAGE = "class"  # the Class page's address (app.py)


def link(cid: str, app: str = DEFAULT_APP) -> str:
    return f"{app.rstrip('/')}/{PAGE}?challenge={cid}"


def _store():
    from fmnist.challenge import store

    return store()


def _locked(items: list[str]) -> dict:
    locked = {}
    for item in items or []:
        name, eq, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or name not in BY_NAME:
            raise UsageError(f"--lock {item!r}: use SETTING=VALUE with a setting of `train` (like optimizer=adam)")
        setting = BY_NAME[name]
        try:
            locked[name] = PARSERS[setting.kind](text.strip())
        except ValueError as exc:
            raise UsageError(f"--lock {item!r}: {exc}") from None
        if isinstance(locked[name], tuple):
            locked[name] = list(locked[name])
    return locked


def cmd_create(args) -> int:
    from fmnist.challenge import ChallengeError, Limits
    from fmnist.challenge.store import now

    limits = Limits(args.max_params, args.max_epochs, args.max_seconds, args.cnn, _locked(args.lock))
    closes = now() + timedelta(minutes=args.closes_in) if args.closes_in else None
    try:
        c = _store().create(args.title, args.task or "", limits, closes)
    except ChallengeError as exc:
        raise UsageError(str(exc)) from None
    url = link(c.id, args.app)
    emit(args, {**c.as_dict(), "link": url}, f"Challenge {c.id}: {c.title}\nStudents join at {url}\n"
                                             f"Board: python -m fmnist challenge board {c.id}")
    return 0


def _pct(v) -> str:
    return "-" if v is None else f"{v:.2f}%"


def cmd_board(args) -> int:
    from fmnist.challenge import ChallengeError

    try:
        board = _store().board(args.id)
    except ChallengeError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        emit(args, board.as_dict(), "")
        return 0
    c = board.challenge
    print(f"{c.title} ({c.id}){' - closed' if not c.is_open() else ''}")
    if c.task:
        print(c.task)
    test = " test acc  moved" if board.revealed else ""
    print(f"{'rank':>4}  {'name':<32} {'val acc':>8}{test} {'params':>10} {'time':>7}  network")
    for r in board.rows:
        extra = f" {_pct(r.entry.test_acc):>8} {r.moved:+6d}" if board.revealed else ""
        print(f"{r.rank:>4}  {r.name:<32} {_pct(r.entry.val_acc):>8}{extra} {r.entry.params or 0:>10,} "
              f"{r.entry.seconds:>6.1f}s  {r.entry.network}")
    if board.apart:
        print("Not ranked:")
        for e in board.apart:
            print(f"      {e.name:<32} {e.broken}")
    return 0


def admin_password(args) -> str:
    """--password, else FMNIST_ADMIN_PASSWORD itself (a terminal that has it set is the teacher's); says which."""
    if not env.get("FMNIST_ADMIN_PASSWORD"):
        raise UsageError("no admin password is set (FMNIST_ADMIN_PASSWORD): the teacher's commands are off")
    if args.password is not None:
        print("admin password: from --password", file=sys.stderr)
        return args.password
    print("admin password: from FMNIST_ADMIN_PASSWORD", file=sys.stderr)
    return env.get("FMNIST_ADMIN_PASSWORD") or ""


def _admin(args, op) -> int:
    from fmnist.challenge import AdminError, ChallengeError

    try:
        c = op(_store(), args.id, admin_password(args))
    except (AdminError, ChallengeError) as exc:
        raise UsageError(str(exc)) from None
    emit(args, c.as_dict(), f"Challenge {c.id}: {'closed' if not c.is_open() else 'open'}, test accuracy "
                            f"{'revealed' if c.revealed else 'hidden'}")
    return 0


def cmd_reveal(args) -> int:
    return _admin(args, lambda s, cid, p: s.reveal(cid, p))


def cmd_close(args) -> int:
    return _admin(args, lambda s, cid, p: s.close_challenge(cid, p))


# What `train --challenge` calls.
def prepare_run(args, config):
    """Before training: the challenge's split on the config, every limit checked, the name held. UsageError (exit 2)
    with the broken limit."""
    from fmnist.challenge import ChallengeError, broken_limits, challenge_config

    if args.recover:
        raise UsageError("--challenge enters new runs only; leave out --recover")
    if not args.name:
        raise UsageError("--challenge needs --name NAME: the name shown on the board")
    s = _store()
    try:
        c = s.require(args.challenge)
        if not c.is_open():
            raise UsageError(f"challenge {c.id} is closed")
        config = challenge_config(c.limits, config, val_size_given=args.val_size is not None).validated()
        broken = broken_limits(c.limits, config)
        if broken:
            raise UsageError(f"challenge {c.id} does not allow this run: " + "; ".join(map(str, broken)))
        name = s.join(c.id, args.name, owner())
    except ChallengeError as exc:
        raise UsageError(str(exc)) from None
    return config, c, name


def owner() -> str:
    from fmnist.store.checkpoints import MACHINE_OWNER

    return MACHINE_OWNER


def enter_run(args, challenge, name: str, result, over_time: bool, checkpoint: str | None) -> None:
    from fmnist.challenge import ChallengeError, entry_figures
    from fmnist.challenge.limits import OVER_TIME, STOPPED_EARLY

    figures = entry_figures(result.config, result.history, result.test_acc, result.elapsed_s, result.best_epoch)
    broken = None
    if over_time:
        broken = OVER_TIME.format(seconds=f"{result.elapsed_s:.0f}", max=f"{challenge.limits.max_seconds:g}")
    elif result.stopped:
        broken = STOPPED_EARLY
    try:
        e = _store().enter(challenge.id, name, owner(), figures, broken, checkpoint)
    except ChallengeError as exc:
        print(f"not entered on challenge {challenge.id}: {exc}", file=sys.stderr)
        return
    where = f"listed apart: {broken}" if broken else f"validation accuracy {_pct(e.val_acc)}"
    emit(args, {"challenge": challenge.id, "entry": e.id, "name": e.name, "val_acc": e.val_acc, "broken": broken},
         f"Entered on challenge {challenge.id}'s board as {e.name}: {where}")


def add_parser(sub) -> None:
    ch = sub.add_parser("challenge", help="a class challenge: create one, print its board, reveal, close")
    cs = ch.add_subparsers(dest="challenge_command", required=True)
    c = cs.add_parser("create", help="a new challenge; prints its id and the link students join by")
    c.add_argument("--title", required=True)
    c.add_argument("--task", help="what the students are asked to do, shown on every page")
    c.add_argument("--max-params", type=int, help="at most this many parameters")
    c.add_argument("--max-epochs", type=int, help="at most this many epochs")
    c.add_argument("--max-seconds", type=float, help="at most this many seconds of training (a longer run is stopped "
                                                     "and listed apart)")
    c.add_argument("--cnn", action="store_true", help="convolution blocks allowed (without it: MLPs only)")
    c.add_argument("--lock", action="append", metavar="SETTING=VALUE", help="a setting every run must have")
    c.add_argument("--closes-in", type=float, metavar="MINUTES", help="closes this many minutes from now")
    c.add_argument("--app", default=DEFAULT_APP, help=f"the app's address, for the link (default {DEFAULT_APP})")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_create)
    b = cs.add_parser("board", help="the board: each student's best run by validation accuracy")
    b.add_argument("id")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_board)
    for name, func, text in (("reveal", cmd_reveal, "show test accuracy on the board (admin)"),
                             ("close", cmd_close, "take no more runs (admin)")):
        a = cs.add_parser(name, help=text)
        a.add_argument("id")
        a.add_argument("--password", help="the admin password (default: FMNIST_ADMIN_PASSWORD itself)")
        a.add_argument("--json", action="store_true")
        a.set_defaults(func=func)

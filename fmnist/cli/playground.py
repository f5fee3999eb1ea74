"""`python -m fmnist playground`: a tiny network on 2-D points, trained and scored from a terminal."""

from __future__ import annotations

from fmnist.cli.common import UsageError, arg_type, emit
from fmnist.playground import ACTIVATIONS as PLAYGROUND_ACTIVATIONS
from fmnist.playground import DATASETS as PLAYGROUND_DATASETS


def _playground_hidden(text: str) -> tuple[int, ...]:
    """`0` (or an empty text) is no hidden layer; `4,4` two layers of 4."""
    widths = arg_type(tuple)(text)
    return () if widths == (0,) else widths


def _names(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def cmd_playground(args) -> int:
    from fmnist.playground import Setup, SetupError, bench, stuck_message, train

    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    if args.every is not None and args.every < 1:
        raise UsageError("--every must be at least 1")
    fields = {"dataset", "points", "noise", "train_fraction", "seed", "features", "hidden", "activation", "lr",
              "batch_size", "l1", "l2"}
    try:
        setup = Setup().replace(**{k: v for k, v in vars(args).items() if k in fields and v is not None}).validated()
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    if args.bench:
        result = bench(setup)
        emit(args, result, f"{result['network']}: one step + one {result['grid']} grid pass: median "
                            f"{result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, "
                            f"min {result['min_ms']:.2f} ms; CPU time median {result['cpu_median_ms']:.2f} ms "
                            f"({result['repeats']} repeats)")
        return 0
    if not args.json:
        print(f"Training {setup.describe()} on {setup.points} points ({setup.n_train} for training), "
              f"{args.steps} steps", flush=True)
    for ev in train(setup, args.steps, args.every):
        m = ev.metrics
        line = m.as_dict()
        text = (f"step {m.step:>6}  train loss {m.train_loss:.4f}  train acc {m.train_acc:.1f}%  "
                f"test loss {m.test_loss:.4f}  test acc {m.test_acc:.1f}%")
        if ev.kind == "done":
            line.update(summary=True, elapsed_s=round(ev.elapsed_s, 3), stuck=ev.stuck)
            text = f"Done: {text.strip()}  [{ev.elapsed_s:.2f} s]" + (f"\n{stuck_message(setup)}" if ev.stuck else "")
        emit(args, line, text)
    return 0


def add_parser(sub) -> None:
    g = sub.add_parser("playground", help="a tiny network on 2-D points (XOR, circles, gaussians, spirals)")
    g.add_argument("--dataset", choices=PLAYGROUND_DATASETS, help="the points (default xor)")
    g.add_argument("--points", type=int, help="number of points, both classes (default 400)")
    g.add_argument("--noise", type=arg_type(float), help="0 = clean to 1 = heavy overlap (default 0)")
    g.add_argument("--train-fraction", type=arg_type(float), help="share of the points to train on (default 0.5)")
    g.add_argument("--features", type=_names, help="inputs, comma-separated, from x1,x2,x1^2,x2^2,x1*x2,sin x1,"
                                                     "sin x2 (default x1,x2)")
    g.add_argument("--hidden", type=_playground_hidden,
                   help="hidden layer widths (1-8 units, 0-6 layers): 0 = none, 4,4 = two layers (default 2)")
    g.add_argument("--activation", choices=PLAYGROUND_ACTIVATIONS, help="hidden activation (default tanh)")
    g.add_argument("--lr", type=arg_type(float), help="learning rate (default 0.03)")
    g.add_argument("--batch-size", type=int, help="batch size (default 10)")
    g.add_argument("--l1", type=arg_type(float), help="L1 regularisation rate (default 0)")
    g.add_argument("--l2", type=arg_type(float), help="L2 regularisation rate (default 0)")
    g.add_argument("--seed", type=int, help="draws the points and the initial weights (default 0)")
    g.add_argument("--steps", type=int, default=2000, help="training steps, one batch each (default 2000)")
    g.add_argument("--every", type=int, help="a progress line every N steps (default: ten lines)")
    g.add_argument("--bench", action="store_true",
                   help="instead of training, time one step plus one 80x80 grid pass of this network")
    g.add_argument("--json", action="store_true", help="one JSON object per line; accuracies in percent")
    g.set_defaults(func=cmd_playground)

"""How long a Train-page-sized chart takes to serialise with the standard library's json and with orjson, as
docs/benchmarks.md records it.

    .venv/bin/python tests/perf/chart_json.py [--repeats 200] [--json]

A standalone script, not a test. The figure is the issue's: six curves of 2,000 points (Python lists, as the app's
chart builders pass them) and a 10 x 40 heatmap. Each engine serialises it the way Streamlit's st.plotly_chart does,
`plotly.io.to_json(figure, validate=False)`, with plotly's engine named: "json" (what the app used before orjson was
a requirement) and "orjson" (what plotly picks by itself once orjson is installed). Prints the median and the
fastest repeat of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio


def figure() -> go.Figure:
    rng = np.random.default_rng(0)
    fig = go.Figure()
    steps = list(range(1, 2001))
    for k in range(6):
        loss = (2.3 * np.exp(-np.arange(2000) / (300 + 50 * k)) + rng.normal(0, 0.05, 2000)).tolist()
        fig.add_trace(go.Scatter(x=steps, y=loss, mode="lines", name=f"run {k}"))
    fig.add_trace(go.Heatmap(z=rng.uniform(50, 100, (10, 40)).tolist(), xaxis="x2", yaxis="y2"))
    return fig


def timing(fig: go.Figure, engine: str, repeats: int) -> dict:
    pio.to_json(fig, validate=False, engine=engine)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        pio.to_json(fig, validate=False, engine=engine)
        times.append((time.perf_counter() - t) * 1000)
    return {"engine": engine, "median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    fig = figure()
    same = json.loads(pio.to_json(fig, validate=False, engine="json")) == json.loads(
        pio.to_json(fig, validate=False, engine="orjson"))
    results = [timing(fig, engine, args.repeats) for engine in ("json", "orjson")]
    default = pio.json.config.default_engine
    for r in results:
        print(json.dumps(r) if args.json else
              f"{r['engine']:>6}: median {r['median_ms']:.2f} ms, fastest {r['min_ms']:.2f} ms ({args.repeats} times)")
    print(f"plotly {plotly.__version__}, default engine {default!r}, same JSON from both: {same}")


if __name__ == "__main__":
    main()

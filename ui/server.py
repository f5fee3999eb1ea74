"""`python -m ui.server [options of streamlit run]`: the app's server, as `make run` starts it.

It is `streamlit run app.py` after a warm-up.

The first visitor's script run used to pay the server's one-time costs: importing numpy, plotly and the pages'
modules, Babel's reading of the Korean catalog, Streamlit's compiling of its emoji pattern (its first widget with
options needs it) and its first look at the call stack. That was about 0.8 s of the first page's 1.0 s of script on
this 2-core machine, while the server had idled since it started. Paid here, before the server listens, they are
done when its health URL first answers "ok".

Torch stays out of this process: the spare training worker (fmnist.runs.jobs) imports it in a process of its own.

`streamlit run app.py` still works, with a slower first page and first run.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import threading
from collections.abc import Sequence

from fmnist import env

ROOT = env.ROOT
SPARE_AFTER_S = 5.0

# What app.py, the Playground (the root's page) and the Train page import, and the heavy modules those import later,
# at their first use.
WARM_MODULES = (
    "numpy",
    "plotly.graph_objects",
    "fmnist.playground",
    "ui.playground.controls",
    "ui.playground.state",
    "ui.playground.charts",
    "ui.playground.live_charts",
    "streamlit.emojis",  # a large pattern compiled at import: segmented controls and pills use it for their options
    "ui.i18n",
    "ui.language",
    "ui.session",
    "ui.style",
    "ui.router",
    "ui.train.sidebar",
    "ui.train.run_view",
    "ui.inspect.step_view",
    "ui.inspect.network_charts",
    "ui.tables",
    "ui.train.model_view",
    "fmnist.model.architecture",
    "fmnist.runs.jobs",
)


def warm() -> None:
    """Imports WARM_MODULES and reads the translation catalogs, in this process; imports no torch."""
    # st.cache_data checks its arguments when a module defines a cached function, and before the runtime exists it
    # warns that it uses a memory cache for the check; the calls, later, use the runtime's caches.
    import streamlit.runtime.caching.cache_data_api  # noqa: F401  (it makes its logger; set its level after)

    quiet = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for name in WARM_MODULES:
            importlib.import_module(name)
    finally:
        quiet.setLevel(level)
    from ui.i18n import catalog

    catalog("ko")
    draw_first_page()
    # Streamlit asks once, at a process's first element, whether it runs in a REPL: inspect.stack(), whose first call
    # maps every loaded module to its file (0.07-0.1 s here). Done now, the first page's call finds that map made.
    inspect.stack()


def prefetch_after(seconds: float) -> None:
    """The default model's test-set predictions, asked of the spare worker `seconds` from now unless they are kept on
    disk already (fmnist.runs.inference.prefetch): a fresh server's first Evaluate then only reads them. Its page
    waited for the worker to classify the 10,000 images otherwise (1.5 s of a core for the shipped model)."""
    from fmnist.runs import inference
    from fmnist.runs.jobs import pool
    from fmnist.store import checkpoints

    path = env.checkpoint_dir() / (checkpoints.DEFAULT_NAME + checkpoints.SUFFIX)
    if path.is_file():
        timer = threading.Timer(seconds, inference.prefetch, args=(pool().inference, str(path)))
        timer.daemon = True
        timer.start()


def draw_first_page() -> None:
    """The Playground's first figures, made once and dropped: what they import at their first use (numpy.random,
    plotly's figure parts and its JSON writer) is then imported before the first visitor's page makes them."""
    import plotly.io

    from fmnist.playground import Playground, Setup
    from ui.playground import charts

    pg = Playground(Setup())
    grid = pg.grid()
    for figure in (charts.surface_figure(pg, grid, True), charts.network_figure(pg, grid),
                   charts.loss_figure([pg.metrics()])):
        plotly.io.to_json(figure)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    warm()
    # The spare worker starts after the first page (app.py), or SPARE_AFTER_S after the server is up when nobody has
    # come yet, so that a visitor who comes later finds it ready: its import of torch takes seconds of a core, which
    # a first page drawn beside it felt (about 0.3 s later on this machine).
    from streamlit.web.cli import main as streamlit

    from fmnist.runs.jobs import pool

    pool().ensure_spare_after(SPARE_AFTER_S)
    prefetch_after(SPARE_AFTER_S)

    return streamlit(["run", str(ROOT / "app.py"), *args], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())

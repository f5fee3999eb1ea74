"""ui/server.py, what `make run` starts: the warm-up before the server listens imports what the first page needs and
no torch, quietly; the first page then finds the work done."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_warm_up_imports_the_first_pages_modules_and_no_torch():
    out = fresh("import sys, ui.server\nui.server.warm()\n"
                "print(sorted(m for m in ('torch', 'torchvision', 'pandas') if m in sys.modules))\n"
                "print(all(m in sys.modules for m in ui.server.WARM_MODULES))")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "True"]
    assert "No runtime found" not in out.stderr  # st.cache_data's check at import, before the runtime, kept quiet
    assert "WARNING" not in out.stderr


def test_the_first_script_run_after_the_warm_up_imports_nothing_heavy():
    """The first page's first run (the Playground's, at the root), as AppTest runs it in a warmed interpreter,
    imports none of the heavy packages (without the warm-up it imports numpy and plotly, 0.3-0.5 s of the first page
    here)."""
    code = ("import sys, ui.server\nui.server.warm()\nbefore = set(sys.modules)\n"
            "from streamlit.testing.v1 import AppTest\nafter_apptest = set(sys.modules)\n"
            "at = AppTest.from_file('app.py', default_timeout=60)\nat.run()\nassert not at.exception, at.exception\n"
            "new = set(sys.modules) - after_apptest\n"
            "print(sorted(m.split('.')[0] for m in new if m.split('.')[0] in "
            "('numpy', 'plotly', 'pandas', 'pyarrow', 'babel', 'torch')))")
    out = fresh(code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"

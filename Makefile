# make run: set up and start the app. make test: set up and run ruff and the whole test suite.
# Each target creates .venv when missing and reinstalls only when a requirements file changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# `make test` runs the tests but the browser ones in this many processes (pytest-xdist), then the browser tests and
# those marked serial (timed checks, worker pools) in one process, alone: run one after another, the suite kept only
# 1.0 of the 2 cores busy. Browser tests spread over the processes were slower still: they compete for the CPU with
# the training tests and each process starts its own servers and browser.
TEST_WORKERS ?= 2
# Local by default: only this machine can open the app. `make serve` (or HOST=0.0.0.0) shares it on the network.
HOST ?= 127.0.0.1
APT_DATA := dataset-fashion-mnist

.PHONY: run serve test data browser postgres bench gpu-check lint messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-run
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Found locally (./data, FMNIST_DATA_DIR, Debian's package), else Debian's package when we may install it,
# else torchvision's download into ./data.
data: $(VENV)/.stamp-run
	@$(BIN)/python -m fmnist data --no-download 2>/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's $(APT_DATA) ..."; \
	    apt-get install -y -q $(APT_DATA) >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q $(APT_DATA) >/dev/null; } || true; \
	  fi; \
	  $(BIN)/python -m fmnist data; }

# The browser tests drive Debian's Chromium; without it (and without root to install it) they skip and say so.
# A Korean font lets Chromium draw the Korean pages (the tests read text, so they pass without one).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Chromium for the browser tests ..."; \
	    apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "Chromium not found and cannot be installed here: browser tests will be skipped"; fi; }
	@fc-list :lang=ko 2>/dev/null | grep -q . || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing a Korean font (fonts-nanum) for the Korean pages' screenshots ..."; \
	    apt-get install -y -q fonts-nanum >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q fonts-nanum >/dev/null; } || true; \
	  else echo "No Korean font found: Korean text in screenshots will show as boxes (apt-get install fonts-nanum)"; fi; }

# The sweep test against PostgreSQL starts a server from Debian's postgresql binaries; without them (and without root
# to install them) it skips and says so.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing PostgreSQL for the sweep tests ..."; \
	    apt-get install -y -q postgresql >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; \
	  else echo "PostgreSQL not found and cannot be installed here: its sweep test will be skipped"; fi; }

run: data
	@[ "$(HOST)" != 0.0.0.0 ] || $(BIN)/python -m fmnist.addresses $(PORT)
	$(BIN)/python -m ui.server --server.address $(HOST) --server.port $(PORT)

# Every interface: for a class or a team. Prints the addresses to hand out; see README "Sharing the app".
serve:
	@$(MAKE) --no-print-directory run HOST=0.0.0.0

test: data browser postgres $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser and not serial"
	$(BIN)/python -m pytest -m "browser or serial"

# On a machine with a CUDA GPU: the tests marked gpu (graph against eager, presets, the app's worker, the bench),
# then the bench on CUDA with its 20 seed-preset epochs end to end. A machine without a network whose Python already
# has PyTorch, NumPy, safetensors and pytest (Streamlit is not needed) runs it with that Python, installing nothing:
# `make gpu-check GPU_PYTHON=python3`, with the dataset's four .gz files found as `python -m fmnist data` finds them.
GPU_PYTHON ?=
GPU_PY := $(or $(GPU_PYTHON),$(BIN)/python)
gpu-check: $(if $(GPU_PYTHON),,data $(VENV)/.stamp-dev)
	@$(GPU_PY) -c "import sys, torch; ok = torch.cuda.is_available(); print('torch', torch.__version__, '|', \
	  torch.cuda.get_device_name() if ok else 'PyTorch sees no CUDA GPU here: make gpu-check needs one'); sys.exit(not ok)"
	$(GPU_PY) -m fmnist data --no-download
	$(GPU_PY) -m pytest tests/test_gpu.py -v -rs
	$(GPU_PY) -m fmnist bench --device cuda --json

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# After changing the app's text: gather every _() / N_() message into locales/messages.pot and add the new ones to
# the Korean catalog (empty, for a translator; tests/test_i18n.py fails until each has its Korean text).
messages: $(VENV)/.stamp-run
	$(BIN)/pybabel -q extract --no-location --sort-output -o locales/messages.pot app.py pages ui fmnist
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i locales/messages.pot -d locales -l ko

bench: data
	$(BIN)/python -m fmnist bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts data/FashionMNIST
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

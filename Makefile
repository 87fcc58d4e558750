# Every target installs what it needs on first use: a fresh clone needs only python3, gcc, make, git.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REPORTS := build/reports
CONFIG ?= configs/mnist.yaml
QUICK  ?= 0

.PHONY: all sim test train bench clean distclean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The main job. Until the RTL co-simulation lands (issue 3) it runs the model's
# default experiment on a few images: learning and inference, pruning on and off.
sim: $(STAMP)
	$(PY) -m model.experiment --config configs/tiny.yaml --quick --out $(REPORTS)/sim_model_tiny.json
	$(PY) -m model.experiment --config $(CONFIG) --quick --out $(REPORTS)/sim_model_mnist.json

test: $(STAMP)
	$(PY) -m pytest -q

# Trains both layers with and without pruning on the MNIST subset (checkpoints under build/ckpt).
train: $(STAMP)
	$(PY) -m model.experiment --config $(CONFIG) --float --out $(REPORTS)/train.json $(if $(filter 1,$(QUICK)),--quick,)

bench: $(STAMP)
	$(PY) -m model.bench --config $(CONFIG) --out $(REPORTS)/bench_model.json $(if $(filter 1,$(QUICK)),--quick,)

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)

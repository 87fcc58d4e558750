"""Nothing hangs: a block that never finishes (the integrate engine's sequencer with its enable
removed, hw/integrate.py ``stalled_sequencer``) fails within its cycle limit (sim/stall.py),
naming the command, the cycles waited and the cycles the cycle model expects -- in Amaranth's
simulator (the engine, the layer core, the board link's host driver) and in Verilator."""
import re

import pytest
from amaranth.sim import Simulator

from conftest import core_case, layer_input, random_synapses
from hw import core as hc
from hw.integrate import IntegrateEngine
from cycles.core import core_command
from cycles.layout import EngineLayout
from cycles.integrate import integrate_pass
from sim import core_driver as cd
from sim import engine_driver as drv
from sim.stall import MARGIN, StallError, cycle_limit

STALL = frozenset({"stalled_sequencer"})


def assert_names_the_stall(message: str, command: str, expected: int) -> None:
    limit = cycle_limit(expected)
    assert f"{command}: not done after {limit} cycles" in message, message
    assert f"the cycle model expects {expected} " in message, message
    assert limit == 2 * expected + MARGIN


def engine_case(tiny_net):
    cfg, net, times = tiny_net
    x = layer_input(net, 0, times[1:2])
    weights, active = random_synapses(net, 0, 2, 0.5)
    lay = EngineLayout.for_input(cfg, 0, 4, x)
    return lay, x[0], weights, active, net.thresholds[0]


def run_amaranth(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_cycle_limit_is_twice_the_prediction_plus_a_margin():
    assert cycle_limit(0) == MARGIN and cycle_limit(500) == 1000 + MARGIN
    with pytest.raises(ValueError, match="expected cycles -1"):
        cycle_limit(-1)


@pytest.mark.timeout(120)
def test_stalled_engine_fails_within_its_limit_amaranth(tiny_net):
    lay, x, w, active, th = engine_case(tiny_net)
    expected = integrate_pass(lay, x, w, active, th).cycles
    dut = IntegrateEngine(lay, STALL)
    seen = {}

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await drv.load(bus, lay, x, w, active, th)
        start = ctx.get(dut.cycle)
        with pytest.raises(StallError) as info:
            await drv.run(bus, lay, expected, {"image": 1})
        seen.update(error=info.value, cycles=ctx.get(dut.cycle) - start, busy=ctx.get(dut.busy))

    run_amaranth(dut, bench)
    err = seen["error"]
    assert_names_the_stall(str(err), "integrate pass", expected)
    assert (err.command, err.waited, err.expected) == ("integrate pass", cycle_limit(expected), expected)
    assert "'image': 1" in str(err)
    # It stopped at its limit, the engine still busy: the wait, not the block, ended it.
    assert seen["busy"] and seen["cycles"] == cycle_limit(expected)


@pytest.mark.timeout(180)
def test_stalled_core_fails_within_its_limit_amaranth(tiny_net):
    c = core_case(tiny_net, 0, 3, 0, 1, prune=0.3)
    lay, fmt, lc = c["lay"], c["net"].arith, c["lc"]
    expected = core_command("learn", lay, fmt, lc, c["x"], c["weights"], c["active"],
                            c["threshold"], **c["learning"].stdp_args()).cycles
    dut = hc.LayerCore(lay, fmt, lc, STALL)
    seen = {}

    async def bench(ctx):
        bus = drv.AmaranthBus(ctx, dut)
        await cd.load_synapses(bus, lay, c["weights"], c["active"])
        await cd.load_image(bus, lay, c["x"], c["threshold"], learn=True)
        with pytest.raises(StallError) as info:
            await cd.run_command(bus, cd.CoreTrace(lay, fmt, lc), hc.CMD_LEARN, expected)
        seen["error"] = info.value

    run_amaranth(dut, bench)
    assert_names_the_stall(str(seen["error"]), "layer core learn", expected)


@pytest.mark.timeout(180)
def test_stalled_core_behind_the_board_link_fails_within_its_limit(tiny_net):
    """The host driver (boards/host.py) waits for RUN's reply at most the command's limit."""
    from boards.host import Board
    from boards.link import HostLink
    from boards.cosim import predict_command
    from boards.transport import StreamTransport
    c = core_case(tiny_net, 0, 4, 0, 3, prune=0.3)
    cfg, lay, fmt, lc = c["cfg"], c["lay"], c["net"].arith, c["lc"]
    expected = predict_command("infer", lay, fmt, lc, c["x"], c["weights"], c["active"],
                               c["threshold"])["cycles"]
    link = HostLink([hc.LayerCore(lay, fmt, lc, STALL, read_register=True)], timeout=60)
    transport = StreamTransport(link)
    board = Board(transport, cfg, 4, layers=[0])
    seen = {}

    async def bench(ctx):
        transport.ctx = ctx
        await board.load_synapses(0, c["weights"], c["active"])
        await board.load_image(0, c["x"], c["threshold"], learn=False)
        with pytest.raises(StallError) as info:
            await board.run(0, "infer", expected)
        seen["error"] = info.value
        seen["status"] = await board.status(0)       # the link still answers

    sim = Simulator(link)
    sim.add_clock(1e-8)
    sim.add_process(transport.collect)
    sim.add_testbench(bench)
    sim.run()
    assert_names_the_stall(str(seen["error"]), "RUN layer=0 cmd=infer", expected)
    assert seen["status"]["busy"] == 1 and seen["status"]["cycle"] > cycle_limit(expected)


@pytest.mark.timeout(1800)          # builds the stalled engine in Verilator
def test_stalled_engine_fails_within_its_limit_verilator(tiny_net):
    """The same stall under cocotb and Verilator: the trace check (sim/capture.py) gives up at
    the limit and the cocotb failure carries the message."""
    from sim import cosim
    lay, x, w, active, th = engine_case(tiny_net)
    expected = integrate_pass(lay, x, w, active, th).cycles
    with pytest.raises(AssertionError) as info:
        cosim.run_engine(lay, [x], w, active, th, {"config": "tiny"}, sim="verilator",
                         faults=STALL)
    message = re.sub(r"\s+", " ", str(info.value))
    assert "StallError" in message or "not done after" in message, message
    assert_names_the_stall(message, "integrate pass", expected)


@pytest.mark.timeout(1800)          # builds the stalled core in Verilator
def test_stalled_core_fails_within_its_limit_verilator(tiny_net):
    """The layer core's script inside the simulation (sim/host_script.py) gives up at the
    command's limit too."""
    from sim import cosim
    c = core_case(tiny_net, 0, 3, 0, 1, prune=0.3)
    lay, fmt, lc = c["lay"], c["net"].arith, c["lc"]
    expected = core_command("infer", lay, fmt, lc, c["x"], c["weights"], c["active"],
                            c["threshold"]).cycles
    with pytest.raises(AssertionError) as info:
        cosim.run_core(lay, fmt, lc, [{"cmd": "infer", "times_in": c["x"]}], c["weights"],
                       c["active"], c["threshold"], {"config": "tiny"}, sim="verilator",
                       faults=STALL)
    assert_names_the_stall(re.sub(r"\s+", " ", str(info.value)), "layer core infer", expected)


def test_every_test_has_a_time_limit(request, tmp_path):
    """pytest-timeout is on with a default limit (pyproject.toml), and a test past its limit
    fails naming the timeout while the run goes on."""
    import subprocess
    import sys
    assert float(request.config.getini("timeout")) > 0
    (tmp_path / "test_hang.py").write_text(
        "import time\nimport pytest\n\n\n@pytest.mark.timeout(2)\ndef test_hangs():\n"
        "    time.sleep(600)\n\n\ndef test_after():\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "test_hang.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    assert "Timeout (>2.0s)" in r.stdout and "1 failed, 1 passed" in r.stdout, r.stdout

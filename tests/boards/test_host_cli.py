"""The host CLI (boards/host.py): options before or after the subcommand, help that documents
them, lanes and layers read from the board's identify reply, and --sim, in which the same CLI
drives the simulated board top (cocotb on its UART pins, boards/bridge.py) and matches the
model."""
import pytest

from boards import protocol as p
from boards.host import Board, blocking, find_layout, main
from conftest import TINY


class Canned:
    """A transport that answers every IDENTIFY with the identity of ``board``."""

    def __init__(self, board):
        body = p.MAGIC + bytes([p.VERSION, len(board.layouts)]) + board.digest.to_bytes(4, "little")
        head = bytes([p.OK, p.OP_IDENTIFY]) + body
        self.frame = head + p.crc(head)
        self.pending = b""

    async def drain(self, settle=False):
        return 0

    async def write(self, data):
        self.pending += self.frame

    async def read(self, n):
        data, self.pending = self.pending[:n], self.pending[n:]
        return data


def test_options_after_the_subcommand(capsys):
    assert main(["identify", "--port", "/dev/no-such-tty", "--config", str(TINY)]) == 2
    err = capsys.readouterr().err
    assert "/dev/no-such-tty" in err and "cannot open serial port" in err


def test_subcommand_help_names_the_command_and_its_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["identify", "-h"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "usage: python -m boards.host identify" in out
    for option in ("--port", "--sim", "--config", "--lanes", "--layers", "--baud", "--timeout"):
        assert option in out, option


def test_where_the_board_is_must_be_said(capsys):
    with pytest.raises(SystemExit):
        main(["identify", "--config", str(TINY)])
    err = capsys.readouterr().err
    assert "--port /dev/ttyUSB1" in err and "--sim" in err


@pytest.mark.parametrize("lanes, layers", [(4, [0, 1]), (3, [1]), (6, [0])])
def test_lanes_and_layers_read_from_the_identify_reply(tiny_cfg, lanes, layers):
    transport = Canned(Board(None, tiny_cfg, lanes, layers))
    found_lanes, found_layers = find_layout(transport, tiny_cfg, None, None)
    # the digest names the layouts: a lane count above a layer's maps builds the same core
    assert Board(None, tiny_cfg, found_lanes, found_layers).digest == \
        Board(None, tiny_cfg, lanes, layers).digest and found_layers == layers
    assert blocking(Board(transport, tiny_cfg, found_lanes, found_layers)).check()


def test_sim_mode_identifies_and_runs_an_image_matching_the_model(capsys):
    assert main(["identify", "--sim", "--config", str(TINY), "--lanes", "4"]) == 0
    out = capsys.readouterr().out
    assert "layers conv1, conv2, 4 lanes" in out and "matches" in out
    assert main(["run-image", "--sim", "--config", str(TINY), "--lanes", "4", "--image", "2"]) == 0
    out = capsys.readouterr().out
    assert "matches the model" in out and "cycles:" in out

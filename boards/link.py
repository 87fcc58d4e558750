"""HostLink: the request/response protocol of boards/protocol.py over two byte streams, driving
the host interfaces of the layer cores (hw/core.py) of a network, one per layer.

One request is parsed at a time: its opcode and fields (``protocol.ARGS``) are gathered, checked
against the addressed layer's memory map and register limits (``protocol.memory_map``,
``register_limits``: generator constants), WRITE's words go into the write buffer as they
arrive (``protocol.WRITE_BUFFER_BYTES``), and after its CRC has checked out the request is carried
out -- a WRITE's words copied from the buffer to the core's write port, a word in 2 * bytes + 1
cycles -- and answered. A refused request reaches no core: no write, no register, no start.
READ walks the core's read port (data one cycle after the address), one word at a time, and
sends each word's bytes as it is read. RUN pulses the core's ``start`` and is answered when its ``done`` comes;
meanwhile requests keep being parsed (STATUS and IDENTIFY answered, the others BUSY).

A request that cannot be framed (unknown opcode, a WRITE to a missing layer or memory, a UART
framing error, which drops a byte) is swallowed until the line has been quiet for ``timeout``
cycles, then answered with its error; a request cut short is answered TIMEOUT the same way.
The link never waits for anything but bytes: every request gets exactly one reply.
"""
from contextlib import contextmanager

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from boards import protocol as p


class HostLink(wiring.Component):
    """``cores``: the network's LayerCores, layer 0 first (the link adds them as submodules).
    ``timeout``: quiet cycles that end a request cut short (give it several byte times)."""

    def __init__(self, cores, timeout: int):
        if not cores:
            raise ValueError("HostLink needs at least one layer core")
        if not isinstance(timeout, int) or timeout < 2:
            raise ValueError(f"timeout {timeout!r}: must be an integer >= 2 (clock cycles)")
        for i, c in enumerate(cores):
            if c.lc.winners > 255:
                raise ValueError(f"layer {i}: winners = {c.lc.winners}; the protocol's winner "
                                 "count is one byte (at most 255)")
        self.cores, self.timeout = list(cores), timeout
        self.maps = [p.memory_map(c.lay, c.lc) for c in cores]
        self.limits = [p.register_limits(c.lay, c.formats) for c in cores]
        self.digest = p.digest([c.lay for c in cores], cores[0].formats, [c.lc for c in cores])
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
                          "rx_error": In(1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cores, L = self.cores, len(self.cores)
        for i, c in enumerate(cores):
            m.submodules[f"core{i}"] = c

        # -- the request's fields ---------------------------------------------------------------
        op = Signal(8)
        args = Signal(8 * p.MAX_ARG_BYTES)
        n_args = Signal(range(p.MAX_ARG_BYTES + 1))
        err = Signal(8)
        # The CRCs of the request coming in and of the reply going out (protocol.CRC): the
        # request's is checked by the residue its own CRC bytes leave.
        m.submodules.rx_crc = rx_crc = p.CRC.create()
        m.submodules.tx_crc = tx_crc = p.CRC.create()
        crc_at = Signal(range(p.CRC_BYTES))   # the CRC byte taken or sent next

        def field(opcode, name):
            offset = 0
            for n, size in p.ARGS[opcode]:
                if n == name:
                    return args[8 * offset:8 * (offset + size)]
                offset += size
            raise KeyError(name)
        layer = field(p.OP_READ, "layer")
        mem, lane = field(p.OP_READ, "mem"), field(p.OP_READ, "lane")
        addr_arg, count = field(p.OP_READ, "addr"), field(p.OP_READ, "count")
        reg, value = field(p.OP_SET, "reg"), field(p.OP_SET, "value")
        cmd = field(p.OP_RUN, "cmd")

        args_len = Signal(range(p.MAX_ARG_BYTES + 1))
        known = Signal()
        with m.Switch(op):
            for code, fields in p.ARGS.items():
                with m.Case(code):
                    m.d.comb += [args_len.eq(sum(n for _, n in fields)), known.eq(1)]

        # -- command state -----------------------------------------------------------------------
        running = Signal()                    # from RUN's start until its reply begins
        run_layer = Signal(range(L))
        done_pending = Signal()
        m.d.comb += self.busy.eq(running)
        done_now = Signal()
        with m.Switch(run_layer):
            for i, c in enumerate(cores):
                with m.Case(i):
                    m.d.comb += done_now.eq(c.done)
        with m.If(running & done_now):
            m.d.sync += done_pending.eq(1)

        # -- checks of a request (combinational; latched when its fields are in) ---------------
        verdict = Signal(8)
        nb = Signal(range(5))                 # bytes per word of the addressed memory
        nb_now = Signal(range(5))
        cmd_ok = Signal()
        m.d.comb += cmd_ok.eq(cmd < len(p.CMDS))
        with m.If((op != p.OP_IDENTIFY) & (layer >= L)):
            m.d.comb += verdict.eq(p.ERR["LAYER"])
        with m.Elif(running & (op != p.OP_IDENTIFY) & (op != p.OP_STATUS)):
            m.d.comb += verdict.eq(p.ERR["BUSY"])
        with m.Elif((op == p.OP_WRITE) | (op == p.OP_READ)):
            m.d.comb += verdict.eq(p.ERR["MEMORY"])
            with m.Switch(layer):
                for i, mm in enumerate(self.maps):
                    with m.Case(i):
                        self._check_memory(m, mm, op, mem, lane, addr_arg, count, verdict, nb_now)
        with m.Elif(op == p.OP_SET):
            m.d.comb += verdict.eq(p.ERR["REGISTER"])
            with m.Switch(layer):
                for i, limits in enumerate(self.limits):
                    with m.Case(i):
                        with m.Switch(reg):
                            for r, name in enumerate(p.REGISTERS):
                                with m.Case(r):
                                    m.d.comb += verdict.eq(Mux(value > limits[name],
                                                               p.ERR["VALUE"], p.OK))
        with m.Elif((op == p.OP_RUN) & ~cmd_ok):
            m.d.comb += verdict.eq(p.ERR["VALUE"])

        # -- the configuration registers the cores hold their inputs from ---------------------
        config = []
        for c in cores:
            regs = {name: Signal.like(getattr(c, name), name=f"{name}_{len(config)}")
                    for name in p.REGISTERS}
            m.d.comb += [getattr(c, name).eq(r) for name, r in regs.items()]
            config.append(regs)

        # -- the cores' host ports: memories, start, winner index ------------------------------
        addr = Signal(24)                     # the word being written or read
        left = Signal(24)                     # words still to come
        bi = Signal(range(4))                 # byte of the word
        word = Signal(32)
        wdata = Signal(32)                    # the word so far with the buffer's byte
        wr_en, start = Signal(), Signal()
        win_idx = Signal(8)
        rd_data = Signal(32)
        for i, c in enumerate(cores):
            here = layer == i
            # The command and its start reach the core one cycle after EXECUTE, from registers:
            # the core's command decode then starts a cycle of its own instead of ending the
            # link's request decode (the ECP5 top's critical path, hw/README.md "Timing").
            m.d.sync += [c.start.eq(start & here), c.cmd.eq(cmd)]
            m.d.comb += [c.wr_en.eq(wr_en & here), c.wr_mem.eq(mem), c.wr_lane.eq(lane),
                         c.wr_addr.eq(addr), c.wr_data.eq(word), c.rd_mem.eq(mem),
                         c.rd_lane.eq(lane), c.rd_addr.eq(addr), c.win_idx.eq(win_idx)]
        # Each core's read word is registered before the reply takes it: a block RAM's read data
        # (5.8 ns on the ECP5) and the core's read multiplexers fill a cycle of their own, and
        # the choice of core comes after the registers.
        core_words = [Signal(32, name=f"core{i}_word") for i in range(len(cores))]
        read_latency = max(c.read_latency for c in cores)     # cycles from address to rd_data
        wait = Signal(range(read_latency + 1))
        m.d.sync += [w.eq(c.rd_data) for w, c in zip(core_words, cores)]
        with m.Switch(layer):
            for i, w in enumerate(core_words):
                with m.Case(i):
                    m.d.comb += rd_data.eq(w)

        # -- the write buffer: a WRITE's payload, copied to the core once its checksum is good --
        m.submodules.write_buffer = buffer = memory.Memory(shape=8, depth=p.WRITE_BUFFER_BYTES,
                                                           init=[])
        buf_w, buf_r = buffer.write_port(), buffer.read_port(transparent_for=())
        buf_at = Signal(range(p.WRITE_BUFFER_BYTES))      # the byte stored or read next
        m.d.comb += [buf_w.addr.eq(buf_at), buf_w.data.eq(self.rx.payload), buf_r.addr.eq(buf_at)]
        with m.Switch(bi):                    # the word so far with the buffer's byte
            for b in range(4):
                with m.Case(b):
                    m.d.comb += wdata.eq(word | (buf_r.data << (8 * b)))

        # -- reply bodies: identify, status and winners, a byte at a time ----------------------
        idx = Signal(16)
        body_len = Signal(16)
        body = Signal(8)
        ident = p.MAGIC + bytes([p.VERSION, L]) + self.digest.to_bytes(4, "little")
        ident_word = Const(int.from_bytes(ident, "little"), 8 * len(ident))
        status_len = sum(n for _, n in p.STATUS_FIELDS)
        win_k = Signal(16)
        m.d.comb += [win_k.eq(idx - 1), win_idx.eq(win_k >> 3)]
        status_byte, winner_byte, n_winners = Signal(8), Signal(8), Signal(8)
        with m.Switch(layer):
            for i, c in enumerate(cores):
                with m.Case(i):
                    flat = Cat(*(_sized(getattr(c, name), 8 * n) for name, n in p.STATUS_FIELDS))
                    wflat = Cat(*(_sized(getattr(c, f"win_{name}"), 8 * n)
                                  for name, n in p.WINNER_FIELDS))
                    m.d.comb += [status_byte.eq(flat.word_select(idx, 8)),
                                 winner_byte.eq(wflat.word_select(win_k[:3], 8)),
                                 n_winners.eq(c.n_winners)]
        # The body byte is registered (``body_q``) before it is sent: the status and winner
        # bytes come from the cores' registers across the die, and the transmitter and the
        # checksum adder behind them do not fit the same cycle (R_LOAD gives the register its
        # cycle; a byte takes 10 bit times on the line, so the reply is no slower).
        body_q = Signal(8)
        m.d.sync += body_q.eq(body)
        with m.Switch(op):
            with m.Case(p.OP_IDENTIFY):
                m.d.comb += body.eq(ident_word.word_select(idx, 8))
            with m.Case(p.OP_STATUS):
                m.d.comb += body.eq(status_byte)
            with m.Case(p.OP_WINNERS):
                m.d.comb += body.eq(Mux(idx == 0, n_winners, winner_byte))

        # -- the line going quiet in the middle of a request -------------------------------------
        quiet = Signal(range(self.timeout))
        timed_out = Signal()
        m.d.comb += timed_out.eq(quiet == self.timeout - 1)
        framing = Signal()                    # a framing error not yet answered
        with m.If(self.rx_error):
            m.d.sync += framing.eq(1)

        rx, tx = self.rx, self.tx
        got = Signal()                        # a request byte taken this cycle
        m.d.comb += got.eq(rx.valid & rx.ready)

        m.d.comb += rx_crc.data.eq(rx.payload)
        open_ = Signal()                      # a request is coming in: the quiet counter runs

        def listening():
            """The end of a request state: a framing error (a byte lost) or the line going
            quiet ends the request (called last: its transitions win)."""
            m.d.comb += open_.eq(1)
            with m.If(framing):
                m.d.sync += [framing.eq(0), err.eq(p.ERR["FRAMING"])]
                m.next = "DISCARD"
            with m.Elif(timed_out & ~rx.valid):
                m.d.sync += err.eq(p.ERR["TIMEOUT"])
                m.next = "R_STATUS"

        @contextmanager
        def sending(byte, first=False, crc=True):
            """Offer ``byte`` to the transmitter; the body runs in the cycle it is taken. The
            byte goes into the reply's CRC (``first``: starts it), unless it is the CRC."""
            m.d.comb += [tx.valid.eq(1), tx.payload.eq(byte)]
            if crc:
                m.d.comb += [tx_crc.data.eq(byte), tx_crc.valid.eq(tx.ready),
                             tx_crc.start.eq(first)]
            with m.If(tx.ready):
                yield

        with m.FSM():
            with m.State("IDLE"):
                with m.If(framing):
                    m.d.sync += [framing.eq(0), err.eq(p.ERR["FRAMING"]), op.eq(0)]
                    m.next = "DISCARD"
                with m.Elif(done_pending):    # the running command's reply
                    m.d.sync += [done_pending.eq(0), running.eq(0), op.eq(p.OP_RUN),
                                 err.eq(p.OK)]
                    m.next = "R_STATUS"
                with m.Else():
                    m.d.comb += rx.ready.eq(1)
                    m.d.comb += [rx_crc.start.eq(1), rx_crc.valid.eq(rx.valid)]
                    with m.If(rx.valid):
                        m.d.sync += [op.eq(rx.payload), n_args.eq(0), args.eq(0), err.eq(p.OK)]
                        m.next = "ARGS"
            with m.State("ARGS"):
                all_in = Signal()
                m.d.comb += [all_in.eq(n_args == args_len), rx.ready.eq(known & ~all_in)]
                with m.If(~known):
                    m.d.sync += err.eq(p.ERR["OPCODE"])
                    m.next = "DISCARD"
                with m.Elif(all_in):
                    m.next = "CHECKS"
                with m.Elif(rx.valid):
                    with m.Switch(n_args):
                        for b in range(p.MAX_ARG_BYTES):
                            with m.Case(b):
                                m.d.sync += args[8 * b:8 * b + 8].eq(rx.payload)
                    m.d.comb += rx_crc.valid.eq(1)
                    m.d.sync += n_args.eq(n_args + 1)
                listening()
            with m.State("CHECKS"):
                m.d.sync += [err.eq(verdict), nb.eq(nb_now), addr.eq(addr_arg), left.eq(count),
                             bi.eq(0), word.eq(0), buf_at.eq(0), crc_at.eq(0)]
                is_write = op == p.OP_WRITE
                with m.If(is_write & (nb_now == 0)):
                    m.next = "DISCARD"        # no such memory: the words' size is unknown
                with m.Elif(is_write & (count != 0)):
                    m.next = "PAYLOAD"
                with m.Else():
                    m.next = "CHECKSUM"
            with m.State("PAYLOAD"):           # into the buffer (a refused WRITE's too: framed)
                m.d.comb += [rx.ready.eq(1), buf_w.en.eq(got), rx_crc.valid.eq(got)]
                with m.If(got):
                    m.d.sync += buf_at.eq(buf_at + 1)
                    with m.If(bi == nb - 1):
                        m.d.sync += [bi.eq(0), left.eq(left - 1)]
                        with m.If(left == 1):
                            m.next = "CHECKSUM"
                    with m.Else():
                        m.d.sync += bi.eq(bi + 1)
                listening()
            with m.State("CHECKSUM"):             # the CRC's bytes, into the CRC too
                m.d.comb += [rx.ready.eq(1), rx_crc.valid.eq(got)]
                with m.If(got):
                    m.d.sync += crc_at.eq(crc_at + 1)
                    with m.If(crc_at == p.CRC_BYTES - 1):
                        m.next = "EXECUTE"
                listening()
            with m.State("EXECUTE"):              # the CRC register holds the residue now
                with m.If(~rx_crc.match_detected):
                    m.d.sync += err.eq(p.ERR["CHECKSUM"])
                    m.next = "R_STATUS"
                with m.Elif(err != p.OK):
                    m.next = "R_STATUS"
                with m.Elif(op == p.OP_RUN):
                    m.d.comb += start.eq(1)
                    m.d.sync += [running.eq(1), run_layer.eq(layer)]
                    m.next = "IDLE"
                with m.Elif(op == p.OP_WRITE):
                    m.d.sync += [left.eq(count), buf_at.eq(0)]
                    m.next = "COMMIT_READ"
                with m.Else():
                    with m.If(op == p.OP_SET):
                        with m.Switch(layer):
                            for i, regs in enumerate(config):
                                with m.Case(i):
                                    with m.Switch(reg):
                                        for r, name in enumerate(p.REGISTERS):
                                            with m.Case(r):
                                                m.d.sync += regs[name].eq(value)
                    m.next = "R_STATUS"
            # The word is written from a register: the buffer's read data does not go on to the
            # cores' memories in the same cycle (it would cross the die behind a block RAM's
            # output, the ECP5 top's critical path; hw/README.md "Timing").
            with m.State("COMMIT_READ"):      # byte buf_at on the buffer's read port
                m.next = "COMMIT_BYTE"
            with m.State("COMMIT_BYTE"):      # and on its data: into the word
                m.d.sync += [word.eq(wdata), buf_at.eq(buf_at + 1), bi.eq(bi + 1)]
                m.next = "COMMIT_READ"
                with m.If(bi == nb - 1):
                    m.d.sync += bi.eq(0)
                    m.next = "COMMIT_WORD"
            with m.State("COMMIT_WORD"):      # the word to the core
                m.d.comb += wr_en.eq(1)
                m.d.sync += [word.eq(0), addr.eq(addr + 1), left.eq(left - 1)]
                m.next = "COMMIT_READ"
                with m.If(left == 1):
                    m.next = "R_STATUS"
            with m.State("DISCARD"):              # answered with the error already chosen
                m.d.comb += [rx.ready.eq(1), open_.eq(1)]
                m.d.sync += framing.eq(0)         # more lost bytes: still one reply
                with m.If(timed_out & ~rx.valid):
                    m.next = "R_STATUS"

            # -- the reply ----------------------------------------------------------------------
            with m.State("R_STATUS"):
                with sending(err, first=True):
                    m.d.sync += crc_at.eq(0)
                    m.next = "R_OP"
            with m.State("R_OP"):
                with sending(op):
                    m.d.sync += idx.eq(0)
                    with m.If(err != p.OK):
                        m.next = "R_SUM"
                    with m.Elif(op == p.OP_READ):
                        m.next = "R_READ"
                    with m.Elif(op == p.OP_IDENTIFY):
                        m.d.sync += body_len.eq(len(ident))
                        m.next = "R_LOAD"
                    with m.Elif(op == p.OP_STATUS):
                        m.d.sync += body_len.eq(status_len)
                        m.next = "R_LOAD"
                    with m.Elif(op == p.OP_WINNERS):
                        m.d.sync += body_len.eq(1 + 8 * n_winners)
                        m.next = "R_LOAD"
                    with m.Else():
                        m.next = "R_SUM"
            with m.State("R_LOAD"):           # body byte idx into body_q
                m.next = "R_BODY"
            with m.State("R_BODY"):
                with sending(body_q):
                    m.d.sync += idx.eq(idx + 1)
                    m.next = "R_LOAD"
                    with m.If(idx == body_len - 1):
                        m.next = "R_SUM"
            with m.State("R_READ"):           # the address is on the read port
                m.d.sync += wait.eq(0)
                m.next = "R_WAIT"
            with m.State("R_WAIT"):           # until its word is on the core's rd_data
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == read_latency - 1):
                    m.next = "R_LATCH"
            with m.State("R_LATCH"):          # and now in the core's word register (rd_data)
                m.d.sync += [word.eq(rd_data), bi.eq(0)]
                m.next = "R_WORD"
            with m.State("R_WORD"):
                with sending(word[:8]):
                    m.d.sync += [word.eq(word >> 8), bi.eq(bi + 1)]
                    with m.If(bi == nb - 1):
                        m.d.sync += [addr.eq(addr + 1), left.eq(left - 1)]
                        m.next = "R_READ"
                        with m.If(left == 1):
                            m.next = "R_SUM"
            with m.State("R_SUM"):               # the reply's CRC, little-endian
                with sending(tx_crc.crc.word_select(crc_at, 8), crc=False):
                    m.d.sync += crc_at.eq(crc_at + 1)
                    with m.If(crc_at == p.CRC_BYTES - 1):
                        m.next = "IDLE"

        with m.If(got | ~open_):
            m.d.sync += quiet.eq(0)
        with m.Elif(~timed_out):
            m.d.sync += quiet.eq(quiet + 1)
        return m

    @staticmethod
    def _check_memory(m, mm, op, mem, lane, addr, count, verdict, nb):
        """The checks of a WRITE or READ on one layer's memory map."""
        with m.Switch(mem):
            for code, spec in mm.items():
                with m.Case(code):
                    allowed = Mux(op == p.OP_WRITE, spec.writable, spec.readable)
                    m.d.comb += nb.eq(spec.nbytes)
                    with m.If(~allowed):
                        m.d.comb += verdict.eq(p.ERR["MEMORY"])
                    with m.Elif(lane >= spec.lanes):
                        m.d.comb += verdict.eq(p.ERR["LANE"])
                    with m.Elif((count == 0) | (addr + count > spec.depth)
                                | ((op == p.OP_WRITE) & (count > spec.max_write))):
                        m.d.comb += verdict.eq(p.ERR["RANGE"])
                    with m.Else():
                        m.d.comb += verdict.eq(p.OK)


def _sized(value, width: int):
    """``value`` zero-extended (or, never in practice, cut) to ``width`` bits."""
    assert len(value) <= width, f"{value!r} is wider than its {width}-bit protocol field"
    return value.as_unsigned()[:width] if len(value) == width else Cat(value, Const(0, width - len(value)))

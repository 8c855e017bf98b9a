"""A raw RESP2/RESP3 connection for the tests that need the exact bytes on the wire (pipelining,
push messages, protocol errors): encode commands, read and parse replies, with timeouts."""

import socket
import time

from clients import Err


def encode(*args):
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode("latin-1")
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Push(list):
    """A RESP3 push message (>)."""


class Verbatim(str):
    """A RESP3 verbatim string (=)."""


class Incomplete(Exception):
    pass


def parse(buf, pos=0):
    """Parses one reply from buf[pos:]; returns (value, new_pos) or raises Incomplete.
    Values: bytes (bulk, simple), int, None, list, Push, dict, float, bool, Verbatim, Err."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    t, line = buf[pos:pos + 1], buf[pos + 1:end]
    pos = end + 2
    if t == b"+":
        return line, pos
    if t == b"-":
        return Err(line.decode("latin-1")), pos
    if t == b":":
        return int(line), pos
    if t == b"_":
        return None, pos
    if t == b",":
        return float(line), pos
    if t == b"#":
        return line == b"t", pos
    if t in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete()
        data = buf[pos:pos + n]
        if t == b"=":
            return Verbatim(data[4:].decode("latin-1")), pos + n + 2
        return data, pos + n + 2
    if t in (b"*", b">", b"~", b"%"):
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n * (2 if t == b"%" else 1)):
            v, pos = parse(buf, pos)
            items.append(v)
        if t == b"%":
            return dict(zip(items[0::2], items[1::2])), pos
        return (Push(items) if t == b">" else items), pos
    raise ValueError("unknown reply type %r at %d" % (t, pos))


class Conn:
    """One TCP connection with a reply buffer."""

    def __init__(self, port, timeout_s=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout_s = timeout_s
        self.buf = b""
        self.pos = 0

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        self.send(encode(*args))
        return self.read()

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no reply within %.0fs (have %r)" % (
                self.timeout_s, self.buf[self.pos:self.pos + 200]))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise AssertionError("no reply within %.0fs (have %r)" % (
                self.timeout_s, self.buf[self.pos:self.pos + 200]))
        if not data:
            raise ConnectionResetError("closed by the server")
        if self.pos > (1 << 20):
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += data

    def read(self, timeout_s=None):
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while True:
            try:
                v, self.pos = parse(self.buf, self.pos)
                return v
            except Incomplete:
                self._fill(deadline)

    def read_raw(self, n, timeout_s=None):
        """Exactly n bytes of reply stream."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while len(self.buf) - self.pos < n:
            self._fill(deadline)
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def read_until_closed(self, timeout_s=None):
        """Everything until the server closes; fails if it does not close in time."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while True:
            try:
                self._fill(deadline)
            except (ConnectionResetError, BrokenPipeError):
                data = self.buf[self.pos:]
                self.pos = len(self.buf)
                return data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Four real Redis clients behind one interface, and matchers for their replies.

A driver runs commands on ONE connection, one at a time (so a test can act between two
commands, e.g. change a WATCHed key through another node), and returns each reply in a
canonical form that does not depend on the client:

    bulk or simple string -> str (one character per byte: latin-1)
    integer               -> int
    null                  -> None
    array, set, push      -> list
    map (RESP3)           -> dict
    error                 -> Err("ERR message")   (the full error line, prefix included)

Drivers: RedisCli(port, resp=2|3) runs `redis-cli --json` interactively; RedisPy(port) is
redis-py with its reply callbacks turned off (raw replies); Hiredis(path, port) runs the
chorus_hiredis_client C program. A test writes an expectation with the matchers below, which
know the RESP2/RESP3 differences (Map, Verbatim).
"""

import json
import os
import re
import select
import subprocess
import time

import redis
import redis.connection

_DECODER = json.JSONDecoder()


class Err:
    """An error reply; equal to another Err with the same message. As an expectation,
    Err("ERR foo") matches exactly and Err(prefix=...) / Err(regex=...) loosely."""

    def __init__(self, message=None, prefix=None, regex=None):
        self.message = message
        self.prefix = prefix
        self.regex = regex

    def matches(self, got):
        if not isinstance(got, Err):
            return False
        if self.message is not None:
            return got.message == self.message
        if self.prefix is not None:
            return got.message.startswith(self.prefix)
        return re.search(self.regex, got.message) is not None

    def __eq__(self, other):
        return isinstance(other, Err) and other.message == self.message

    def __repr__(self):
        if self.message is not None:
            return "Err(%r)" % self.message
        return "Err(prefix=%r)" % self.prefix if self.prefix else "Err(regex=%r)" % self.regex


class Closed(Exception):
    """The server closed the connection (or the client process ended)."""


# -- parsing redis-cli --json output ------------------------------------------------------------

def parse_cli_json(text):
    """Parses one reply line of `redis-cli --json` (which writes errors as error:"msg", also
    inside arrays). Strings come back as latin-1 characters (the text is read as latin-1)."""
    value, end = _parse_value(text, 0)
    if text[end:].strip():
        raise ValueError("trailing text in %r" % text)
    return value


def _skip_ws(s, i):
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def _parse_value(s, i):
    i = _skip_ws(s, i)
    if s.startswith("error:", i):
        msg, i = _DECODER.raw_decode(s, i + len("error:"))
        return Err(msg), i
    if s.startswith("closed:", i):
        msg, i = _DECODER.raw_decode(s, i + len("closed:"))
        raise Closed(msg)
    if s[i] == "[":
        out = []
        i = _skip_ws(s, i + 1)
        if s[i] == "]":
            return out, i + 1
        while True:
            v, i = _parse_value(s, i)
            out.append(v)
            i = _skip_ws(s, i)
            if s[i] == ",":
                i += 1
                continue
            if s[i] == "]":
                return out, i + 1
            raise ValueError("bad array at %d in %r" % (i, s))
    if s[i] == "{":
        out = {}
        i = _skip_ws(s, i + 1)
        if s[i] == "}":
            return out, i + 1
        while True:
            k, i = _parse_value(s, i)
            i = _skip_ws(s, i)
            if s[i] != ":":
                raise ValueError("bad map at %d in %r" % (i, s))
            v, i = _parse_value(s, i + 1)
            out[k if not isinstance(k, list) else tuple(k)] = v
            i = _skip_ws(s, i)
            if s[i] == ",":
                i += 1
                continue
            if s[i] == "}":
                return out, i + 1
            raise ValueError("bad map at %d in %r" % (i, s))
    return _DECODER.raw_decode(s, i)


def _cli_quote(arg):
    """An argument as redis-cli's line splitter (sdssplitargs) reads it back: "..." with \\xHH."""
    if isinstance(arg, str):
        arg = arg.encode("latin-1")
    out = ['"']
    for b in arg:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b <= 0x7E:
            out.append(c)
        else:
            out.append("\\x%02x" % b)
    out.append('"')
    return "".join(out)


def to_bytes(arg):
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, int):
        return str(arg).encode()
    return str(arg).encode("latin-1")


# Commands after which redis-cli prints the reply as raw text, not JSON (redis-cli.c).
def _cli_prints_raw(args):
    name = to_bytes(args[0]).lower()
    sub = to_bytes(args[1]).lower() if len(args) > 1 else b""
    return name == b"info" or (name == b"client" and sub in (b"list", b"info")) or \
        name == b"lolwut" or (name == b"cluster" and sub in (b"nodes", b"info"))


# -- drivers ----------------------------------------------------------------------------------

class Driver:
    name = "?"
    resp = 2

    def call(self, *args):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _LineProcess(Driver):
    """A child process that answers each stdin line with one stdout line."""

    def __init__(self, argv, timeout_s):
        self.argv = argv
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._buf = b""

    def _send(self, line):
        try:
            self.proc.stdin.write(line.encode("latin-1") + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Closed("%s exited (%s): %s" % (self.name, self.proc.wait(),
                                                 self.proc.stderr.read()))

    def _read_line(self):
        # Our own buffer: select() cannot see lines already inside a Python file buffer.
        deadline = time.monotonic() + self.timeout_s
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, remaining))
            if not ready:
                raise AssertionError("%s: no reply within %.0fs" % (self.name, self.timeout_s))
            data = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not data:
                raise Closed("%s exited (%s): %s" % (self.name, self.proc.wait(),
                                                     self.proc.stderr.read()))
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("latin-1")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


class RedisCli(_LineProcess):
    """redis-cli --json in its line mode (stdin not a tty); RESP2 with -2, RESP3 with -3.
    redis-cli answers QUIT itself (it exits), so a test does not send QUIT through it."""

    _marker_seq = 0

    def __init__(self, port, resp=2, password=None, timeout_s=30.0):
        argv = ["redis-cli", "-p", str(port), "-%d" % resp, "--json"]
        if password:
            argv += ["--no-auth-warning", "-a", password]
        super().__init__(argv, timeout_s)
        self.resp = resp
        self.name = "redis-cli -%d" % resp

    def call(self, *args):
        self._send(" ".join(_cli_quote(to_bytes(a)) for a in args))
        if not _cli_prints_raw(args):
            return parse_cli_json(self._read_line())
        # Raw text of unknown length: an ECHO of a fresh marker ends it.
        RedisCli._marker_seq += 1
        marker = "--end-of-reply-%d--" % RedisCli._marker_seq
        self._send("ECHO " + marker)
        lines = []
        while True:
            line = self._read_line()
            if line == json.dumps(marker):
                return "\n".join(lines)
            lines.append(line)


class Hiredis(_LineProcess):
    """The chorus_hiredis_client C program (RESP2; hiredis 0.14 has no RESP3)."""

    def __init__(self, path, port, timeout_s=30.0):
        super().__init__([path, "127.0.0.1", str(port)], timeout_s)
        self.name = "hiredis"

    @staticmethod
    def encode_line(args):
        return " ".join("".join("%%%02X" % b for b in to_bytes(a)) or "%" for a in args)

    def call(self, *args):
        self._send(self.encode_line(args))
        return parse_cli_json(self._read_line())


def hiredis_pipeline(path, port, commands, timeout_s=120.0):
    """Sends every command before reading a reply (one chorus_hiredis_client --pipeline run);
    returns the canonical replies."""
    text = "".join(Hiredis.encode_line(c) + "\n" for c in commands)
    p = subprocess.run([path, "127.0.0.1", str(port), "--pipeline"], input=text.encode("latin-1"),
                       capture_output=True, timeout=timeout_s)
    if p.returncode != 0:
        raise AssertionError("hiredis --pipeline exited %d: %s" % (p.returncode, p.stderr))
    return [parse_cli_json(line) for line in p.stdout.decode("latin-1").splitlines()]


class _RawErrorsParser(redis.connection.PythonParser):
    """redis-py's parser, but every error is a ResponseError carrying the whole line."""
    EXCEPTION_CLASSES = {}


def canonical_py(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, redis.exceptions.ResponseError):
        return Err(str(v))
    if isinstance(v, list):
        return [canonical_py(x) for x in v]
    return v


class RedisPy(Driver):
    """redis-py (RESP2) on one dedicated connection, raw replies (no response callbacks)."""

    def __init__(self, port, password=None, timeout_s=30.0):
        self.name = "redis-py"
        pool = redis.ConnectionPool(host="127.0.0.1", port=port, password=password,
                                    socket_timeout=timeout_s, parser_class=_RawErrorsParser)
        self.client = redis.Redis(connection_pool=pool, single_connection_client=True)
        self.client.response_callbacks = {}

    def call(self, *args):
        try:
            return canonical_py(self.client.execute_command(*[to_bytes(a) for a in args]))
        except redis.exceptions.ResponseError as e:
            return Err(str(e))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            raise Closed(str(e))

    def close(self):
        self.client.close()


# -- expectations -----------------------------------------------------------------------------

class Matcher:
    def matches(self, got, resp):
        raise NotImplementedError


class Any(Matcher):
    def matches(self, got, resp):
        return not isinstance(got, Err)

    def __repr__(self):
        return "Any()"


class Pred(Matcher):
    """A predicate on the canonical reply, with a description for failure messages."""

    def __init__(self, fn, what):
        self.fn = fn
        self.what = what

    def matches(self, got, resp):
        try:
            return bool(self.fn(got))
        except Exception:  # noqa: BLE001 - a wrong type is a mismatch
            return False

    def __repr__(self):
        return self.what


def Range(lo, hi):
    return Pred(lambda v: isinstance(v, int) and lo <= v <= hi, "an integer in [%d, %d]" % (lo, hi))


def Unordered(items):
    want = sorted(items)
    return Pred(lambda v: isinstance(v, list) and sorted(v) == want, "in any order: %r" % want)


def Contains(*parts):
    return Pred(lambda v: isinstance(v, str) and all(p in v for p in parts),
                "a string containing %r" % (parts,))


class Map(Matcher):
    """A map reply: a dict in RESP3, a flat [k1, v1, k2, v2, ...] array in RESP2. Values may be
    matchers; keys are compared as a set unless ordered=True."""

    def __init__(self, pairs, ordered=False):
        self.pairs = list(pairs)
        self.ordered = ordered

    def matches(self, got, resp):
        if resp == 3:
            if not isinstance(got, dict) or set(got) != {k for k, _ in self.pairs}:
                return False
            return all(match(v, got[k], resp) for k, v in self.pairs)
        if not isinstance(got, list) or len(got) != 2 * len(self.pairs):
            return False
        got_pairs = list(zip(got[0::2], got[1::2]))
        if self.ordered:
            return all(gk == k and match(v, gv, resp)
                       for (gk, gv), (k, v) in zip(got_pairs, self.pairs))
        got_map = dict(got_pairs)
        return set(got_map) == {k for k, _ in self.pairs} and all(
            match(v, got_map[k], resp) for k, v in self.pairs)

    def __repr__(self):
        return "Map(%r)" % self.pairs


def match(expected, got, resp):
    """Whether a canonical reply matches an expectation (a value, a Matcher or an Err)."""
    if isinstance(expected, Matcher):
        return expected.matches(got, resp)
    if isinstance(expected, Err):
        return expected.matches(got)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(
            match(e, g, resp) for e, g in zip(expected, got))
    if isinstance(expected, bytes):
        expected = expected.decode("latin-1")
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    return expected == got


def check(driver, args, expected, where=""):
    """Runs one command and asserts its reply; returns the reply."""
    try:
        got = driver.call(*args)
    except Exception as e:
        raise AssertionError("%s%s: %s\n  failed: %r" % (where, driver.name, " ".join(
            repr(a) if not isinstance(a, str) else a for a in args), e)) from e
    if not match(expected, got, driver.resp):
        raise AssertionError("%s%s: %s\n  expected %r\n  got      %r" % (
            where, driver.name, " ".join(repr(a) if not isinstance(a, str) else a for a in args),
            expected, got))
    return got

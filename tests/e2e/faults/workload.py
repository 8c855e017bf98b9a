"""The client workload of the campaign and the history it records.

Client threads run read (GET), write (SET) and cas (CAS key expected new) on a few keys, each
through the nodes of the current membership in turn, on raw RESP connections with a per-op
timeout. Every op is written to the history (JSON lines, tests/support/history_jsonl.h) when it
is called and when it returns, under one lock, so the file is in real-time order:

  ok    the reply: a read's value, OK for a write, 1 for a cas
  fail  definitely did not happen: -CLUSTERDOWN, a connection that could not be opened (nothing
        was sent); a cas that replied 0 (error "precondition-failed") or -ERR no such key
        (error "key-does-not-exist") happened as a no-op, which the checker knows
  info  may or may not have happened: -TIMEOUT, no reply within the timeout, the connection lost
        after the command was sent, or an unexpected reply (also counted as unexpected)
Written values are unique integers (client * 10^6 + sequence), so a read names the write it saw.
"""

import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import resp  # noqa: E402  (tests/e2e/server/resp.py: encode / parse)


class Definite(Exception):
    """The op was not sent (connect failed)."""


class Conn:
    def __init__(self, host, port, connect_timeout_s):
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as e:
            raise Definite("connect: %s" % e)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def command(self, timeout_s, *args):
        deadline = time.monotonic() + timeout_s
        self.sock.sendall(resp.encode(*args))
        while True:
            try:
                value, pos = resp.parse(self.buf, 0)
                self.buf = self.buf[pos:]
                return value
            except resp.Incomplete:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no reply")
            self.sock.settimeout(remaining)
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionResetError("closed by the server")
            self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class History:
    def __init__(self, path):
        self.path = path
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.counts = {}  # (f, type) -> n
        self.unexpected = []  # strings
        self.ops = []  # completed op dicts, for the checks after the run

    def _write(self, event):
        self.f.write(json.dumps(event, separators=(",", ":")) + "\n")

    def invoke(self, process, f, key, value, node):
        with self.lock:
            t = time.monotonic() - self.t0
            self._write({"process": process, "type": "invoke", "f": f, "key": key,
                         "value": value, "node": node, "t": round(t, 4)})
            return t

    def complete(self, process, f, key, value, kind, node, call_t, error=None):
        with self.lock:
            t = time.monotonic() - self.t0
            event = {"process": process, "type": kind, "f": f, "key": key, "value": value,
                     "node": node, "t": round(t, 4)}
            if error:
                event["error"] = error
            self._write(event)
            self.counts[(f, kind)] = self.counts.get((f, kind), 0) + 1
            self.ops.append({"f": f, "key": key, "value": value, "type": kind, "error": error,
                             "call": call_t, "ret": t, "node": node,
                             "final": isinstance(process, int) and process >= 10000})

    def note(self, text):
        """A nemesis line (skipped by the checker) so a reader of the file sees the faults."""
        with self.lock:
            self._write({"process": "nemesis", "type": "info", "f": "note", "value": text,
                         "t": round(time.monotonic() - self.t0, 4)})
            self.f.flush()

    def close(self):
        with self.lock:
            self.f.close()


def is_error(v):
    return isinstance(v, resp.Err)


def run_op(conns, node, process, history, f, key, value, op_timeout_s):
    """Runs one op on `node` and records it; returns (type, value seen)."""
    call_t = history.invoke(process, f, key, value, node.id)
    args = {"read": ("GET", key), "write": ("SET", key, value),
            "cas": ("CAS", key, value[0], value[1]) if f == "cas" else None}[f]
    conn = conns.get(node.id)
    try:
        if conn is None:
            conn = conns[node.id] = Conn(node.host, node.client_port, min(1.0, op_timeout_s))
    except Definite as e:
        history.complete(process, f, key, value, "fail", node.id, call_t, error=str(e))
        return "fail", None
    try:
        reply = conn.command(op_timeout_s, *args)
    except (OSError, socket.timeout) as e:
        conn.close()
        conns.pop(node.id, None)
        history.complete(process, f, key, value, "info", node.id, call_t,
                         error="%s: %s" % (type(e).__name__, e))
        return "info", None
    if is_error(reply):
        msg = reply.message
        if msg.startswith("CLUSTERDOWN"):
            kind, err = "fail", msg
        elif f == "cas" and msg.startswith("ERR no such key"):
            kind, err = "fail", "key-does-not-exist"
        elif f == "read" and msg.startswith("ERR no such key"):
            kind, err = "fail", "key-does-not-exist"
        else:
            kind, err = "info", msg
            if not msg.startswith("TIMEOUT"):
                history.unexpected.append("%s %s on node %d: %s" % (f, key, node.id, msg))
        history.complete(process, f, key, value, kind, node.id, call_t, error=err)
        return kind, None
    if f == "read":
        got = None if reply is None else int(reply)
        history.complete(process, f, key, got, "ok", node.id, call_t)
        return "ok", got
    if f == "write" and reply == b"OK":
        history.complete(process, f, key, value, "ok", node.id, call_t)
        return "ok", value
    if f == "cas" and reply in (0, 1):
        if reply == 1:
            history.complete(process, f, key, value, "ok", node.id, call_t)
            return "ok", value[1]
        history.complete(process, f, key, value, "fail", node.id, call_t,
                         error="precondition-failed")
        return "fail", None
    history.unexpected.append("%s %s on node %d: reply %r" % (f, key, node.id, reply))
    history.complete(process, f, key, value, "info", node.id, call_t, error=repr(reply))
    return "info", None


class Client(threading.Thread):
    def __init__(self, index, members, history, keys, seed, stop, op_timeout_s):
        super().__init__(name="client-%d" % index, daemon=True)
        self.index = index
        self.members = members  # callable: the nodes to use now
        self.history = history
        self.keys = keys
        self.rng = random.Random(seed * 1000 + index)
        self.stop = stop
        self.op_timeout_s = op_timeout_s
        self.seq = 0
        self.known = {}  # key -> last value this client saw or wrote
        self.shift = index

    def run(self):
        conns = {}
        try:
            while not self.stop.is_set():
                nodes = self.members()
                if not nodes:
                    time.sleep(0.05)
                    continue
                node = nodes[self.shift % len(nodes)]
                key = self.rng.choice(self.keys)
                r = self.rng.random()
                if r < 0.5:
                    f, value = "read", None
                else:
                    self.seq += 1
                    new = self.index * 1000000 + self.seq
                    if r < 0.75 or key not in self.known:
                        f, value = "write", new
                    else:
                        f, value = "cas", [self.known[key], new]
                kind, seen = run_op(conns, node, self.index, self.history, f, key, value,
                                    self.op_timeout_s)
                if kind == "ok":
                    if seen is not None:
                        self.known[key] = seen
                    else:
                        self.known.pop(key, None)
                else:
                    # Unavailable through this node: the next op goes through the next node.
                    self.shift += 1
                    time.sleep(0.02)
                if self.rng.random() < 0.05:
                    self.shift += 1  # and move around now and then anyway
        except Exception as e:  # noqa: BLE001 - reported by the campaign
            self.history.unexpected.append("client %d crashed: %r" % (self.index, e))
        finally:
            for c in conns.values():
                c.close()

#!/usr/bin/env python3
"""chorusd against bad and greedy clients, on a 3-node cluster. After each case the node that
took it must still be up and serve other clients (a PING and a linearizable GET on a new
connection):
  - truncated requests, then the client goes away;
  - malformed RESP: "-ERR Protocol error: ..." and that connection (only) is closed;
  - a bulk string longer than --proto-max-bulk-len, an inline request over --proto-max-inline;
  - random binary input;
  - 10,000 connections opened and dropped, in batches;
  - a client that sends many large GETs and never reads: the server's memory stays bounded;
  - a connection over --max-clients (CONFIG SET maxclients) gets the Redis error.

    tests/e2e/server/test_bad_input.py [--chorusd PATH --chorus PATH]
"""

import os
import random
import resource
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster as harness  # noqa: E402  (re-executes under /usr/bin/python3 if needed)
import resp  # noqa: E402
from clients import Err  # noqa: E402
from cluster import wait_until  # noqa: E402

MAX_BULK = 512 * 1024  # --proto-max-bulk-len of this cluster (a SET of it fits in a log entry)
MAX_INLINE = 4096   # --proto-max-inline of this cluster


class BadInputTest(harness.SharedClusterTestCase):
    nodes = 3
    cluster_kwargs = {"common_args": ["--proto-max-bulk-len", str(MAX_BULK),
                                      "--proto-max-inline", str(MAX_INLINE)]}
    node_args = {3: ["--max-clients", "20"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.target = cls.cluster.nodes[0]  # takes the abuse
        cls.target.client().set("bad:probe", "still-here")

    def assert_serving(self, what):
        """The target is alive and serves a new connection (and the cluster goes on)."""
        self.cluster.check_alive()
        self.assertTrue(self.target.alive(), "chorusd exited after %s" % what)
        with resp.Conn(self.target.client_port, timeout_s=30) as s:
            self.assertEqual(s.command("PING"), b"PONG", "PING after %s" % what)
            self.assertEqual(s.command("GET", "bad:probe"), b"still-here", "GET after %s" % what)
            self.assertEqual(s.command("SET", "bad:after", what), b"OK", "SET after %s" % what)

    def protocol_error(self, data, message):
        """Sends data on a new connection: the reply is exactly the error, then the server
        closes the connection."""
        with resp.Conn(self.target.client_port, timeout_s=30) as s:
            try:
                s.send(data)
            except (BrokenPipeError, ConnectionResetError):
                # The server answers and closes as soon as it has read the bad header, as Redis
                # does, so a long request can meet the closed socket while it is still being sent
                # (seen in a fresh-clone `make test`); the error reply has arrived before that.
                pass
            got = s.read_until_closed()
        self.assertEqual(got, b"-ERR Protocol error: " + message + b"\r\n",
                         "reply to %r" % data[:80])
        self.assert_serving("sending %r" % data[:40])

    def test_truncated_requests(self):
        for data in (b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$3\r\nGET", b"*1\r\n", b"*",
                     b"*2\r\n$3\r\nGET\r\n$10\r\nabc", b"GET bad:probe",
                     b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"x" * 50000,
                     b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello"):
            with self.subTest(data=data[:40]):
                with resp.Conn(self.target.client_port) as s:
                    s.send(data)
                # The truncated SETs never happened.
                self.assertIsNone(self.target.client().get("k"))
                self.assert_serving("a truncated request %r" % data[:40])
        # A valid command followed by a truncated one: the first is answered.
        with resp.Conn(self.target.client_port) as s:
            s.send(resp.encode("GET", "bad:probe") + b"*2\r\n$3\r\nGET\r\n$4\r\nba")
            self.assertEqual(s.read(), b"still-here")
            s.sock.shutdown(socket.SHUT_WR)
            self.assertEqual(s.read_until_closed(), b"")
        self.assert_serving("a half-closed connection")

    def test_protocol_errors_close_the_connection(self):
        cases = [
            (b"*abc\r\n", b"invalid multibulk length"),
            (b"*-5x\r\n", b"invalid multibulk length"),
            (b"*99999999999\r\n", b"invalid multibulk length"),
            (b"*1\r\n$-5\r\n", b"invalid bulk length"),
            (b"*1\r\n$abc\r\n", b"invalid bulk length"),
            (b"*1\r\nX\r\n", b"expected '$', got 'X'"),
            (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"expected '$', got ':'"),
            (b'SET "unbalanced\r\n', b"unbalanced quotes in request"),
            (b"*1\r\n$" + str(MAX_BULK + 1).encode() + b"\r\n", b"invalid bulk length"),
            (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + str(MAX_BULK + 1).encode() + b"\r\n",
             b"invalid bulk length"),
            (b"a" * (MAX_INLINE + 100), b"too big inline request"),
        ]
        for data, message in cases:
            with self.subTest(data=data[:40]):
                self.protocol_error(data, message)
        # Commands before the bad bytes are answered first, in order.
        with resp.Conn(self.target.client_port) as s:
            s.send(resp.encode("SET", "bad:before", "1") + resp.encode("GET", "bad:probe") +
                   b"*x\r\n" + resp.encode("SET", "bad:never", "1"))
            self.assertEqual(s.read_until_closed(),
                             b"+OK\r\n$10\r\nstill-here\r\n"
                             b"-ERR Protocol error: invalid multibulk length\r\n")
        self.assertIsNone(self.target.client().get("bad:never"))
        self.assert_serving("a protocol error after good commands")

    def test_inline_oddities_keep_the_connection(self):
        """As in Redis, a line that does not start with '*' is an inline command: `$-5` is an
        unknown command, not a protocol error, and the connection stays open."""
        with resp.Conn(self.target.client_port) as s:
            s.send(b"$-5\r\n")
            self.assertEqual(s.read(), Err("ERR unknown command '$-5', with args beginning with: "))
            s.send(b"\r\n\r\n  \r\nPING\r\n")  # empty lines are skipped
            self.assertEqual(s.read(), b"PONG")
            s.send(b"*0\r\n*-1\r\nGET bad:probe\n")  # empty multibulks carry no command
            self.assertEqual(s.read(), b"still-here")
            s.send(b'ECHO "a\\x41\\n"\r\n')
            self.assertEqual(s.read(), b"aA\n")

    def test_bulk_at_the_limit(self):
        """A bulk of exactly --proto-max-bulk-len bytes is accepted; one more is refused."""
        big = b"y" * MAX_BULK
        with resp.Conn(self.target.client_port, timeout_s=60) as s:
            self.assertEqual(s.command("SET", "bad:big", big), b"OK")
            self.assertEqual(s.command("STRLEN", "bad:big"), MAX_BULK)
        self.assertEqual(self.cluster.nodes[1].client().strlen("bad:big"), MAX_BULK)
        self.protocol_error(b"*3\r\n$3\r\nSET\r\n$7\r\nbad:big\r\n$" +
                            str(MAX_BULK + 1).encode() + b"\r\n" + big, b"invalid bulk length")
        self.target.client().delete("bad:big")

    def test_random_binary(self):
        rng = random.Random(20240607)
        for i in range(40):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
            if i % 4 == 0:
                data = b"*" + data  # force the multibulk parser
            elif i % 4 == 1:
                data = b"*2\r\n$3\r\nGET\r\n" + data
            with resp.Conn(self.target.client_port, timeout_s=30) as s:
                s.send(data)
                s.sock.shutdown(socket.SHUT_WR)
                got = s.read_until_closed()
            # Whatever the server answered, it answered with errors or replies, never a crash.
            self.assertTrue(got == b"" or got[:1] in b"-+:$*", "reply to random input %d: %r" % (
                i, got[:100]))
            if i % 10 == 9:
                self.assert_serving("random input %d" % i)
        self.assert_serving("random binary input")

    def test_10000_connections_opened_and_dropped(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        batch = 500
        if soft < batch + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, batch + 500), hard))
        before = self.info_stats("total_connections_received")
        opened = 0
        for round_ in range(10000 // batch):
            socks = []
            for i in range(batch):
                s = socket.create_connection(("127.0.0.1", self.target.client_port), timeout=30)
                socks.append(s)
                opened += 1
            # some talk, some send half a command, some reset the connection
            for i, s in enumerate(socks):
                if i % 50 == 0:
                    s.sendall(b"PING\r\n")
                    self.assertEqual(s.recv(7), b"+PONG\r\n")
                elif i % 50 == 1:
                    s.sendall(b"*2\r\n$3\r\nGET\r\n")
                elif i % 50 == 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for s in socks:
                s.close()
            if round_ % 5 == 4:
                self.assert_serving("%d connections opened and dropped" % opened)
        self.assertEqual(opened, 10000)
        wait_until(lambda: self.info_stats("connected_clients", "clients") <= 5, 60,
                   "the dropped connections to be closed on the server")
        self.assertGreaterEqual(self.info_stats("total_connections_received") - before, 10000)
        self.assert_serving("10,000 connections")

    def info_stats(self, field, section="stats"):
        text = self.target.call("INFO", section).decode()
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
        raise AssertionError("no %s in INFO %s: %r" % (field, section, text))

    def test_client_that_never_reads(self):
        """Many large GETs, replies never read: the server stops reading that client instead of
        buffering its replies, so its memory stays bounded; other clients are served."""
        value_size = 512 * 1024
        gets = 4000  # 2 GB of replies if they were all buffered
        self.target.client().set("bad:large", b"L" * value_size)
        baseline_kib = harness.rss_kib(self.target.pid)
        greedy = socket.create_connection(("127.0.0.1", self.target.client_port), timeout=120)
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = resp.encode("GET", "bad:large") * gets
        sent = [0]

        def send_all():
            try:
                greedy.sendall(request)  # blocks once the server stops reading: expected
                sent[0] = len(request)
            except OSError:
                pass
        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        peak_kib = baseline_kib
        # Generous: replies are throttled at 32 MB (half of --client-output-limit), plus at most
        # 64 reads in flight on the connection (32 MB of values here).
        bound_kib = baseline_kib + 256 * 1024
        try:
            for i in range(40):
                time.sleep(0.25)
                peak_kib = max(peak_kib, harness.rss_kib(self.target.pid))
                self.assertLess(peak_kib, bound_kib, "RSS grew from %d KiB to %d KiB while "
                                "one client sent %d GETs of a %d-byte value and read nothing" % (
                                    baseline_kib, peak_kib, gets, value_size))
                if i % 10 == 0:
                    self.assert_serving("a client that never reads (%d KiB RSS)" % peak_kib)
                    self.assertEqual(self.target.client().strlen("bad:large"), value_size)
            omem = [int(f.split("=")[1]) for line in
                    self.target.call("CLIENT", "LIST").decode().splitlines()
                    for f in line.split() if f.startswith("omem=")]
            self.assertTrue(all(o <= 64 * 1024 * 1024 for o in omem), omem)
        finally:
            greedy.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            greedy.close()
            sender.join(timeout=30)
        sys.stderr.write("  RSS %d KiB before, at most %d KiB while a client did not read\n" % (
            baseline_kib, peak_kib))
        self.assert_serving("closing the client that never read")
        self.target.client().delete("bad:large")

    def fill_up(self, port, most):
        """Opens connections (each says PING) until one is refused; returns (the accepted
        connections, the refused one's reply and what followed until the server closed it)."""
        accepted = []
        for _ in range(most):
            s = resp.Conn(port, timeout_s=10)
            s.send(b"PING\r\n")
            try:
                reply = s.read()
            except ConnectionResetError:
                reply = None
            if reply == b"PONG":
                accepted.append(s)
                continue
            rest = s.read_until_closed() if reply is not None else b""
            s.close()
            return accepted, (reply, rest)
        return accepted, None

    def check_max_clients(self, port, admin, limit):
        accepted, refused = self.fill_up(port, limit + 10)
        try:
            self.assertIsNotNone(refused, "no connection refused with maxclients %d" % limit)
            self.assertEqual(refused, (Err("ERR max number of clients reached"), b""))
            self.assertLessEqual(len(accepted) + 1, limit)  # + admin
            for s in accepted:
                self.assertEqual(s.command("PING"), b"PONG")
            self.assertEqual(admin.command("GET", "bad:probe"), b"still-here")
        finally:
            for s in accepted:
                s.close()
        # Below the limit again: accepted (the server notices the closes by itself).
        def accepts_one():
            accepted, refused = self.fill_up(port, 1)
            for s in accepted:
                s.close()
            return refused is None
        wait_until(accepts_one, 30, "a connection to be accepted again on port %d" % port)

    def test_max_clients_flag(self):
        """--max-clients 20 (node 3): a connection beyond 20 gets -ERR max number of clients
        reached and is closed; the others keep working."""
        node = self.cluster.node(3)
        with resp.Conn(node.client_port) as admin:
            self.assertEqual(admin.command("CONFIG", "GET", "maxclients"), [b"maxclients", b"20"])
            self.check_max_clients(node.client_port, admin, 20)

    def test_max_clients_config_set(self):
        """CONFIG SET maxclients lowers the limit at run time; raising it again lifts it."""
        admin = resp.Conn(self.target.client_port)
        try:
            info = admin.command("INFO", "clients")  # counts `admin`, not a passing probe
            connected = int(info.decode().split("connected_clients:")[1].split("\r")[0])
            limit = connected + 3
            self.assertEqual(admin.command("CONFIG", "SET", "maxclients", str(limit)), b"OK")
            self.check_max_clients(self.target.client_port, admin, limit)
        finally:
            admin.command("CONFIG", "SET", "maxclients", "10000")
            admin.close()
        self.assert_serving("max clients")


if __name__ == "__main__":
    harness.main()

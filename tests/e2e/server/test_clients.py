#!/usr/bin/env python3
"""chorusd with real Redis clients, on a 3-node cluster:
  - every command through redis-cli (RESP2 and RESP3), redis-py and hiredis, each reply checked
    against Redis' semantics, and every write read back through the other nodes;
  - AUTH with --requirepass;
  - pipelines of 10,000 commands (redis-py, redis-cli --pipe, a raw socket, hiredis);
  - keyspace notifications on every node, in order, including expiry.

    tests/e2e/server/test_clients.py [--chorusd PATH --chorus PATH --hiredis-client PATH]
"""

import os
import random
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster as harness  # noqa: E402  (re-executes under /usr/bin/python3 if needed)
import redis  # noqa: E402

import clients  # noqa: E402
import command_sessions as cs  # noqa: E402
import resp  # noqa: E402
from clients import Err  # noqa: E402


class RunContext:
    """What a session's steps can use: the node the driver talks to, the others, saved replies."""

    def __init__(self, cluster, node):
        self.cluster = cluster
        self.node = node
        self.saved = {}

    def others(self):
        return [n for n in self.cluster.nodes if n is not self.node]

    def via_other_node(self, *args):
        other = self.others()[0]
        reply = other.call(*args)
        assert reply in (b"OK", 1), "%s through %r: %r" % (args, other, reply)


def run_session(test, driver, ctx, name, steps):
    where = "[session %s on node %d] " % (name, ctx.node.id)
    for i, step in enumerate(steps):
        if isinstance(step, cs.Do):
            step.fn(ctx)
            continue
        if isinstance(step, cs.ReadBack):
            for other in ctx.others():
                got = other.call("GET", step.key)
                want = None if step.value is None else step.value.encode("latin-1")
                test.assertEqual(got, want, "%sstep %d: GET %s through %r after a write through "
                                 "%r" % (where, i, step.key, other, ctx.node))
            continue
        if isinstance(step, cs.Quit):
            if isinstance(driver, clients.RedisCli):
                continue  # redis-cli answers QUIT itself
            clients.check(driver, ["QUIT"], "OK", where)
            try:
                got = driver.call("PING")
            except clients.Closed:
                continue
            test.fail("%sthe connection stayed open after QUIT (PING answered %r)" % (where, got))
        args, expected = step
        args = [a(ctx) if callable(a) else a for a in args]
        save = None
        if isinstance(expected, cs.Save):
            save, expected = expected.name, expected.expected
        got = clients.check(driver, args, expected, "%sstep %d: " % (where, i))
        if save:
            ctx.saved[save] = got


class ClientsTest(harness.SharedClusterTestCase):
    nodes = 3

    # -- every command with every client ------------------------------------------------------

    def run_all_sessions(self, make_driver, prefix, resp_version):
        """Each session on its own connection, the sessions spread over the three nodes."""
        c = self.cluster
        for i, (name, steps) in enumerate(cs.sessions(prefix, resp_version)):
            node = c.nodes[i % len(c.nodes)]
            with self.subTest(session=name, node=node.id):
                with make_driver(node) as driver:
                    run_session(self, driver, RunContext(c, node), name, steps)
        self.check_same_everywhere(prefix)

    def check_same_everywhere(self, prefix):
        """Every key of the prefix has the same value through every node."""
        c = self.cluster
        keys = sorted(c.nodes[0].client().keys(prefix + "*"))
        self.assertTrue(keys, "no keys left with prefix %r" % prefix)
        values = {n.id: n.client().mget(keys) for n in c.nodes}
        first = values[c.nodes[0].id]
        for node_id, vals in values.items():
            self.assertEqual(vals, first, "MGET of %d keys differs between node %d and node %d" %
                             (len(keys), c.nodes[0].id, node_id))

    def test_commands_redis_cli_resp2(self):
        self.run_all_sessions(lambda n: clients.RedisCli(n.client_port, resp=2), "cli2:", 2)

    def test_commands_redis_cli_resp3(self):
        self.run_all_sessions(lambda n: clients.RedisCli(n.client_port, resp=3), "cli3:", 3)

    def test_commands_redis_py(self):
        self.run_all_sessions(lambda n: clients.RedisPy(n.client_port), "py:", 2)

    def test_commands_hiredis(self):
        path = self.binaries.hiredis_client
        if not os.access(path, os.X_OK):
            self.fail("the hiredis client is not built: %s (pass --hiredis-client)" % path)
        self.run_all_sessions(lambda n: clients.Hiredis(path, n.client_port), "hi:", 2)

    def test_redis_py_api(self):
        """redis-py's own methods (reply callbacks on) understand chorusd's replies."""
        c = self.cluster
        r = c.nodes[1].client(decode_responses=True)
        r2 = c.nodes[2].client(decode_responses=True)
        p = "api:"
        self.assertTrue(r.set(p + "a", "1"))
        self.assertIsNone(r.set(p + "a", "2", nx=True))
        self.assertTrue(r.set(p + "a", "3", xx=True, ex=100))
        self.assertIn(r.ttl(p + "a"), range(90, 101))
        self.assertEqual(r.set(p + "a", "4", get=True, keepttl=True), "3")
        self.assertEqual(r2.get(p + "a"), "4")
        self.assertEqual(r.getex(p + "a", persist=True), "4")
        self.assertEqual(r.ttl(p + "a"), -1)
        self.assertEqual(r.incrbyfloat(p + "f", 1.5), 1.5)
        self.assertEqual(r.mget([p + "a", p + "none"]), ["4", None])
        self.assertTrue(r.mset({p + "x": "1", p + "y": "2"}))
        self.assertFalse(r.msetnx({p + "x": "1", p + "z": "2"}))
        self.assertEqual(r.exists(p + "x", p + "y", p + "z"), 2)
        self.assertEqual(r.type(p + "x"), "string")
        self.assertTrue(r.expire(p + "x", 100, gt=False))
        self.assertIn(r.expiretime(p + "x") - int(time.time()), range(90, 102))
        self.assertEqual(sorted(r.scan_iter(match=p + "*", count=2)),
                         sorted([p + "a", p + "f", p + "x", p + "y"]))
        self.assertEqual(r.delete(p + "x", p + "y", p + "none"), 2)
        self.assertEqual(r.execute_command("CAS", p + "a", "4", "5"), 1)
        hist = r.execute_command("HISTORY", p + "a")
        self.assertEqual(r2.execute_command("GETREV", p + "a", hist[-1][0]), "1")
        info = r.info()
        self.assertEqual(info["redis_version"][:2], "7.")
        self.assertIn("connected_clients", r.info("clients"))
        self.assertEqual(r.config_get("maxmemory"), {"maxmemory": "0"})
        self.assertIsInstance(r.client_id(), int)
        self.assertTrue(r.client_setname("api-client"))
        self.assertEqual(r.client_getname(), "api-client")
        self.assertTrue(any(cl.get("name") == "api-client" for cl in r.client_list()))
        self.assertIsInstance(r.time()[0], int)
        self.assertTrue(r.ping())
        self.assertGreaterEqual(r.dbsize(), 2)
        # transactions: MULTI/EXEC, and WATCH aborted by a write through another node
        with r.pipeline() as pipe:
            pipe.set(p + "t", "1").incr(p + "t").get(p + "t")
            self.assertEqual(pipe.execute(), [True, 2, "2"])
        with r.pipeline() as pipe:
            pipe.watch(p + "t")
            self.assertEqual(pipe.get(p + "t"), "2")
            r2.set(p + "t", "other")
            pipe.multi()
            pipe.set(p + "t", "mine")
            with self.assertRaises(redis.WatchError):
                pipe.execute()
        self.assertEqual(r.get(p + "t"), "other")

        def incr_by_two(pipe):
            v = int(pipe.get(p + "n") or 0)
            pipe.multi()
            pipe.set(p + "n", v + 2)
        r.transaction(incr_by_two, p + "n")
        r.transaction(incr_by_two, p + "n")
        self.assertEqual(r2.get(p + "n"), "4")
        r.set(p + "s", "text")
        with self.assertRaises(redis.ResponseError):
            r.incr(p + "s")

    # -- AUTH with --requirepass --------------------------------------------------------------

    def test_auth_requirepass(self):
        """A one-node cluster with --requirepass: NOAUTH before AUTH, WRONGPASS, then OK, with
        every client."""
        c = harness.Cluster(self.binaries, nodes=1, password="s3cret pass", name="auth")
        try:
            c.start()
            port = c.nodes[0].client_port
            noauth = Err("NOAUTH Authentication required.")
            wrongpass = Err("WRONGPASS invalid username-password pair or user is disabled.")
            drivers = [clients.RedisCli(port, resp=2), clients.RedisCli(port, resp=3),
                       clients.RedisPy(port), clients.Hiredis(self.binaries.hiredis_client, port)]
            for d in drivers:
                with d:
                    with self.subTest(client=d.name):
                        if not isinstance(d, clients.RedisCli):
                            # redis-cli -3 says HELLO 3 first; it fails before AUTH, so the
                            # session stays in RESP2: checked by the raw socket below.
                            clients.check(d, ["GET", "k"], noauth)
                        clients.check(d, ["PING"], noauth)
                        clients.check(d, ["SET", "k", "v"], noauth)
                        clients.check(d, ["AUTH", "wrong"], wrongpass)
                        clients.check(d, ["AUTH", "nosuchuser", "s3cret pass"], wrongpass)
                        clients.check(d, ["GET", "k"], noauth)
                        clients.check(d, ["AUTH", "s3cret pass"], "OK")
                        clients.check(d, ["SET", "k", d.name], "OK")
                        clients.check(d, ["GET", "k"], d.name)
                        clients.check(d, ["AUTH", "default", "s3cret pass"], "OK")
                        # (redis-cli -3's HELLO 3 failed before AUTH: this session is RESP2)
                        clients.check(d, ["CONFIG", "GET", "requirepass"],
                                      ["requirepass", "********"])
            with clients.RedisCli(port, resp=3, password="s3cret pass") as d:
                clients.check(d, ["GET", "k"], "hiredis")
                clients.check(d, ["CONFIG", "GET", "requirepass"],
                              clients.Map([("requirepass", "********")]))
                clients.check(d, ["HELLO", "3"], clients.Pred(lambda v: v["proto"] == 3,
                                                               "a RESP3 HELLO"))
            with resp.Conn(port) as s:
                self.assertEqual(s.command("HELLO", "3"), Err(
                    "NOAUTH HELLO must be called with the client already authenticated, "
                    "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                    "authenticate the client and select the RESP protocol version at the same "
                    "time"))
                self.assertEqual(s.command("HELLO", "3", "AUTH", "default", "bad"), Err(
                    "WRONGPASS invalid username-password pair or user is disabled."))
                hello = s.command("HELLO", "3", "AUTH", "default", "s3cret pass")
                self.assertEqual(hello[b"proto"], 3)
                self.assertEqual(s.command("GET", "nokey"), None)
                self.assertEqual(s.command("RESET"), b"RESET")
                self.assertEqual(s.command("GET", "k"), noauth)  # RESET forgets AUTH
            # redis-py and redis-cli with the password given up front
            self.assertEqual(c.nodes[0].client(password="s3cret pass").get("k"), b"hiredis")
            p = subprocess.run(["redis-cli", "-p", str(port), "-a", "s3cret pass",
                                "--no-auth-warning", "GET", "k"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.stdout.strip(), "hiredis")
            with self.assertRaisesRegex((redis.AuthenticationError, redis.ResponseError),
                                        "WRONGPASS"):
                c.nodes[0].client(password="nope").ping()
        except Exception:
            c.dump_logs()
            c.close(keep_dir=harness.KEEP_FAILED)
            raise
        c.close()

    def test_large_values(self):
        """Values up to --proto-max-bulk-len (64 MiB by default) are accepted by the parser;
        Redis stores them. 512 KiB, 4 MiB: SET, GET through another node, APPEND, MSET."""
        c = self.cluster
        r = c.nodes[0].client()
        for size in (512 * 1024, 4 * 1024 * 1024):
            with self.subTest(size=size):
                value = bytes(random.Random(size).getrandbits(8) for _ in range(1024)) * (
                    size // 1024)
                key = "large:%d" % size
                try:
                    reply = c.nodes[0].call("SET", key, value)
                except redis.ResponseError as e:
                    self.fail("SET of a %d-byte value (under --proto-max-bulk-len) was refused: "
                              "%s" % (size, e))
                self.assertEqual(reply, b"OK", "SET of a %d-byte value" % size)
                self.assertEqual(c.nodes[1].client().get(key), value)
                self.assertEqual(r.append(key, b"tail"), size + 4)
                self.assertEqual(c.nodes[2].client().strlen(key), size + 4)
                self.assertTrue(r.mset({key + ":a": value, key + ":b": b"x"}))
                self.assertEqual(c.nodes[2].client().get(key + ":a"), value)
                r.delete(key, key + ":a", key + ":b")

    # -- pipelining ---------------------------------------------------------------------------

    N_PIPELINE = 10000

    def test_pipeline_redis_py(self):
        """10,000 commands in one redis-py pipeline (transaction=False): replies in order, and
        each read sees the writes sent before it on the connection."""
        r = self.cluster.nodes[0].client(decode_responses=True)
        p = "pipe-py:"
        pipe = r.pipeline(transaction=False)
        expected = []
        for i in range(self.N_PIPELINE // 4):
            pipe.set(p + "k%d" % i, "v%d" % i)
            pipe.get(p + "k%d" % i)
            pipe.incr(p + "ctr")
            pipe.get(p + "ctr")
            expected += [True, "v%d" % i, i + 1, str(i + 1)]
        got = pipe.execute()
        self.assertEqual(len(got), len(expected))
        for i, (g, e) in enumerate(zip(got, expected)):
            self.assertEqual(g, e, "reply %d of the pipeline" % i)
        other = self.cluster.nodes[2].client(decode_responses=True)
        self.assertEqual(other.get(p + "ctr"), str(self.N_PIPELINE // 4))

    def test_pipeline_redis_cli_pipe(self):
        """redis-cli --pipe with 10,000 commands: no errors, every reply counted, data there."""
        p = "pipe-cli:"
        n = self.N_PIPELINE
        data = b"".join(resp.encode("SET", p + "k%d" % i, "v%d" % i) if i % 10 else
                        resp.encode("INCR", p + "ctr") for i in range(n))
        node = self.cluster.nodes[1]
        out = subprocess.run(["redis-cli", "-p", str(node.client_port), "--pipe"], input=data,
                             capture_output=True, timeout=120)
        text = out.stdout.decode(errors="replace")
        self.assertEqual(out.returncode, 0, text + out.stderr.decode(errors="replace"))
        self.assertIn("errors: 0, replies: %d" % n, text)
        r = self.cluster.nodes[0].client(decode_responses=True)
        keys = [p + "k%d" % i for i in range(n) if i % 10]
        self.assertEqual(r.mget(keys), ["v%d" % i for i in range(n) if i % 10])
        self.assertEqual(r.get(p + "ctr"), str(n // 10))

    def test_pipeline_raw_socket(self):
        """10,000 commands written at once on a raw socket (a thread reads meanwhile): the reply
        bytes are exactly those of running them one by one, errors included."""
        p = "pipe-raw:"
        n = self.N_PIPELINE
        request, expected = [], []
        for i in range(n // 5):
            key, val = p + "k%d" % i, "v%d" % i
            request += [resp.encode("SET", key, val), resp.encode("GET", key),
                        resp.encode("INCR", p + "ctr")]
            expected += [b"+OK\r\n", b"$%d\r\n%s\r\n" % (len(val), val.encode()),
                         b":%d\r\n" % (i + 1)]
            if i % 2:
                request.append(b"PING\r\n")  # an inline command between them
                expected.append(b"+PONG\r\n")
            else:
                request.append(resp.encode("INCR", key))
                expected.append(b"-ERR value is not an integer or out of range\r\n")
            request.append(resp.encode("EXISTS", key, p + "nokey"))
            expected.append(b":1\r\n")
        want = b"".join(expected)
        with resp.Conn(self.cluster.nodes[2].client_port, timeout_s=120) as s:
            got = []

            def reader():
                got.append(s.read_raw(len(want), timeout_s=120))
            t = threading.Thread(target=reader)
            t.start()
            s.send(b"".join(request))
            t.join(timeout=150)
            self.assertFalse(t.is_alive(), "replies did not arrive")
            self.assertTrue(got, "the reader failed (see above)")
            if got[0] != want:
                at = next(i for i in range(min(len(got[0]), len(want)))
                          if got[0][i] != want[i])
                self.fail("reply stream differs at byte %d: got %r, expected %r" % (
                    at, got[0][max(0, at - 40):at + 60], want[max(0, at - 40):at + 60]))
            self.assertEqual(s.command("PING"), b"PONG")

    def test_pipeline_hiredis(self):
        """10,000 commands appended through hiredis before the first reply is read."""
        p = "pipe-hi:"
        cmds, expected = [], []
        for i in range(self.N_PIPELINE // 2):
            cmds += [["APPEND", p + "log", "x"], ["STRLEN", p + "log"]]
            expected += [i + 1, i + 1]
        got = clients.hiredis_pipeline(self.binaries.hiredis_client,
                                       self.cluster.nodes[0].client_port, cmds)
        self.assertEqual(len(got), len(expected))
        self.assertEqual(got, expected)

    # -- pub/sub ------------------------------------------------------------------------------

    def subscribe_everywhere(self):
        subs = []
        for n in self.cluster.nodes:
            ps = n.client(decode_responses=True).pubsub()
            ps.psubscribe("__keyspace@0__:*")
            ps.subscribe("__keyevent@0__:set")
            confirmations = []
            harness.wait_until(lambda: self._collect_confirm(ps, confirmations), 20,
                               "subscribe confirmations on %r" % n)
            subs.append((n, ps))
        return subs

    @staticmethod
    def _collect_confirm(ps, out):
        m = ps.get_message(timeout=0.2)
        if m is not None and m["type"] in ("subscribe", "psubscribe"):
            out.append(m)
        return len(out) == 2

    @staticmethod
    def collect(ps, got, prefix):
        """Moves the messages about keys with `prefix` from ps into got: (channel, data)."""
        while True:
            m = ps.get_message(timeout=0.05)
            if m is None:
                return
            if m["type"] not in ("message", "pmessage"):
                continue
            ch, data = m["channel"], m["data"]
            if prefix in ch or data.startswith(prefix):
                got.append((ch, data))

    def test_pubsub_keyspace_events_on_every_node(self):
        p = "ev:"
        subs = self.subscribe_everywhere()
        try:
            w = self.cluster.nodes[0].client()
            ks = lambda key, ev: ("__keyspace@0__:" + p + key, ev)  # noqa: E731
            ke_set = lambda key: ("__keyevent@0__:set", p + key)  # noqa: E731
            w.set(p + "a", "1")
            w.set(p + "b", "2")
            w.incr(p + "n")
            w.delete(p + "a")
            w.expire(p + "b", 100)
            w.rename(p + "b", p + "c")
            w.mset({p + "x": "1", p + "y": "2"})
            w.append(p + "x", "z")
            w.set(p + "e", "v", px=300)
            expected = [
                ks("a", "set"), ke_set("a"),
                ks("b", "set"), ke_set("b"),
                ks("n", "incrby"),
                ks("a", "del"),
                ks("b", "expire"),
                ks("b", "rename_from"), ks("c", "rename_to"),
                ks("x", "set"), ke_set("x"), ks("y", "set"), ke_set("y"),
                ks("x", "append"),
                ks("e", "set"), ke_set("e"), ks("e", "expire"),
                ks("e", "expired"),
            ]
            for node, ps in subs:
                got = []

                def complete():
                    self.collect(ps, got, p)
                    return len(got) >= len(expected)
                try:
                    harness.wait_until(complete, 30, "%d events on %r" % (len(expected), node))
                except AssertionError as e:
                    self.fail("%s; got %r" % (e, got))
                self.collect(ps, got, p)
                self.assertEqual(got, expected, "events on %r (a write through %r)" % (
                    node, self.cluster.nodes[0]))
        finally:
            for _, ps in subs:
                ps.close()

    def test_pubsub_resp3_push_and_publish_is_local(self):
        """A RESP3 subscriber gets push messages and may still run commands; PUBLISH reaches the
        subscribers of its own node only (docs/semantics.md); CONFIG SET notify-keyspace-events ""
        silences a node."""
        c = self.cluster
        p = "push:"
        with resp.Conn(c.nodes[1].client_port) as s3, resp.Conn(c.nodes[2].client_port) as s2:
            self.assertEqual(s3.command("HELLO", "3")[b"proto"], 3)
            self.assertEqual(s3.command("SUBSCRIBE", "__keyevent@0__:del", "chan"),
                             resp.Push([b"subscribe", b"__keyevent@0__:del", 1]))
            self.assertEqual(s3.read(), resp.Push([b"subscribe", b"chan", 2]))
            self.assertEqual(s3.command("GET", p + "nokey"), None)  # RESP3: commands still run
            self.assertEqual(s2.command("SUBSCRIBE", "chan", "__keyevent@0__:del"),
                             [b"subscribe", b"chan", 1])
            self.assertEqual(s2.read(), [b"subscribe", b"__keyevent@0__:del", 2])
            # RESP2 subscribed mode
            self.assertEqual(s2.command("GET", "x"), Err(
                "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context"))
            self.assertEqual(s2.command("PING"), [b"pong", b""])

            w = c.nodes[0].client()
            w.set(p + "a", "1")
            self.assertEqual(w.publish("chan", "only-node-1"), 0)  # nobody on node 1
            pub = c.nodes[1].client()
            self.assertEqual(pub.publish("chan", "hello"), 1)  # s3 only
            w.delete(p + "a")
            self.assertEqual(s3.read(), resp.Push([b"message", b"chan", b"hello"]))
            self.assertEqual(s3.read(), resp.Push([b"message", b"__keyevent@0__:del",
                                                   (p + "a").encode()]))
            # s2 (node 3) gets the del event, and no published message from nodes 1 and 2
            self.assertEqual(s2.read(), [b"message", b"__keyevent@0__:del", (p + "a").encode()])

            # node 3 stops notifying; node 2 goes on
            admin = c.nodes[2].client()
            self.assertTrue(admin.config_set("notify-keyspace-events", ""))
            try:
                w.set(p + "b", "1")
                w.delete(p + "b")
                self.assertEqual(s3.read(), resp.Push([b"message", b"__keyevent@0__:del",
                                                       (p + "b").encode()]))
                self.assertEqual(pub.publish("chan", "marker"), 1)
                self.assertEqual(s3.read(), resp.Push([b"message", b"chan", b"marker"]))
                self.assertEqual(admin.publish("chan", "marker3"), 1)
                self.assertEqual(s2.read(), [b"message", b"chan", b"marker3"])  # not "b"'s del
            finally:
                admin.config_set("notify-keyspace-events", "KEA")
            s2.send(resp.encode("UNSUBSCRIBE"))
            replies = [s2.read(), s2.read()]
            self.assertEqual(sorted(r[1] for r in replies), [b"__keyevent@0__:del", b"chan"])
            self.assertEqual([(r[0], r[2]) for r in replies], [(b"unsubscribe", 1),
                                                               (b"unsubscribe", 0)])
            self.assertEqual(s2.command("GET", p + "nokey"), None)


if __name__ == "__main__":
    harness.main()

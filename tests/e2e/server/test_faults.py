#!/usr/bin/env python3
"""chorusd under faults, with real processes:
  - kill -9 of the leader while clients write through every node: a new leader, writes go on,
    the killed node comes back with its data, and every acknowledged write is on every node;
  - SIGTERM of every node, then kill -9 of every node: restarted, the data is there;
  - membership: a node joins with --join and becomes a voter; `chorus member remove` removes a
    follower, then the leader, and the cluster keeps serving.

    tests/e2e/server/test_faults.py [--chorusd PATH --chorus PATH]
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster as harness  # noqa: E402  (re-executes under /usr/bin/python3 if needed)
import redis  # noqa: E402
from cluster import wait_until  # noqa: E402

# The errors a write may get while the cluster changes leader (docs/semantics.md): retried.
RETRYABLE_PREFIXES = ("CLUSTERDOWN", "TIMEOUT")


class Writer(threading.Thread):
    """Writes unique keys (load:<writer>:<seq>), each with its own value, through one node, moving
    to the next node when its node cannot be reached. A key is retried (same value, so a retry
    after -TIMEOUT is harmless) until it is acknowledged with OK."""

    def __init__(self, cluster, index, stop):
        super().__init__(name="writer-%d" % index, daemon=True)
        self.cluster = cluster
        self.index = index
        self.stop = stop
        self.node_pos = index % len(cluster.nodes)
        self.intended = {}  # every key tried -> its value
        self.acked = {}     # key -> value, acknowledged OK
        self.errors = {}    # error kind -> count
        self.unexpected = []
        self.rng = random.Random(index)
        self._client = None
        self._client_node = None

    def client(self):
        node = self.cluster.nodes[self.node_pos % len(self.cluster.nodes)]
        if self._client_node is not node:
            if self._client is not None:
                self._client.close()
            self._client = node.client(socket_timeout=15, socket_connect_timeout=2)
            self._client_node = node
        return self._client

    def count(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def run(self):
        seq = 0
        try:
            while not self.stop.is_set():
                key = "load:%d:%06d" % (self.index, seq)
                value = "%d-%d-%08x" % (self.index, seq, self.rng.getrandbits(32))
                self.intended[key] = value
                while not self.stop.is_set():
                    try:
                        if self.client().set(key, value):
                            self.acked[key] = value
                            break
                        self.unexpected.append("SET %s returned a false reply" % key)
                        return
                    except redis.ResponseError as e:
                        kind = str(e).split(" ")[0]
                        if kind not in RETRYABLE_PREFIXES:
                            self.unexpected.append("SET %s: %s" % (key, e))
                            return
                        self.count(kind)
                        time.sleep(0.05)
                    except (redis.ConnectionError, redis.TimeoutError) as e:
                        self.count(type(e).__name__)
                        self._client_node = None  # reconnect, to the next node
                        self.node_pos += 1
                        time.sleep(0.05)
                seq += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.unexpected.append("writer %d crashed: %r" % (self.index, e))


def total_acked(writers):
    return sum(len(w.acked) for w in writers)


def mget_chunks(client, keys, chunk=500):
    out = []
    for i in range(0, len(keys), chunk):
        out += client.mget(keys[i:i + chunk])
    return out


class FaultsTest(harness.ClusterTestCase):

    def assert_all_present(self, cluster, expected, nodes=None, what="acknowledged writes"):
        """Every key of `expected` has its value through every node (linearizable MGETs)."""
        keys = sorted(expected)
        for n in (nodes if nodes is not None else cluster.nodes):
            got = mget_chunks(n.client(decode_responses=True), keys)
            missing = [(k, expected[k], g) for k, g in zip(keys, got) if g != expected[k]]
            self.assertFalse(missing, "%d of %d %s wrong through %r, e.g. (key, want, got) %r" % (
                len(missing), len(keys), what, n, missing[:5]))

    def test_kill9_leader_under_load(self):
        c = self.new_cluster(3)
        stop = threading.Event()
        writers = [Writer(c, i, stop) for i in range(4)]
        for w in writers:
            w.start()

        def progressed_by(n):
            start = total_acked(writers)

            def ok():
                for w in writers:
                    self.assertFalse(w.unexpected, w.unexpected)
                return total_acked(writers) >= start + n
            return ok
        try:
            wait_until(progressed_by(200), 90, "200 acknowledged writes before the first kill")
            killed = []
            for round_ in range(2):  # the leader, then the leader elected after it
                old = c.leader()
                killed.append(old.id)
                old.kill9()
                old.expected_down = True
                new = c.wait_leader(exclude=(old.id,))
                self.assertNotEqual(new.id, old.id)
                wait_until(progressed_by(200), 90, "200 more acknowledged writes with node %d "
                           "as the new leader (round %d)" % (new.id, round_))
                old.expected_down = False
                old.restart()
                wait_until(lambda: old.status()["leader"] not in (0, old.id), 60,
                           "the restarted node %d to follow the leader" % old.id)
                wait_until(progressed_by(200), 90,
                           "200 more writes after node %d came back" % old.id)
            sys.stderr.write("  killed the leader twice: nodes %s\n" % killed)
        finally:
            stop.set()
            for w in writers:
                w.join(timeout=60)
        for w in writers:
            self.assertFalse(w.is_alive(), "%s did not stop" % w.name)
            self.assertFalse(w.unexpected, w.unexpected)
        acked = {}
        intended = {}
        for w in writers:
            acked.update(w.acked)
            intended.update(w.intended)
        sys.stderr.write("  %d writes acknowledged; retried errors: %s\n" % (
            len(acked), {w.name: w.errors for w in writers}))
        c.wait_leader()
        hashes = c.wait_converged()
        sys.stderr.write("  converged at %s\n" % hashes)
        self.assert_all_present(c, acked)
        # A write that was not acknowledged may or may not have happened, but never differently.
        r = c.nodes[0].client(decode_responses=True)
        present = sorted(r.scan_iter(match="load:*", count=1000))
        stray = [k for k in present if k not in intended]
        self.assertFalse(stray, "keys nobody wrote: %r" % stray[:5])
        values = dict(zip(present, mget_chunks(r, present)))
        wrong = [(k, v, intended[k]) for k, v in values.items() if v != intended[k]]
        self.assertFalse(wrong, "keys with a value never written: %r" % wrong[:5])

    def test_restart_with_data(self):
        c = self.new_cluster(3)
        r = c.nodes[0].client(decode_responses=True)
        data = {"restart:%04d" % i: "value-%d" % i for i in range(600)}
        items = sorted(data.items())
        for i in range(0, len(items), 100):
            self.assertTrue(r.mset(dict(items[i:i + 100])))
        r.set("restart:ttl", "t", ex=1000)
        for v in ("h1", "h2", "h3"):
            r.set("restart:hist", v)
        data["restart:ttl"] = "t"
        data["restart:hist"] = "h3"
        r.set("restart:short", "gone", px=300)
        history = r.execute_command("HISTORY", "restart:hist")
        c.wait_converged()

        # 1. SIGTERM every node: each stops cleanly (exit code 0).
        for n in c.nodes:
            code = n.terminate()
            self.assertEqual(code, 0, "%r exited with %s after SIGTERM" % (n, code))
        c.start()
        self.assert_all_present(c, data, what="values written before SIGTERM")
        for n in c.nodes:
            rn = n.client(decode_responses=True)
            self.assertIn(rn.ttl("restart:ttl"), range(900, 1001), "TTL through %r" % n)
            self.assertIsNone(rn.get("restart:short"), "an expired key came back on %r" % n)
            self.assertEqual(rn.execute_command("HISTORY", "restart:hist"), history,
                             "HISTORY through %r after the restart" % n)
            self.assertEqual(rn.execute_command("GETREV", "restart:hist", history[-1][0]), "h1")
        c.wait_converged()

        # 2. More writes, then kill -9 of every node: acknowledged writes survive the crash.
        r = c.nodes[1].client(decode_responses=True)
        more = {"crash:%04d" % i: "v%d" % i for i in range(300)}
        for k, v in more.items():
            self.assertTrue(r.set(k, v))
        for n in c.nodes:
            n.kill9()
        c.start()
        data.update(more)
        self.assert_all_present(c, data, what="values written before kill -9 of every node")
        c.wait_converged()
        self.assertEqual(c.nodes[2].client().dbsize(), len(data))

    def test_membership_join_and_remove(self):
        c = self.new_cluster(3)
        r = c.nodes[0].client(decode_responses=True)
        data = {"member:%03d" % i: "v%d" % i for i in range(200)}
        self.assertTrue(r.mset(data))

        # A fourth node joins through the client addresses of the running members.
        new = c.add_node()

        def is_voter():
            leader = c.leader()
            return new.id in leader.status()["voters"]
        wait_until(is_voter, 90, "node %d to become a voter" % new.id)
        st = new.status()
        self.assertIn(new.id, st["voters"])
        self.assertNotEqual(st["leader"], 0)
        self.assert_all_present(c, data, nodes=[new], what="values written before the join")
        # Restarted, the new node keeps its membership (it does not join again).
        self.assertEqual(new.terminate(), 0)
        new.restart()
        wait_until(lambda: new.status()["leader"] not in (0, new.id), 60,
                   "the restarted node %d to follow the leader" % new.id)
        self.assertIn(new.id, c.leader().status()["voters"])
        rn = new.client(decode_responses=True)
        self.assertTrue(rn.set("member:from-new", "x"))
        data["member:from-new"] = "x"
        self.assert_all_present(c, data, what="values after the join")
        out = c.run_cli("cluster", "status", "--nodes", c.addresses()).stdout
        self.assertEqual(len([l for l in out.splitlines()[1:] if l.strip()]), 4, out)

        # `chorus member remove` of a follower (the new node stays).
        leader = c.leader()
        victim = next(n for n in c.nodes if n is not leader and n is not new)
        out = c.run_cli("member", "remove", str(victim.id), "--nodes", c.addresses())
        self.assertIn("OK", out.stdout)
        rest = [n for n in c.nodes if n is not victim]
        wait_until(lambda: victim.id not in c.wait_leader(nodes=rest).status()["voters"],
                   60, "node %d out of the voters" % victim.id)
        victim.terminate()
        victim.expected_down = True
        self.check_serving(c, rest, data, "after removing node %d" % victim.id)

    def test_membership_remove_leader(self):
        """`chorus member remove <leader>`: the leader commits its own removal and steps down
        (Raft thesis 4.2.2); the other two elect a leader and serve. The command must report
        success, since the removal took effect."""
        c = self.new_cluster(3)
        data = {"rmleader:%03d" % i: "v%d" % i for i in range(100)}
        self.assertTrue(c.nodes[0].client().mset(data))
        leader = c.leader()
        out = c.run_cli("member", "remove", str(leader.id), "--nodes", c.addresses(),
                        check=False)
        rest = [n for n in c.nodes if n is not leader]
        new_leader = wait_until(
            lambda: (lambda l: l if leader.id not in l.status()["voters"] else None)(
                c.wait_leader(nodes=rest, exclude=(leader.id,))),
            60, "a leader without node %d among %s" % (leader.id, rest))
        self.assertNotEqual(new_leader.id, leader.id)
        leader.terminate()
        leader.expected_down = True
        self.check_serving(c, rest, data, "after removing the leader, node %d" % leader.id)
        self.assertEqual(out.returncode, 0,
                         "`chorus member remove %d` (the leader) failed although the removal "
                         "was committed (node %d is out of the voters): %s%s" % (
                             leader.id, leader.id, out.stdout, out.stderr))

    def check_serving(self, c, nodes, data, what):
        """Writes through every node of `nodes`, and reads everything back through all."""
        current = c.wait_leader(nodes=nodes)
        for n in nodes:
            self.assertIn(n.id, current.status()["voters"] + current.status()["learners"])
            key = "serving:%s:via-%d" % (what.replace(" ", "-"), n.id)
            self.assertTrue(n.client().set(key, "ok"), "SET through %r %s" % (n, what))
            data[key] = "ok"
        self.assert_all_present(c, data, nodes=nodes, what="values " + what)
        c.wait_converged(nodes=nodes)


if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""A Jepsen-style fault campaign against real chorusd processes.

    campaign.py --seed S --duration D --nodes 3|5 [--chorusd PATH --chorus PATH --lincheck PATH]

Starts the nodes, each in its own network namespace (netns.py), drives read / write / cas clients
through every node (workload.py), and injects one fault at a time on a schedule drawn from the
seed (nemesis.py): partitions, kill -9, SIGSTOP pauses, membership changes, leadership
transfers, a slow peer, a full disk, a corrupted log record. Then it heals everything and checks:
  1. the history is linearizable (chorus-lincheck over the whole run, final reads included);
  2. no acknowledged write is lost, no value appears that no write could have put there;
  3. every member converges to the same CHORUS STATEHASH at the same revision;
  4. the cluster recovered from every fault within --recovery-bound-s.
Exit 0 when all hold. On a failure it prints the seed and keeps the directory with the history
(history.jsonl) and the node logs. Needs root (namespaces, iptables, tmpfs).
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))

import cluster as harness  # noqa: E402  (re-executes under /usr/bin/python3 if needed)
import nemesis as nemesis_mod  # noqa: E402
import netns  # noqa: E402
import workload  # noqa: E402

TMPFS_SIZE = "320m"  # two preallocated 64 MiB log segments, snapshots, room to spare


class NsNode(harness.Node):
    """A chorusd in its own namespace; its data directory is a tmpfs (for the disk-full fault)."""

    def __init__(self, cluster, node_id):
        self.host = cluster.net.add_node(node_id)
        super().__init__(cluster, node_id, netns.CLIENT_PORT, netns.PEER_PORT)
        os.makedirs(self.data_dir)
        netns.sh("mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", self.data_dir)
        self.mounted = True
        self.retired = False

    @property
    def address(self):
        return "%s:%d" % (self.host, self.client_port)

    @property
    def peer_address(self):
        return "%s:%d" % (self.host, self.peer_port)

    def start(self):
        assert not self.alive(), "node %d is already running" % self.id
        with open(self.log_path, "ab") as log:
            log.write(("\n==== start %s\n" % " ".join(self.command_line())).encode())
            log.flush()
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.cluster.net.ns(self.id)] + harness.STDBUF +
                self.command_line(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        return self

    def client(self, **kw):
        kw.setdefault("socket_timeout", harness.OP_TIMEOUT_S)
        kw.setdefault("socket_connect_timeout", 2)
        return harness.redis.Redis(host=self.host, port=self.client_port, **kw)

    def unmount(self):
        if self.mounted:
            netns.sh("umount", "-l", self.data_dir, check=False)
            self.mounted = False


class NsCluster(harness.Cluster):
    def __init__(self, binaries, net, nodes, common_args):
        self.net = net
        super().__init__(binaries, nodes=nodes, common_args=common_args, name="faults")

    def _assign_ports(self, count):
        self.nodes = [NsNode(self, i + 1) for i in range(count)]
        self.initial_peers = ",".join("%d=%s" % (n.id, n.peer_address) for n in self.nodes)

    def add_node(self, join_via=None, extra_args=()):
        node_id = max(n.id for n in self.nodes) + 1
        self.issue_cert(node_id)
        n = NsNode(self, node_id)
        n.join = self.addresses(join_via)
        self.nodes.append(n)
        return n.start()


class Campaign:
    def __init__(self, args, binaries):
        self.args = args
        self.binaries = binaries
        self.rng = random.Random(args.seed)
        self.election_timeout_s = args.tick_ms * args.election_ticks / 1000.0
        self.failures = []
        self.faults = []  # (kind, what, recovery seconds or None)
        self.t0 = time.monotonic()
        self.net = netns.Net()
        common = ["--tick-ms", str(args.tick_ms), "--election-ticks", str(args.election_ticks),
                  "--proposal-timeout-ms", str(args.proposal_timeout_ms),
                  "--snapshot-threshold", str(args.snapshot_threshold), "--log-level", "info"]
        self.cluster = NsCluster(binaries, self.net, args.nodes, common)
        self.members = list(self.cluster.nodes)
        self.members_lock = threading.Lock()
        self.history = workload.History(os.path.join(self.cluster.dir, "history.jsonl"))
        self.nemesis = nemesis_mod.Nemesis(self)
        self.probe_seq = 0

    def log(self, text):
        sys.stderr.write("[%7.1fs] %s\n" % (time.monotonic() - self.t0, text))
        sys.stderr.flush()

    # -- membership bookkeeping -------------------------------------------------------------------

    def client_nodes(self):
        with self.members_lock:
            return list(self.members)

    def live_members(self):
        return [n for n in self.members if n.alive() and n not in self.nemesis.paused]

    def admin(self, node, *args):
        try:
            return node.call(*args, timeout_s=10)
        except Exception as e:  # noqa: BLE001 - an error reply is an answer too
            return "error: %s" % e

    def restart(self, n):
        n.expected_down = False
        n.start()
        time.sleep(1)
        if not n.alive():
            self.failures.append("node %d did not restart (exit %s): %s" % (
                n.id, n.proc.returncode, n.log_tail(3)))
            n.expected_down = True

    def current_leader_status(self):
        """(node, STATUS) of the live member that leads in the highest term, or (None, None)."""
        best = (None, None)
        for n in self.live_members():
            st = self.cluster.statuses([n]).get(n.id)
            if st and st.get("role") == "leader" and not st.get("failed") and (
                    best[1] is None or st["term"] > best[1]["term"]):
                best = (n, st)
        return best

    def remove_member(self, victim):
        """CHORUS REMOVE through the leader until the leader's configuration no longer has the
        victim (an error reply may still have removed it: removing the leader itself answers
        an error once it steps down), then stops it."""
        replies = []

        def removed():
            lead, st = self.current_leader_status()
            if lead is None:
                return False
            if victim.id not in st["voters"] + st["learners"]:
                return True
            reply = self.admin(lead, "CHORUS", "REMOVE", victim.id)
            replies.append("%d: %s" % (lead.id, reply))
            return False
        harness.wait_until(removed, self.args.recovery_bound_s, "CHORUS REMOVE %d" % victim.id,
                           interval_s=0.3)
        errors = [r for r in replies if "error" in r]
        if errors:
            self.nemesis.findings.append("REMOVE %d answered %s, yet it took effect" % (
                victim.id, errors[-1]))
        with self.members_lock:
            self.members.remove(victim)
        victim.expected_down = True
        victim.retired = True
        victim.kill9()

    def add_member(self):
        """A new node (new id, namespace, certificate) joins with --join and must become a
        voter. chorusd's join promoter asks only the member it joined through; if that one no
        longer leads, the campaign promotes the learner through the leader (a finding)."""
        via = self.live_members()
        n = self.cluster.add_node(join_via=via)
        started = time.monotonic()
        promoted_by_us = []

        def voter():
            if not n.alive():
                raise harness.NodeDied("joining node %d exited: %s" % (n.id, n.log_tail(5)))
            lead, st = self.current_leader_status()
            if lead is None:
                return False
            if n.id in st["voters"]:
                return True
            if n.id in st["learners"] and time.monotonic() - started > 25:
                promoted_by_us.append(self.admin(lead, "CHORUS", "PROMOTE", n.id))
            return False
        harness.wait_until(voter, self.args.recovery_bound_s * 2, "node %d to join" % n.id,
                           interval_s=0.3)
        if promoted_by_us:
            tail = [l.split("] ", 1)[-1] for l in n.log_tail(40) if "join:" in l]
            self.nemesis.findings.append(
                "BUG join: node %d stayed a learner (%s); promoted by the campaign" % (
                    n.id, tail[-1] if tail else "?"))
        with self.members_lock:
            self.members.append(n)
        return n

    # -- recovery ---------------------------------------------------------------------------------

    def wait_recovered(self, what):
        """Seconds until a leader is agreed and a write succeeds through every live member."""
        start = time.monotonic()
        bound = self.args.recovery_bound_s

        def writes_everywhere():
            self.cluster.wait_leader(nodes=self.live_members(), timeout_s=bound)
            for n in self.live_members():
                self.probe_seq += 1
                n.call("SET", "probe", self.probe_seq, timeout_s=5)
            return True
        try:
            harness.wait_until(writes_everywhere, bound, "recovery after " + what,
                               interval_s=0.2)
        except AssertionError as e:
            self.failures.append("no recovery within %.0fs after %s: %s" % (bound, what, e))
            return None
        return time.monotonic() - start

    # -- the run ----------------------------------------------------------------------------------

    def run(self):
        a = self.args
        self.log("seed %d, %d nodes, %ds, dir %s" % (a.seed, a.nodes, a.duration, self.cluster.dir))
        self.cluster.start()
        self.log("leader: %r" % self.cluster.wait_leader())
        stop = threading.Event()
        keys = ["k%d" % i for i in range(a.keys)]
        clients = [workload.Client(i, self.client_nodes, self.history, keys, a.seed, stop,
                                   a.op_timeout_s) for i in range(a.clients or 2 * a.nodes)]
        for c in clients:
            c.start()
        deadline = time.monotonic() + a.duration
        kinds = [k for k in nemesis_mod.KINDS if k not in a.skip]
        order = []
        try:
            time.sleep(min(3.0, a.duration / 10))
            while time.monotonic() < deadline and not self.failures:
                if not order:
                    order = list(kinds)
                    self.rng.shuffle(order)
                kind = order.pop()
                self.log("fault: " + kind)
                started = time.monotonic() - self.history.t0
                what = self.inject(kind)
                self.net.heal()
                self.nemesis.resume_all()
                rec = self.wait_recovered(kind)
                self.faults.append((kind, what, rec, started,
                                    time.monotonic() - self.history.t0))
                self.log("  %s: %s; recovered in %s" % (
                    kind, what, "-" if rec is None else "%.2fs" % rec))
                time.sleep(self.rng.uniform(1, 3))
        finally:
            self.log("healing")
            self.nemesis.heal_slow()
            self.net.heal()
            self.nemesis.resume_all()
            for n in self.members:
                if not n.alive():
                    self.restart(n)
            started = time.monotonic() - self.history.t0
            final = self.wait_recovered("the final heal")
            self.faults.append(("final-heal", "everything healed", final, started,
                                time.monotonic() - self.history.t0))
            stop.set()
            for c in clients:
                c.join(timeout=2 * a.op_timeout_s + 5)
        self.converge_and_read(keys)
        self.history.close()
        return self.check(keys)

    def inject(self, kind):
        nm = self.nemesis
        try:
            return {
                "partition-majority": lambda: nm.run_partition(nm.partition_majority),
                "partition-leader": lambda: nm.run_partition(nm.partition_leader),
                "partition-one-way": lambda: nm.run_partition(nm.partition_one_way),
                "partition-bridge": lambda: nm.run_partition(nm.partition_bridge),
                "kill-random": lambda: nm.kill(leader=False),
                "kill-leader": lambda: nm.kill(leader=True),
                "pause": nm.pause,
                "membership": nm.membership,
                "transfer": nm.transfer,
                "slow-peer": nm.slow_peer,
                "disk-full": nm.disk_full,
                "corrupt-segment": nm.corrupt_segment,
            }[kind]()
        except AssertionError as e:
            self.failures.append("%s: %s" % (kind, e))
            return "failed: %s" % e

    def converge_and_read(self, keys):
        members = [n for n in self.members if n.alive()]
        start = time.monotonic()
        try:
            hashes = self.cluster.wait_converged(nodes=members,
                                                 timeout_s=self.args.recovery_bound_s)
            self.converged = (time.monotonic() - start, hashes)
        except AssertionError as e:
            self.failures.append("no convergence: %s" % e)
            self.converged = None
        # Final reads through every member, recorded like any other op.
        for n in members:
            conns = {}
            for k in keys:
                kind, _ = workload.run_op(conns, n, 10000 + n.id, self.history, "read", k, None,
                                          self.args.op_timeout_s * 3)
                if kind != "ok":
                    self.failures.append("final read of %s through node %d: %s" % (k, n.id,
                                                                                     kind))
            for c in conns.values():
                c.close()

    # -- checks -----------------------------------------------------------------------------------

    def check(self, keys):
        lin = subprocess.run([self.args.lincheck, self.history.path], capture_output=True,
                             text=True, timeout=600)
        self.lincheck_out = (lin.stdout + lin.stderr).strip()
        self.lincheck_rc = lin.returncode
        if lin.returncode != 0:
            self.failures.append("chorus-lincheck exit %d: %s" % (lin.returncode,
                                                                 self.lincheck_out))
        self.failures += lost_or_invented(self.history.ops, keys)
        if self.history.unexpected:
            self.failures.append("unexpected replies: %s" % self.history.unexpected[:5])
        return not self.failures

    def summary(self):
        out = []
        h = self.history
        fs = ["read", "write", "cas"]
        out.append("%-8s %8s %8s %8s %8s" % ("op", "ok", "fail", "info", "total"))
        for f in fs:
            row = [h.counts.get((f, t), 0) for t in ("ok", "fail", "info")]
            out.append("%-8s %8d %8d %8d %8d" % ((f,) + tuple(row) + (sum(row),)))
        tot = [sum(h.counts.get((f, t), 0) for f in fs) for t in ("ok", "fail", "info")]
        out.append("%-8s %8d %8d %8d %8d" % (("all",) + tuple(tot) + (sum(tot),)))
        out.append("")
        # recovery: from the heal until a write succeeds through every live member;
        # write gap: the longest time without an acknowledged write, from injection to recovery.
        out.append("%-20s %5s %10s %10s %10s" % ("fault", "count", "rec. max", "rec. mean",
                                                 "write gap"))
        acked = sorted(op["ret"] for op in h.ops if op["type"] == "ok" and op["f"] != "read")
        by_kind = {}
        for kind, _, rec, start, end in self.faults:
            by_kind.setdefault(kind, []).append((rec, longest_gap(acked, start, end)))
        for kind, recs in by_kind.items():
            ok = [r for r, _ in recs if r is not None]
            out.append("%-20s %5d %10s %10s %9.2fs" % (
                kind, len(recs), "%.2fs" % max(ok) if ok else "-",
                "%.2fs" % (sum(ok) / len(ok)) if ok else "-", max(g for _, g in recs)))
        out.append("")
        for kind, what, rec, start, end in self.faults:
            out.append("  %7.1fs %-20s %s" % (start, kind, what))
        for f in self.nemesis.findings:
            out.append("  finding: " + f)
        if getattr(self, "converged", None):
            t, hashes = self.converged
            rev = next(iter(hashes.values()))[0]
            out.append("converged: %d members at revision %d in %.2fs" % (len(hashes), rev, t))
        out.append("lincheck: " + getattr(self, "lincheck_out", "not run").splitlines()[0]
                   if getattr(self, "lincheck_out", "") else "lincheck: not run")
        out.append("verdict: %s" % ("PASS" if not self.failures else "FAIL"))
        for f in self.failures:
            out.append("  failure: " + f)
        return "\n".join(out)

    def close(self, keep):
        self.nemesis.heal_slow()
        self.nemesis.resume_all()
        self.cluster.close(keep_dir=True)
        for n in self.cluster.nodes:
            if keep and n.mounted and os.path.isdir(n.data_dir):
                # Keep the data: copy it out of the tmpfs before it goes.
                shutil.copytree(n.data_dir, n.data_dir + ".kept", dirs_exist_ok=True)
            n.unmount()
        self.net.close()
        if not keep:
            shutil.rmtree(self.cluster.dir, ignore_errors=True)


def longest_gap(times, start, end):
    """The longest interval within [start, end] that holds none of the sorted times."""
    inside = [t for t in times if start <= t <= end]
    edges = [start] + inside + [end]
    return max(b - a for a, b in zip(edges, edges[1:]))


def lost_or_invented(ops, keys):
    """Direct checks beside the linearizability checker, each naming the op at fault:
    - every value an ok read saw was written by a write/cas that did not definitely fail;
    - lost write: the final value of a key was written by W, but some acknowledged write or cas
      X on the key was called after W returned, so X must have overwritten W's value."""
    out = []
    writers = {}  # (key, value) -> op
    for op in ops:
        if op["f"] == "write":
            writers[(op["key"], op["value"])] = op
        elif op["f"] == "cas":
            writers[(op["key"], op["value"][1])] = op
    for op in ops:
        if op["f"] == "read" and op["type"] == "ok" and op["value"] is not None:
            w = writers.get((op["key"], op["value"]))
            if w is None or (w["type"] == "fail"):
                out.append("read of %s saw %s, which no write could have put there (%r)" % (
                    op["key"], op["value"], w))
    for k in keys:
        finals = [op for op in ops if op["f"] == "read" and op["key"] == k and
                  op["type"] == "ok" and op["final"]]
        values = {op["value"] for op in finals}
        if len(values) > 1:
            out.append("final reads of %s differ between nodes: %s" % (k, values))
            continue
        if not values:
            continue
        v = values.pop()
        w_ret = -1.0 if v is None else writers[(k, v)]["ret"]
        if v is not None and writers[(k, v)]["type"] == "info":
            continue  # it may have taken effect at any time after its call: nothing to prove
        lost = [op for op in ops if op["key"] == k and op["type"] == "ok" and
                op["f"] in ("write", "cas") and op["call"] > w_ret and
                not (op["f"] == "write" and op["value"] == v) and
                not (op["f"] == "cas" and op["value"][1] == v)]
        if lost:
            out.append("lost acknowledged write on %s: final value %s, but %d acknowledged "
                       "writes called after it returned, e.g. %r" % (k, v, len(lost), lost[0]))
    return out


def main():
    binaries, rest = harness.parse_binaries()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duration", type=float, default=120, help="seconds of faults")
    p.add_argument("--nodes", type=int, choices=(3, 5), default=3)
    p.add_argument("--clients", type=int, default=0, help="default: 2 per node")
    p.add_argument("--keys", type=int, default=5)
    p.add_argument("--op-timeout-s", type=float, default=3.0)
    p.add_argument("--tick-ms", type=int, default=10)
    p.add_argument("--election-ticks", type=int, default=30)
    p.add_argument("--proposal-timeout-ms", type=int, default=2000)
    p.add_argument("--snapshot-threshold", type=int, default=2000)
    p.add_argument("--recovery-bound-s", type=float, default=30)
    p.add_argument("--skip", action="append", default=[], choices=nemesis_mod.KINDS,
                   help="leave out a kind of fault (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the directory even on success")
    p.add_argument("--lincheck", default=os.path.join(harness.DEFAULT_BUILD, "tools",
                                                      "chorus-lincheck"))
    args = p.parse_args(rest)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    # Exit 77 (ctest's SKIP_RETURN_CODE) where the campaign cannot run at all.
    if os.geteuid() != 0:
        sys.stderr.write("skipped: campaign.py needs root (network namespaces, iptables)\n")
        sys.exit(77)
    ok, why = netns.probe()
    if not ok:
        sys.stderr.write("skipped: network namespaces are not usable here: %s\n" % why)
        sys.exit(77)
    netns.remove_stale()
    # ctest and make send SIGTERM on a timeout: clean up the namespaces and mounts then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))

    campaign = Campaign(args, binaries)
    passed = False
    try:
        passed = campaign.run()
    except BaseException as e:  # noqa: BLE001 - reported with the seed below
        campaign.failures.append("campaign error: %r" % e)
        raise
    finally:
        print("\n===== chorus fault campaign: seed %d, %d nodes, %.0fs" % (
            args.seed, args.nodes, args.duration))
        print(campaign.summary())
        keep = args.keep or not passed
        if not passed:
            campaign.cluster.dump_logs(lines=15, out=sys.stdout)
            print("\nFAILED: seed %d. Reproduce: %s --seed %d --duration %g --nodes %d" % (
                args.seed, os.path.abspath(__file__), args.seed, args.duration, args.nodes))
        if keep:
            print("kept: %s (history.jsonl, node-*.log, node-*.kept/)" % campaign.cluster.dir)
        sys.stdout.flush()
        campaign.close(keep)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()

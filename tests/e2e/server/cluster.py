"""A harness for end-to-end tests of chorusd: real processes on loopback, real certificates.

    cluster = Cluster(binaries, nodes=3)   # certificates by `chorus certs`, free ports
    cluster.start()                        # waits until every node knows the same leader
    r = cluster.nodes[0].client()          # a redis-py client of node 1
    cluster.leader().kill9(); cluster.wait_leader(); node.restart()
    cluster.close()                        # stops every process, removes the temp dir

Every wait polls with a deadline (`wait_until`); nothing asserts how long something took. On a
failure, `Cluster.dump_logs()` prints the tail of every node's log (the test runners below call it
when a test fails while a cluster is running).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# The Debian python3-redis package lives in the system interpreter; a python3 earlier on PATH
# (pyenv, a venv) may not have it. Re-run this script under /usr/bin/python3 in that case.
try:
    import redis
except ImportError:  # pragma: no cover - depends on the machine
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3") and not os.environ.get("CHORUS_E2E_REEXEC"):
        os.environ["CHORUS_E2E_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_BUILD = os.path.join(REPO_ROOT, "build", "release")

# Bounds for waits. Generous: the machine running the tests may be loaded.
LEADER_TIMEOUT_S = 60.0
OP_TIMEOUT_S = 30.0
# chorusd logs through stdio: line-buffered, so a kill -9 loses no line of its log.
STDBUF = ["stdbuf", "-oL", "-eL"] if shutil.which("stdbuf") else []


class Binaries:
    def __init__(self, chorusd, chorus, hiredis_client=None):
        self.chorusd = chorusd
        self.chorus = chorus
        self.hiredis_client = hiredis_client


def parse_binaries(argv=None):
    """Parses --chorusd/--chorus/--hiredis-client; returns (Binaries, the remaining argv)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--chorusd",
                   default=os.path.join(DEFAULT_BUILD, "src/chorus/server/chorusd"))
    p.add_argument("--chorus", default=os.path.join(DEFAULT_BUILD, "src/chorus/cli/chorus"))
    p.add_argument("--hiredis-client",
                   default=os.path.join(DEFAULT_BUILD, "tests/e2e/server/chorus_hiredis_client"))
    args, rest = p.parse_known_args(argv if argv is not None else sys.argv[1:])
    for path in (args.chorusd, args.chorus):
        if not os.access(path, os.X_OK):
            sys.exit("missing binary: %s (build it, or pass --chorusd/--chorus)" % path)
    return Binaries(args.chorusd, args.chorus, args.hiredis_client), rest


class NodeDied(AssertionError):
    """A node that should run has exited: no point in waiting longer."""


def wait_until(predicate, timeout_s, what, interval_s=0.05):
    """Polls predicate() until it returns a true value (returned); fails after timeout_s.
    Exceptions from the predicate count as 'not yet' (the last one is reported), except an
    AssertionError: a failed check of the test, or a node that died (NodeDied)."""
    deadline = time.monotonic() + timeout_s
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - a node may be down or electing
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0fs waiting for %s%s" % (
                timeout_s, what, "" if last_error is None else " (last error: %r)" % last_error))
        time.sleep(interval_s)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class Node:
    """One chorusd process: its id, ports, data directory and log."""

    def __init__(self, cluster, node_id, client_port, peer_port, extra_args=()):
        self.cluster = cluster
        self.id = node_id
        self.client_port = client_port
        self.peer_port = peer_port
        self.extra_args = list(extra_args)
        self.data_dir = os.path.join(cluster.dir, "node-%d" % node_id)
        self.log_path = os.path.join(cluster.dir, "node-%d.log" % node_id)
        self.proc = None
        self.join = None  # client addresses to --join, or None for an initial member

    @property
    def address(self):
        return "127.0.0.1:%d" % self.client_port

    @property
    def peer_address(self):
        return "127.0.0.1:%d" % self.peer_port

    def command_line(self):
        certs = self.cluster.certs_dir
        cmd = [self.cluster.bin.chorusd, "--id", str(self.id), "--data-dir", self.data_dir,
               "--client-address", self.address, "--peer-address", self.peer_address,
               "--tls-ca", os.path.join(certs, "ca.crt"),
               "--tls-cert", os.path.join(certs, "node-%d.crt" % self.id),
               "--tls-key", os.path.join(certs, "node-%d.key" % self.id)]
        if self.join is None:
            cmd += ["--peers", self.cluster.initial_peers]
        else:
            cmd += ["--join", self.join]
        return cmd + self.cluster.common_args + self.extra_args

    def start(self):
        assert not self.alive(), "node %d is already running" % self.id
        log = open(self.log_path, "ab")
        log.write(("\n==== start %s\n" % " ".join(self.command_line())).encode())
        log.flush()
        self.proc = subprocess.Popen(STDBUF + self.command_line(), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=OP_TIMEOUT_S)

    def terminate(self, timeout_s=OP_TIMEOUT_S):
        """SIGTERM and wait; returns the exit code (SIGKILL if it does not stop in time)."""
        if not self.alive():
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("node %d did not stop within %.0fs of SIGTERM" % (self.id,
                                                                                  timeout_s))

    def restart(self):
        """Starts the process again on the same ports and data directory."""
        return self.start()

    def client(self, **kw):
        kw.setdefault("socket_timeout", OP_TIMEOUT_S)
        kw.setdefault("socket_connect_timeout", 5)
        if self.cluster.password and "password" not in kw:
            kw["password"] = self.cluster.password
        return redis.Redis(host="127.0.0.1", port=self.client_port, **kw)

    def call(self, *args, timeout_s=5.0):
        """One command on a fresh connection; raw reply (no redis-py callbacks)."""
        r = self.client(socket_timeout=timeout_s)
        r.response_callbacks = {}
        try:
            return r.execute_command(*args)
        finally:
            r.close()

    def status(self, timeout_s=2.0):
        return json.loads(self.call("CHORUS", "STATUS", timeout_s=timeout_s))

    def statehash(self, timeout_s=5.0):
        rev, h = self.call("CHORUS", "STATEHASH", timeout_s=timeout_s)
        return int(rev), h

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return ["(no log: %s)" % e]
        return data[-lines:]

    def __repr__(self):
        return "node %d (%s, pid %s)" % (self.id, self.address,
                                        self.proc.pid if self.proc else "-")


class Cluster:
    """N chorusd processes sharing a CA; each has a client and a peer port."""

    def __init__(self, binaries, nodes=3, common_args=(), password=None, name="cluster"):
        self.bin = binaries
        self.dir = tempfile.mkdtemp(prefix="chorus-e2e-%s-" % name)
        self.certs_dir = os.path.join(self.dir, "certs")
        self.password = password
        self.common_args = list(common_args)
        if password:
            self.common_args += ["--requirepass", password]
        self.nodes = []
        self._issued = set()
        self.run_cli("certs", "init", "--dir", self.certs_dir)
        self._assign_ports(nodes)
        for n in self.nodes:
            self.issue_cert(n.id)

    def _assign_ports(self, count):
        ports = free_ports(2 * count)
        self.nodes = [Node(self, i + 1, ports[2 * i], ports[2 * i + 1]) for i in range(count)]
        self.initial_peers = ",".join("%d=%s" % (n.id, n.peer_address) for n in self.nodes)

    # -- tools --------------------------------------------------------------------------------

    def run_cli(self, *args, timeout_s=OP_TIMEOUT_S, check=True):
        p = subprocess.run([self.bin.chorus] + list(args), capture_output=True, text=True,
                           timeout=timeout_s)
        if check and p.returncode != 0:
            raise AssertionError("chorus %s failed (%d): %s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def issue_cert(self, node_id):
        if node_id not in self._issued:
            self.run_cli("certs", "issue", str(node_id), "--dir", self.certs_dir)
            self._issued.add(node_id)

    def addresses(self, nodes=None):
        return ",".join(n.address for n in (nodes if nodes is not None else self.nodes))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, wait=True):
        """Starts every node. The first start of a new cluster retries with other ports when a
        port picked as free was taken meanwhile by another process of the machine."""
        first = not any(os.path.exists(n.data_dir) for n in self.nodes)
        for attempt in range(3):
            for n in self.nodes:
                n.start()
            if not wait:
                return self
            try:
                self.wait_leader()
                return self
            except AssertionError:
                taken = [n for n in self.nodes if not n.alive() and any(
                    "already in use" in line or "cannot listen" in line
                    for line in n.log_tail(20))]
                if not first or not taken or attempt == 2:
                    raise
                sys.stderr.write("ports taken (%s); starting again on others\n" % taken)
                self.close(keep_dir=True)
                for n in self.nodes:
                    shutil.rmtree(n.data_dir, ignore_errors=True)
                self._assign_ports(len(self.nodes))
        return self

    def add_node(self, join_via=None, extra_args=()):
        """Starts a new node that joins through `join_via` (default: every running member)."""
        node_id = max(n.id for n in self.nodes) + 1
        self.issue_cert(node_id)
        client_port, peer_port = free_ports(2)
        n = Node(self, node_id, client_port, peer_port, extra_args)
        n.join = self.addresses(join_via if join_via is not None else self.running())
        self.nodes.append(n)
        return n.start()

    def running(self):
        return [n for n in self.nodes if n.alive()]

    def node(self, node_id):
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def close(self, keep_dir=False):
        for n in self.nodes:
            if n.alive():
                n.proc.kill()
        for n in self.nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(timeout=OP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_alive(self):
        """Fails if a node that should run has exited (a crash)."""
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is not None and not getattr(
                    n, "expected_down", False):
                raise NodeDied("%r exited with code %s" % (n, n.proc.returncode))

    def dump_logs(self, lines=40, out=None):
        out = out or sys.stderr
        for n in self.nodes:
            state = "running" if n.alive() else (
                "exited %s" % n.proc.returncode if n.proc else "never started")
            out.write("\n----- %r, %s: last %d lines of %s\n" % (n, state, lines, n.log_path))
            for line in n.log_tail(lines):
                out.write("  " + line + "\n")
        out.flush()

    # -- waits ----------------------------------------------------------------------------------

    def statuses(self, nodes=None):
        out = {}
        for n in (nodes if nodes is not None else self.running()):
            try:
                out[n.id] = n.status()
            except Exception:  # noqa: BLE001 - down or busy
                out[n.id] = None
        return out

    def wait_leader(self, nodes=None, timeout_s=LEADER_TIMEOUT_S, exclude=()):
        """Waits until every given running node (default: all running) names the same leader,
        which is one of them and says it leads. Returns that leader's Node."""
        def agreed():
            self.check_alive()
            group = [n for n in (nodes if nodes is not None else self.running())
                     if n.alive()]
            st = self.statuses(group)
            if any(s is None for s in st.values()):
                return None
            leaders = {s["leader"] for s in st.values()}
            if len(leaders) != 1:
                return None
            lid = leaders.pop()
            if lid == 0 or lid in exclude or lid not in st or st[lid]["role"] != "leader":
                return None
            return self.node(lid)
        return wait_until(agreed, timeout_s, "an agreed leader among %s" % (
            nodes if nodes is not None else self.running()), interval_s=0.1)

    def leader(self):
        return self.wait_leader()

    def wait_converged(self, nodes=None, timeout_s=LEADER_TIMEOUT_S):
        """Waits until the given nodes have applied the same revision, and returns their
        (revision, hash) by node id; fails if the hashes differ at the same revision."""
        group = nodes if nodes is not None else self.running()

        def same():
            hashes = {n.id: n.statehash() for n in group}
            revs = {rev for rev, _ in hashes.values()}
            return hashes if len(revs) == 1 else None
        hashes = wait_until(same, timeout_s, "the same applied revision on %s" % group,
                            interval_s=0.1)
        distinct = {h for _, h in hashes.values()}
        assert len(distinct) == 1, "CHORUS STATEHASH differs at the same revision: %s" % hashes
        return hashes


class ClusterTestCase(unittest.TestCase):
    """A TestCase whose failures print the logs of the clusters it started."""

    binaries = None  # set by main()

    def setUp(self):
        self._clusters = []

    def new_cluster(self, nodes=3, start=True, **kw):
        c = Cluster(self.binaries, nodes=nodes, name=self.id().split(".")[-1], **kw)
        self._clusters.append(c)
        self.addCleanup(self._close_cluster, c)
        if start:
            c.start()
        return c

    def _close_cluster(self, c):
        failed = _test_failed(self)
        if failed:
            sys.stderr.write("\n===== %s failed; node logs%s:\n" % (self.id(), kept_note(c)))
            c.dump_logs()
        c.close(keep_dir=failed and KEEP_FAILED)


# CHORUS_E2E_KEEP=1 keeps the data directories and logs of failed tests (removed otherwise).
KEEP_FAILED = os.environ.get("CHORUS_E2E_KEEP") == "1"


def kept_note(c):
    return " (kept in %s)" % c.dir if KEEP_FAILED else " (CHORUS_E2E_KEEP=1 keeps %s)" % c.dir


def _test_failed(test):
    """Whether the running test has failed so far (unittest keeps that in its outcome)."""
    outcome = getattr(test, "_outcome", None)
    if outcome is None:
        return False
    result = getattr(outcome, "result", None)
    errors = list(getattr(outcome, "errors", []) or [])
    if result is not None:
        errors += [(t, e) for t, e in result.errors + result.failures if t is test]
    if not getattr(outcome, "success", True):
        return True
    return any(e for _, e in errors)


class SharedClusterTestCase(ClusterTestCase):
    """One cluster for every test of the class (setUpClass), logs dumped if any test fails."""

    nodes = 3
    cluster_kwargs = {}
    node_args = {}  # node id -> extra chorusd arguments of that node
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.binaries, nodes=cls.nodes, name=cls.__name__,
                              **cls.cluster_kwargs)
        for node_id, args in cls.node_args.items():
            cls.cluster.node(node_id).extra_args = list(args)
        cls._any_failed = False
        try:
            cls.cluster.start()
        except Exception:
            cls.cluster.dump_logs()
            cls.cluster.close(keep_dir=KEEP_FAILED)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            if cls._any_failed:
                sys.stderr.write("\n===== %s had failures; node logs%s:\n" % (
                    cls.__name__, kept_note(cls.cluster)))
                cls.cluster.dump_logs()
            cls.cluster.close(keep_dir=cls._any_failed and KEEP_FAILED)

    def setUp(self):
        super().setUp()
        self.cluster.check_alive()

    def tearDown(self):
        if _test_failed(self):
            type(self)._any_failed = True


def main():
    """Runs the unittest cases of __main__ with --chorusd/--chorus/--hiredis-client taken out."""
    binaries, rest = parse_binaries()
    ClusterTestCase.binaries = binaries
    started = time.monotonic()
    program = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, exit=False,
                            verbosity=2)
    sys.stderr.write("total %.1fs\n" % (time.monotonic() - started))
    sys.exit(0 if program.result.wasSuccessful() else 1)

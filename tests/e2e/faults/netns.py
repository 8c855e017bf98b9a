"""Each chorusd in its own network namespace, joined by veth pairs to one bridge in the root
namespace (where the campaign and its clients run):

      root netns:  bridge chf<tag>br 10.213.<tag>.254/24 ---- clients, the delay proxy
                      |               |               |
               veth chf<tag>v1   chf<tag>v2   ...   (host ends, enslaved to the bridge)
                      |               |
      netns chf<tag>n1: eth0 10.213.<tag>.1    netns chf<tag>n2: eth0 10.213.<tag>.2   ...

Faults are iptables rules inside the namespaces, so a node's client port stays reachable from
the root namespace while its peer links are cut (as in Jepsen: clients still talk to every node):
  - cut(src, dst): node dst drops every packet from src's address (INPUT of dst's namespace). A
    one-way cut a->b still loses the ACKs of b->a's connection, as on a real network.
  - slow(node, proxy ports): DNAT in the namespaces so that every peer connection to or from
    `node` goes through the userspace delay proxy (delay_proxy.py) in the root namespace, then
    `ss -K` resets the direct connections so the nodes redial through the proxy.
Everything created here is named after `tag`, and close() removes it all.
"""

import os
import re
import subprocess

PEER_PORT = 7379
CLIENT_PORT = 6379


def sh(*args, check=True, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                     p.stderr))
    return p


def remove_stale():
    """Removes namespaces and bridges of earlier campaigns whose process is gone (a run killed
    by a timeout cannot clean up after itself)."""
    out = sh("ip", "netns", "list", check=False).stdout
    for name in re.findall(r"^(chf(\d+)n\d+)", out, re.M):
        if not os.path.exists("/proc/%s" % name[1]):
            sh("ip", "netns", "del", name[0], check=False)
    out = sh("ip", "-o", "link", "show", check=False).stdout
    for name, pid in re.findall(r"^\d+: (chf(\d+)(?:br|v\d+))[@:]", out, re.M):
        if not os.path.exists("/proc/%s" % pid):
            sh("ip", "link", "del", name, check=False)


def probe():
    """Whether namespaces, veth and iptables inside a namespace work here (root, a kernel that
    allows them): the campaign needs all three."""
    name = "chf%dprobe" % os.getpid()
    try:
        sh("ip", "netns", "add", name)
        sh("iptables", "-L", "-n", ns=name)
        sh("ip", "link", "add", name[:12] + "a", "type", "veth", "peer", "name", name[:12] + "b")
        sh("ip", "link", "del", name[:12] + "a")
        return True, ""
    except (RuntimeError, OSError) as e:
        return False, str(e)
    finally:
        sh("ip", "netns", "del", name, check=False)


class Net:
    def __init__(self):
        self.tag = os.getpid()
        third = self._free_octet()
        self.prefix = "10.213.%d." % third
        self.bridge = "chf%dbr" % self.tag
        self.bridge_ip = self.prefix + "254"
        self.nodes = {}  # node id -> namespace name
        self.cuts = set()  # (src, dst) node ids
        self.slow_rules = []  # (namespace, rule args) of the DNAT rules in place
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", self.bridge_ip + "/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    @staticmethod
    def _free_octet():
        used = sh("ip", "-o", "addr", "show", check=False).stdout
        for i in range(256):
            third = (os.getpid() + i) % 250 + 1
            if ("10.213.%d." % third) not in used:
                return third
        raise RuntimeError("no free 10.213.x.0/24 subnet")

    def ns(self, node_id):
        return self.nodes[node_id]

    def ip(self, node_id):
        return self.prefix + str(node_id)

    def add_node(self, node_id):
        assert 1 <= node_id <= 250, node_id
        ns = "chf%dn%d" % (self.tag, node_id)
        veth = "chf%dv%d" % (self.tag, node_id)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p")
        sh("ip", "link", "set", veth + "p", "netns", ns)
        sh("ip", "link", "set", veth, "master", self.bridge)
        sh("ip", "link", "set", veth, "up")
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "set", veth + "p", "name", "eth0", ns=ns)
        sh("ip", "addr", "add", self.ip(node_id) + "/24", "dev", "eth0", ns=ns)
        sh("ip", "link", "set", "eth0", "up", ns=ns)
        self.nodes[node_id] = ns
        return self.ip(node_id)

    # -- partitions -----------------------------------------------------------------------------

    def cut(self, src, dst):
        """dst stops receiving anything from src."""
        if (src, dst) in self.cuts or src == dst:
            return
        sh("iptables", "-A", "INPUT", "-s", self.ip(src), "-j", "DROP", ns=self.ns(dst))
        self.cuts.add((src, dst))

    def cut_both(self, a, b):
        self.cut(a, b)
        self.cut(b, a)

    def heal_partitions(self):
        for ns in self.nodes.values():
            sh("iptables", "-F", "INPUT", ns=ns, check=False)
        self.cuts.clear()

    # -- slow peer --------------------------------------------------------------------------------

    def route_through_proxy(self, slow_id, others, proxy_port_of):
        """Peer connections to and from slow_id go through the proxy: proxy_port_of[x] listens
        on the bridge address and forwards to x's peer port."""
        for o in others:
            self._dnat(self.ns(o), slow_id, proxy_port_of[slow_id])
            self._dnat(self.ns(slow_id), o, proxy_port_of[o])
        self.reset_peer_connections([slow_id] + list(others))

    def _dnat(self, ns, dst_id, proxy_port):
        rule = ["OUTPUT", "-p", "tcp", "-d", self.ip(dst_id), "--dport", str(PEER_PORT), "-j",
                "DNAT", "--to-destination", "%s:%d" % (self.bridge_ip, proxy_port)]
        sh("iptables", "-t", "nat", "-A", *rule, ns=ns)
        self.slow_rules.append((ns, rule))

    def heal_slow(self):
        if not self.slow_rules:
            return
        for ns, rule in self.slow_rules:
            sh("iptables", "-t", "nat", "-D", *rule, ns=ns, check=False)
        self.slow_rules = []
        self.reset_peer_connections(list(self.nodes))

    def reset_peer_connections(self, node_ids):
        """Aborts the established peer connections of these nodes (they redial at once)."""
        for i in node_ids:
            if i in self.nodes:
                for side in ("dport", "sport"):
                    sh("ss", "-K", "-t", side, "=", ":%d" % PEER_PORT, ns=self.ns(i),
                       check=False)

    def heal(self):
        self.heal_partitions()
        self.heal_slow()

    def close(self):
        for ns in self.nodes.values():
            sh("ip", "netns", "del", ns, check=False)
        for i in self.nodes:
            sh("ip", "link", "del", "chf%dv%d" % (self.tag, i), check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        self.nodes = {}

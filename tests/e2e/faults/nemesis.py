"""The faults of the campaign. Each fault is inject -> hold -> heal, one at a time, chosen by the
campaign's seeded rng; after each heal the campaign measures the recovery. Every fault returns a
short description of what it did (for the summary and the history's nemesis lines)."""

import glob
import os
import signal
import struct
import subprocess
import sys
import time

import netns

KINDS = ["partition-majority", "partition-leader", "partition-one-way", "partition-bridge",
         "kill-random", "kill-leader", "pause", "membership", "transfer", "slow-peer",
         "disk-full", "corrupt-segment"]


class Nemesis:
    def __init__(self, campaign):
        self.c = campaign
        self.cluster = campaign.cluster
        self.net = campaign.net
        self.rng = campaign.rng
        self.paused = set()
        self.proxy = None
        self.findings = []  # what chorusd did under disk faults (reported)

    def say(self, text):
        self.c.log("nemesis: " + text)
        self.c.history.note(text)

    def hold(self, lo, hi):
        time.sleep(self.rng.uniform(lo, hi))

    def leader(self, timeout_s=30):
        return self.cluster.wait_leader(nodes=self.c.live_members(), timeout_s=timeout_s)

    def pick(self, prefer_leader_p=0.0):
        members = self.c.live_members()
        if self.rng.random() < prefer_leader_p:
            return self.leader()
        return self.rng.choice(members)

    # -- partitions -------------------------------------------------------------------------------

    def partition_majority(self):
        ids = [n.id for n in self.c.members]
        self.rng.shuffle(ids)
        k = self.rng.randint(1, (len(ids) - 1) // 2)
        minority, majority = ids[:k], ids[k:]
        for a in minority:
            for b in majority:
                self.net.cut_both(a, b)
        return "minority %s | majority %s" % (minority, majority)

    def partition_leader(self):
        lid = self.leader().id
        for n in self.c.members:
            self.net.cut_both(lid, n.id)
        return "leader %d isolated" % lid

    def partition_one_way(self):
        v = self.pick(prefer_leader_p=0.5).id
        deaf = self.rng.random() < 0.5
        for n in self.c.members:
            if deaf:
                self.net.cut(n.id, v)
            else:
                self.net.cut(v, n.id)
        return "node %d %s" % (v, "hears no one (sends)" if deaf else "is heard by no one")

    def partition_bridge(self):
        ids = [n.id for n in self.c.members]
        self.rng.shuffle(ids)
        half = (len(ids) - 1) // 2
        left, bridge, right = ids[:half], ids[half], ids[half + 1:]
        for a in left:
            for b in right:
                self.net.cut_both(a, b)
        return "%s <-> bridge %d <-> %s" % (left, bridge, right)

    def run_partition(self, make):
        what = make()
        self.say("partition: " + what)
        self.hold(3, 7)
        self.net.heal_partitions()
        return what

    # -- processes --------------------------------------------------------------------------------

    def kill(self, leader):
        n = self.leader() if leader else self.pick()
        n.expected_down = True
        n.kill9()
        self.say("kill -9 node %d" % n.id)
        self.hold(2, 5)
        self.c.restart(n)
        return "node %d%s" % (n.id, " (the leader)" if leader else "")

    def pause(self):
        n = self.pick(prefer_leader_p=0.6)
        was_leader = self.cluster.statuses([n]).get(n.id) or {}
        hold_s = self.rng.uniform(4, 12) * self.c.election_timeout_s
        os.kill(n.pid, signal.SIGSTOP)
        self.paused.add(n)
        self.say("SIGSTOP node %d for %.1fs" % (n.id, hold_s))
        time.sleep(hold_s)
        os.kill(n.pid, signal.SIGCONT)
        self.paused.discard(n)
        return "node %d%s %.1fs" % (n.id, " (leader)" if was_leader.get("role") == "leader"
                                    else "", hold_s)

    def resume_all(self):
        for n in list(self.paused):
            if n.alive():
                os.kill(n.pid, signal.SIGCONT)
        self.paused.clear()

    # -- membership and leadership ----------------------------------------------------------------

    def membership(self):
        add_first = self.rng.random() < 0.5 and len(self.c.members) < 7
        victim = self.pick(prefer_leader_p=0.3)
        steps = []
        if add_first:
            steps.append("add %d" % self.c.add_member().id)
        self.c.remove_member(victim)
        steps.append("remove %d" % victim.id)
        if not add_first:
            steps.append("add %d" % self.c.add_member().id)
        self.say("membership: " + ", ".join(steps))
        return ", ".join(steps)

    def transfer(self):
        lead = self.leader()
        target = self.rng.choice([n for n in self.c.live_members() if n is not lead])
        reply = self.c.admin(lead, "CHORUS", "TRANSFER", target.id)
        self.say("transfer %d -> %d: %r" % (lead.id, target.id, reply))
        return "%d -> %d" % (lead.id, target.id)

    # -- slow peer --------------------------------------------------------------------------------

    def slow_peer(self):
        n = self.pick(prefer_leader_p=0.5)
        delay_ms = self.rng.choice([30, 100, 250, 600])
        others = [m.id for m in self.c.live_members() if m is not n]
        ports = {i: 17000 + (os.getpid() % 1000) * 10 + k for k, i in
                 enumerate([n.id] + others)}
        links = ["%d=%s:%d" % (ports[i], self.net.ip(i), netns.PEER_PORT) for i in ports]
        self.proxy = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "delay_proxy.py"), "--listen-ip", self.net.bridge_ip,
             "--delay-ms", str(delay_ms)] + links, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        if self.proxy.stdout.readline().strip() != "ready":
            raise RuntimeError("delay proxy did not start")
        self.net.route_through_proxy(n.id, others, ports)
        self.say("slow peer: node %d's peer traffic delayed %d ms" % (n.id, delay_ms))
        self.hold(5, 9)
        self.heal_slow()
        return "node %d +%d ms" % (n.id, delay_ms)

    def heal_slow(self):
        self.net.heal_slow()
        if self.proxy is not None:
            self.proxy.terminate()
            self.proxy.wait(timeout=10)
            self.proxy = None

    # -- disks ------------------------------------------------------------------------------------

    def disk_full(self):
        n = self.pick(prefer_leader_p=0.3)
        ballast = os.path.join(n.data_dir, "ballast")
        st = os.statvfs(n.data_dir)
        free = st.f_bavail * st.f_frsize
        subprocess.run(["fallocate", "-l", str(free), ballast], check=False)
        st = os.statvfs(n.data_dir)
        self.say("disk full on node %d (%d bytes left)" % (n.id, st.f_bavail * st.f_frsize))
        n.expected_down = True  # it may stop on ENOSPC; that is allowed, and reported
        self.hold(4, 8)
        os.remove(ballast)
        if not n.alive():
            code = n.proc.returncode
            last = [l for l in n.log_tail(30) if "rror" in l or "space" in l or "fatal" in l]
            finding = "disk full: node %d exited (%s): %s" % (n.id, code, last[-1:] or "?")
            self.findings.append(finding)
            self.say(finding)
            self.c.restart(n)
            return "node %d: exited %s, restarted" % (n.id, code)
        status = self.cluster.statuses([n]).get(n.id) or {}
        if status.get("failed"):
            # chorusd stops Raft on a write error but keeps the process (and its client port)
            # up, reporting failed in STATUS / raft_failed in INFO / not ready on /ready: a
            # supervisor has to restart it. So does the campaign.
            last = [l for l in n.log_tail(30) if "fatal" in l]
            finding = "disk full: node %d stopped Raft (STATUS failed=true, process still " \
                "up; restarted by the campaign): %s" % (n.id, last[-1].split("] ", 1)[-1]
                                                        if last else "?")
            self.findings.append(finding)
            self.say(finding)
            n.kill9()
            self.c.restart(n)
            return "node %d: Raft stopped on ENOSPC, restarted" % n.id
        n.expected_down = False
        self.findings.append("disk full: node %d kept running" % n.id)
        return "node %d: kept running" % n.id

    def corrupt_segment(self):
        lead = self.leader()
        followers = [n for n in self.c.live_members() if n is not lead]
        n = self.rng.choice(followers)
        n.expected_down = True
        n.kill9()
        segs = sorted(glob.glob(os.path.join(n.data_dir, "raft", "log", "*.seg")))
        target = None
        for seg in segs[:-1] + segs[-1:]:  # a closed segment first, the active one if none
            offsets = record_offsets(seg)
            if len(offsets) >= 4:
                target = (seg, offsets, seg != segs[-1])
                break
        if target is None:
            self.say("corrupt: node %d has no segment with records; restarting" % n.id)
            self.c.restart(n)
            return "node %d: nothing to corrupt" % n.id
        seg, offsets, closed = target
        rec = offsets[self.rng.randrange(0, len(offsets) // 2)]  # early: claimed durable
        flip_at = rec + 32  # the first payload byte (or the checksum of an empty record)
        with open(seg, "r+b") as f:
            f.seek(flip_at)
            b = f.read(1)
            f.seek(flip_at)
            f.write(bytes([b[0] ^ 0x5A]))
        verify = subprocess.run([self.c.binaries.chorus, "log", "verify",
                                 os.path.join(n.data_dir, "raft", "log")],
                                capture_output=True, text=True, timeout=60)
        self.say("corrupt: node %d %s segment %s byte %d (chorus log verify: exit %d)" % (
            n.id, "closed" if closed else "active", os.path.basename(seg), flip_at,
            verify.returncode))
        n.start()  # still expected_down: refusing to start is an allowed answer
        time.sleep(3)
        if not n.alive():
            last = [l.split("] ", 1)[-1] for l in n.log_tail(20)
                    if "critical" in l or "orruption" in l] or n.log_tail(1)
            finding = "corrupt byte (%s segment, record at %d): node %d refused to start " \
                "(exit %s): %s" % ("closed" if closed else "active", rec, n.id,
                                   n.proc.returncode, last[-1] if last else "?")
            self.findings.append(finding)
            self.say(finding)
            self.c.remove_member(n)
            new = self.c.add_member()
            return "node %d refused to start; replaced by node %d" % (n.id, new.id)
        n.expected_down = False
        finding = "corrupt byte (%s segment): node %d STARTED on a log with a bad record" % (
            "closed" if closed else "active", n.id)
        self.findings.append(finding)
        self.c.failures.append(finding)
        return finding


def record_offsets(path, limit=1 << 20):
    """Offsets of the records of a segment (record_format.h), up to the first all-zero header."""
    out = []
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    pos = 64
    while pos + 32 <= len(data) and len(out) < limit:
        header = data[pos:pos + 32]
        if header == b"\0" * 32:
            break
        length = struct.unpack_from("<I", header, 16)[0]
        out.append(pos)
        pos += 32 + ((length + 7) // 8) * 8 + 8
    return out


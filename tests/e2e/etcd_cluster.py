"""A real etcd cluster on loopback for the farm tests and bench/farm: N
members on free ports with temporary data directories (in /dev/shm when it
exists: etcd fsyncs every write), spoken to through etcd's v3 JSON gateway
with nothing but the standard library. Every etcd process dies with the
thread that started it (PR_SET_PDEATHSIG: start them from the main thread),
so nothing outlives a crashed or killed test run; stop() ends them all."""

import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def die_with_parent_kwargs():
    """subprocess.Popen arguments that make the child die when its parent does."""
    return {"preexec_fn": _die_with_parent}


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s):
    return base64.b64decode(s or "")


def prefix_end(prefix):
    b = bytearray(prefix.encode())
    b[-1] += 1
    return bytes(b).decode()


def _free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class EtcdNode:
    def __init__(self, name, client_port, peer_port, data_dir, log_path):
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.client_port

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    def start(self, initial_cluster, state):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", self.name,
             "--data-dir", self.data_dir,
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
             "--initial-cluster", initial_cluster, "--initial-cluster-state", state,
             "--initial-cluster-token", "infosrv-tests", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, **die_with_parent_kwargs())
        log.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class EtcdCluster:
    """N etcd members; call start(), then stop() (also on failure)."""

    def __init__(self, workdir, n=3):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.datadir = tempfile.mkdtemp(prefix="infosrv-etcd-", dir=base)
        ports = _free_ports(2 * n)
        self.nodes = [EtcdNode("e%d" % (i + 1), ports[2 * i], ports[2 * i + 1],
                               os.path.join(self.datadir, "e%d" % (i + 1)),
                               os.path.join(workdir, "etcd-e%d.log" % (i + 1)))
                      for i in range(n)]
        self.initial = ",".join("%s=%s" % (nd.name, nd.peer_url) for nd in self.nodes)

    @property
    def endpoints(self):
        return ",".join(nd.url for nd in self.nodes)

    def start(self, timeout=30):
        for nd in self.nodes:
            nd.start(self.initial, "new")
        self.wait_healthy(timeout)
        return self

    def restart(self, node, timeout=30):
        """Start a stopped member again with its data (it rejoins the cluster)."""
        node.start(self.initial, "existing")
        self.wait_healthy(timeout, nodes=[node])

    def stop(self):
        for nd in self.nodes:
            try:
                nd.stop()
            except Exception:
                nd.kill()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def logs(self):
        out = []
        for nd in self.nodes:
            try:
                with open(nd.log_path, "rb") as f:
                    out.append("== %s\n%s" % (nd.name, f.read()[-3000:].decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    # -- the JSON gateway ----------------------------------------------------
    def call(self, path, body, node=None, timeout=5):
        """POST BODY to PATH at NODE (default: the first running one); the parsed answer."""
        nodes = [node] if node else [nd for nd in self.nodes if nd.running()]
        last = None
        for nd in nodes:
            req = urllib.request.Request(nd.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:  # an etcd error answer: {"error", "code"}
                try:
                    return json.loads(e.read())
                except ValueError:
                    last = e
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
        raise AssertionError("no etcd member answered %s: %s" % (path, last))

    def status(self, node):
        return self.call("/v3/maintenance/status", {}, node=node, timeout=2)

    def leader(self):
        """The member that leads now."""
        for nd in self.nodes:
            if not nd.running():
                continue
            try:
                st = self.status(nd)
            except AssertionError:
                continue
            if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                return nd
        return None

    def wait_healthy(self, timeout=30, nodes=None):
        deadline = time.monotonic() + timeout
        for nd in nodes or self.nodes:
            while True:
                try:
                    st = self.status(nd)
                    if st.get("leader") and st.get("leader") != "0":
                        self.call("/v3/kv/range", {"key": b64("/")}, node=nd, timeout=2)
                        break
                except AssertionError:
                    pass
                if not nd.running():
                    raise AssertionError("etcd %s exited:\n%s" % (nd.name, self.logs()))
                if time.monotonic() > deadline:
                    raise AssertionError("etcd %s not healthy within %ss:\n%s"
                                         % (nd.name, timeout, self.logs()))
                time.sleep(0.05)

    def get(self, key, prefix=False):
        body = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        r = self.call("/v3/kv/range", body)
        return [(unb64(kv["key"]).decode(), unb64(kv.get("value"))) for kv in r.get("kvs", [])]

    def txn(self, compare, success):
        return self.call("/v3/kv/txn", {"compare": compare, "success": success})

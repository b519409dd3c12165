"""What cross/budget/uncached.py and api.py share: a real `pipit serve` on a fresh data folder
(/tmp/pipit-bench-TAG), plain HTTP/1.1 requests to it, and CPU per request measured as the
server's utime+stime from /proc/PID/stat over the answers of 8 keep-alive clients."""
import http.client, os, shutil, socket, subprocess, threading, time

PW = "correct horse battery staple"
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cpu_us(pid):
    """The process's user+system CPU so far, in µs (clock-tick resolution)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1_000_000 // HZ


class Live:
    """`pipit init` (owner `me`, password PW) in a fresh folder; `serve()` starts the server."""

    def __init__(self, bin, tag):
        self.bin, self.port = bin, free_port()
        self.dir = f"/tmp/pipit-bench-{tag}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.run("init", "--data", self.dir, "--url", self.base, "--username", "me", "--listen", f"127.0.0.1:{self.port}", "--allow-private-addresses")
        self.run("password", "--data", self.dir, input=(PW + "\n" + PW + "\n").encode())
        self.srv = None

    def run(self, *a, **k):
        return subprocess.run([self.bin, *a], check=True, capture_output=True, **k)

    def post(self, *args):
        """`pipit post ARGS…` offline (before `serve`); its output."""
        return self.run("post", "--data", self.dir, *args).stdout.decode()

    def serve(self):
        self.srv = subprocess.Popen([self.bin, "serve", "--data", self.dir], stdout=subprocess.DEVNULL)
        while True:
            try:
                self.req("GET", "/.well-known/nodeinfo"); return
            except OSError:
                time.sleep(0.02)

    def req(self, method, path, headers=None, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse(); b = r.read(); return r, b

    def load(self, path, headers, secs, clients=8):
        """GETs `path` from `clients` keep-alive connections for `secs`; the 200 answers."""
        done = [0]; lock = threading.Lock(); until = time.time() + secs
        def one():
            c = http.client.HTTPConnection("127.0.0.1", self.port); n = 0
            while time.time() < until:
                c.request("GET", path, headers=headers); r = c.getresponse(); r.read()
                n += r.status == 200
            with lock: done[0] += n
        ts = [threading.Thread(target=one) for _ in range(clients)]
        [t.start() for t in ts]; [t.join() for t in ts]
        return done[0]

    def cpu_per_request(self, path, headers, secs):
        """A short warm-up, then (µs of server CPU per 200 answer, answers) over `secs`."""
        self.load(path, headers, 0.3, 2)
        c0 = cpu_us(self.srv.pid); n = self.load(path, headers, secs); c1 = cpu_us(self.srv.pid)
        return (c1 - c0) / max(n, 1), n

    def stop(self):
        if self.srv:
            self.srv.kill(); self.srv.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

#!/usr/bin/env python3
"""Uncached page CPU per request (issue 15), the same method as cross/budget --only-pages,
without building the budget crate:  python3 cross/budget/uncached.py BIN TAG [SECS]

a real `pipit serve`, the owner's session cookie (the page cache never answers it), 8
keep-alive clients, server utime+stime from /proc divided by the 200 answers."""
import http.client, json, os, re, shutil, socket, subprocess, sys, threading, time, urllib.parse

BIN, TAG, SECS = sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 5
PW = "correct horse battery staple"
HZ = os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def cpu_us(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1_000_000 // HZ

port = free_port()
d = f"/tmp/perf2-bench-{TAG}"
shutil.rmtree(d, ignore_errors=True)
base = f"http://127.0.0.1:{port}"
run = lambda *a, **k: subprocess.run([BIN, *a], check=True, capture_output=True, **k)
run("init", "--data", d, "--url", base, "--username", "me", "--listen", f"127.0.0.1:{port}", "--allow-private-addresses")
run("password", "--data", d, input=(PW + "\n" + PW + "\n").encode())
out = run("post", "--data", d, "the root post with a thread").stdout.decode()
root_url = re.search(r"https?://\S+", out).group(0)
root = root_url.rstrip("/").rsplit("/", 1)[1]
for i in range(20):
    run("post", "--data", d, f"reply {i}", "--reply-to", root_url)
for i in range(40):
    run("post", "--data", d, f"post {i} with some words in it")
srv = subprocess.Popen([BIN, "serve", "--data", d], stdout=subprocess.DEVNULL)
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/.well-known/nodeinfo"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.02)

def req(method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse(); b = r.read(); return r, b

r, b = req("GET", "/login")
jar = [h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie"]
csrf = re.search(rb'name="csrf" value="([^"]+)"', b).group(1).decode().replace("&amp;", "&")
r, b = req("POST", "/login", {"cookie": "; ".join(jar), "content-type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode({"csrf": csrf, "password": PW}))
assert r.status == 303, (r.status, b)
for k, h in r.getheaders():
    if k.lower() == "set-cookie":
        name = h.split("=")[0]; jar = [c for c in jar if not c.startswith(name + "=")] + [h.split(";")[0]]
cookie = "; ".join(jar)
r, b = req("GET", "/@me", {"cookie": cookie})
assert b"Log out" in b or b"logout" in b, "the owner's view"

def load(path, accept, secs, clients=8):
    done = [0]; lock = threading.Lock(); until = time.time() + secs
    def one():
        c = http.client.HTTPConnection("127.0.0.1", port); n = 0
        while time.time() < until:
            c.request("GET", path, headers={"cookie": cookie, "accept": accept}); r = c.getresponse(); r.read()
            n += r.status == 200
        with lock: done[0] += n
    ts = [threading.Thread(target=one) for _ in range(clients)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return done[0]

for name, path, accept in [("Profile HTML", "/@me", "text/html"), ("Post HTML, 20-reply thread", f"/@me/{root}", "text/html"), ("Outbox page", "/users/me/outbox?page=true", "application/activity+json")]:
    load(path, accept, 0.3, 2)
    c0 = cpu_us(srv.pid); n = load(path, accept, SECS); c1 = cpu_us(srv.pid)
    print(f"| CPU per request: {name}, uncached (owner's session cookie) | {(c1 - c0) / max(n, 1):.0f} µs ({n} requests) |", flush=True)
srv.kill(); srv.wait(); shutil.rmtree(d, ignore_errors=True)

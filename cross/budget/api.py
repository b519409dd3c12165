#!/usr/bin/env python3
"""Client API CPU per request (issue 15), the method of cross/budget's api lines without
building the budget crate:  python3 cross/budget/api.py BIN TAG [SECS] [PATH ...]

a real `pipit serve` holding 60 own posts (a tag and a link each, as cross/budget), the owner's
bearer token (registered over /api/v1/apps and the password grant), 8 keep-alive clients,
server utime+stime from /proc divided by the 200 answers. PATHs default to the home timeline
page of 20. PERF=1 prints the server's pid and waits for Enter before loading (attach perf)."""
import http.client, json, os, re, shutil, socket, subprocess, sys, threading, time, urllib.parse

BIN, TAG = sys.argv[1], sys.argv[2]
SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 5
PATHS = sys.argv[4:] or ["/api/v1/timelines/home?limit=20"]
PW = "correct horse battery staple"
HZ = os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def cpu_us(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1_000_000 // HZ

port = free_port()
d = f"/tmp/apijson-bench-{TAG}"
shutil.rmtree(d, ignore_errors=True)
base = f"http://127.0.0.1:{port}"
run = lambda *a, **k: subprocess.run([BIN, *a], check=True, capture_output=True, **k)
run("init", "--data", d, "--url", base, "--username", "me", "--listen", f"127.0.0.1:{port}", "--allow-private-addresses")
run("password", "--data", d, input=(PW + "\n" + PW + "\n").encode())
for i in range(60):
    run("post", "--data", d, f"home post {i} with #some words and a link https://example.com/{i}")
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

form = {"content-type": "application/x-www-form-urlencoded"}
r, b = req("POST", "/api/v1/apps", form, urllib.parse.urlencode({"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"}))
assert r.status == 200, (r.status, b)
a = json.loads(b)
r, b = req("POST", "/oauth/token", form, urllib.parse.urlencode({"grant_type": "password", "client_id": a["client_id"], "client_secret": a["client_secret"], "username": "me", "password": PW, "scope": "read write"}))
assert r.status == 200, (r.status, b)
auth = {"authorization": "Bearer " + json.loads(b)["access_token"]}
r, b = req("GET", PATHS[0], auth)
assert r.status == 200 and len(json.loads(b)) > 0, (r.status, b[:300])

def load(path, secs, clients=8):
    done = [0]; lock = threading.Lock(); until = time.time() + secs
    def one():
        c = http.client.HTTPConnection("127.0.0.1", port); n = 0
        while time.time() < until:
            c.request("GET", path, headers=auth); r = c.getresponse(); r.read()
            n += r.status == 200
        with lock: done[0] += n
    ts = [threading.Thread(target=one) for _ in range(clients)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return done[0]

if os.environ.get("PERF"):
    print(f"pid {srv.pid}: attach, then press Enter", flush=True); sys.stdin.readline()
for path in PATHS:
    load(path, 0.3, 2)
    c0 = cpu_us(srv.pid); n = load(path, SECS); c1 = cpu_us(srv.pid)
    print(f"| CPU per request: API {path} ({TAG}) | {(c1 - c0) / max(n, 1):.0f} µs ({n} requests) | load {os.getloadavg()[0]:.2f} |", flush=True)
srv.kill(); srv.wait(); shutil.rmtree(d, ignore_errors=True)

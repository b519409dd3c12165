#!/usr/bin/env python3
"""Client API CPU per request (issue 15), the method of cross/budget's api lines without
building the budget crate:  python3 cross/budget/api.py BIN TAG [SECS] [PATH ...]

a real `pipit serve` holding 60 own posts (a tag and a link each, as cross/budget), the owner's
bearer token (registered over /api/v1/apps and the password grant), 8 keep-alive clients,
server utime+stime from /proc divided by the 200 answers (live.py). PATHs default to the home
timeline page of 20. PERF=1 prints the server's pid and waits for Enter before loading (attach perf)."""
import json, os, sys, urllib.parse
from live import Live, PW

BIN, TAG = sys.argv[1], sys.argv[2]
SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 5
PATHS = sys.argv[4:] or ["/api/v1/timelines/home?limit=20"]
live = Live(BIN, TAG)
for i in range(60):
    live.post(f"home post {i} with #some words and a link https://example.com/{i}")
live.serve()

form = {"content-type": "application/x-www-form-urlencoded"}
r, b = live.req("POST", "/api/v1/apps", form, urllib.parse.urlencode({"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"}))
assert r.status == 200, (r.status, b)
a = json.loads(b)
r, b = live.req("POST", "/oauth/token", form, urllib.parse.urlencode({"grant_type": "password", "client_id": a["client_id"], "client_secret": a["client_secret"], "username": "me", "password": PW, "scope": "read write"}))
assert r.status == 200, (r.status, b)
auth = {"authorization": "Bearer " + json.loads(b)["access_token"]}
r, b = live.req("GET", PATHS[0], auth)
assert r.status == 200 and len(json.loads(b)) > 0, (r.status, b[:300])

if os.environ.get("PERF"):
    print(f"pid {live.srv.pid}: attach, then press Enter", flush=True); sys.stdin.readline()
for path in PATHS:
    us, n = live.cpu_per_request(path, auth, SECS)
    print(f"| CPU per request: API {path} ({TAG}) | {us:.0f} µs ({n} requests) | load {os.getloadavg()[0]:.2f} |", flush=True)
live.stop()

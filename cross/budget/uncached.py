#!/usr/bin/env python3
"""Uncached page CPU per request (issue 15), the same method as cross/budget --only-pages,
without building the budget crate:  python3 cross/budget/uncached.py BIN TAG [SECS]

a real `pipit serve`, the owner's session cookie (the page cache never answers it), 8
keep-alive clients, server utime+stime from /proc divided by the 200 answers (live.py)."""
import re, sys, urllib.parse
from live import Live, PW

BIN, TAG, SECS = sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 5
live = Live(BIN, TAG)
root_url = re.search(r"https?://\S+", live.post("the root post with a thread")).group(0)
root = root_url.rstrip("/").rsplit("/", 1)[1]
for i in range(20):
    live.post(f"reply {i}", "--reply-to", root_url)
for i in range(40):
    live.post(f"post {i} with some words in it")
live.serve()

r, b = live.req("GET", "/login")
jar = [h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie"]
csrf = re.search(rb'name="csrf" value="([^"]+)"', b).group(1).decode().replace("&amp;", "&")
r, b = live.req("POST", "/login", {"cookie": "; ".join(jar), "content-type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode({"csrf": csrf, "password": PW}))
assert r.status == 303, (r.status, b)
for k, h in r.getheaders():
    if k.lower() == "set-cookie":
        name = h.split("=")[0]; jar = [c for c in jar if not c.startswith(name + "=")] + [h.split(";")[0]]
cookie = "; ".join(jar)
r, b = live.req("GET", "/@me", {"cookie": cookie})
assert b"Log out" in b or b"logout" in b, "the owner's view"

for name, path, accept in [("Profile HTML", "/@me", "text/html"), ("Post HTML, 20-reply thread", f"/@me/{root}", "text/html"), ("Outbox page", "/users/me/outbox?page=true", "application/activity+json")]:
    us, n = live.cpu_per_request(path, {"cookie": cookie, "accept": accept}, SECS)
    print(f"| CPU per request: {name}, uncached (owner's session cookie) | {us:.0f} µs ({n} requests) |", flush=True)
live.stop()

#!/usr/bin/env python3
"""HTTP checks for cross/smoke.sh (standard library only).

Exit codes: 0 = check passed, 3 = endpoint answered 404 (not implemented yet?), 1 = failed.

  smoke_http.py wait BASE SECONDS                 until BASE answers at all
  smoke_http.py webfinger BASE ACCT               prints the actor href (rel=self)
  smoke_http.py actor HREF                        activity+json with an inbox
  smoke_http.py html URL [TEXT]                   200 text/html (containing TEXT)
  smoke_http.py login BASE PASSWORD JAR           owner login, cookies saved in JAR
  smoke_http.py poll BASE PATH JAR TEXT SECONDS   until PATH (as owner) contains TEXT
  smoke_http.py count URL MIN SECONDS             until AS2 collection URL has totalItems >= MIN
"""
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

NOT_FOUND = 3


def opener(jar=None):
    handlers = []
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def fetch(url, accept=None, jar=None, data=None, timeout=20):
    """(status, content-type, body text); HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data)
    if accept:
        req.add_header("Accept", accept)
    try:
        with opener(jar).open(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


def load_jar(path):
    jar = http.cookiejar.LWPCookieJar(path)
    try:
        jar.load(ignore_discard=True, ignore_expires=True)
    except FileNotFoundError:
        pass
    return jar


def die(msg, code=1):
    print(msg, file=sys.stderr)
    sys.exit(code)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "wait":
        base, secs = argv[2], float(argv[3])
        deadline = time.time() + secs
        while time.time() < deadline:
            try:
                fetch(base + "/", timeout=5)
                return 0
            except OSError:
                time.sleep(0.3)
        die(f"{base} did not answer within {secs:.0f}s")
    if cmd == "webfinger":
        base, acct = argv[2], argv[3]
        st, ct, body = fetch(base + "/.well-known/webfinger?resource=" + urllib.parse.quote(acct, safe=":@"),
                             accept="application/jrd+json")
        if st == 404:
            die(f"webfinger: 404 {body[:200]}", NOT_FOUND)
        if st != 200:
            die(f"webfinger: HTTP {st} {body[:200]}")
        doc = json.loads(body)
        if doc.get("subject") != acct:
            die(f"webfinger: subject {doc.get('subject')!r} != {acct!r}")
        selfs = [l for l in doc.get("links", []) if l.get("rel") == "self" and l.get("href")]
        hrefs = [l["href"] for l in selfs if "json" in (l.get("type") or "")] or [l["href"] for l in selfs]
        if not hrefs or not hrefs[0]:
            die(f"webfinger: no self link in {body[:300]}")
        print(hrefs[0])
        return 0
    if cmd == "actor":
        st, ct, body = fetch(argv[2], accept="application/activity+json")
        if st == 404:
            die("actor: 404", NOT_FOUND)
        if st != 200:
            die(f"actor: HTTP {st} {body[:200]}")
        if "json" not in ct:
            die(f"actor: content-type {ct!r}")
        doc = json.loads(body)
        for key in ("inbox", "id"):
            if not doc.get(key):
                die(f"actor: no {key!r} in {body[:300]}")
        if doc["id"] != argv[2]:
            die(f"actor: id {doc['id']!r} != {argv[2]!r}")
        pk = doc.get("publicKey", {}).get("publicKeyPem", "")
        print(f"inbox={doc['inbox']} publicKey={'yes' if 'BEGIN PUBLIC KEY' in pk else 'no'}")
        return 0
    if cmd == "html":
        url, text = argv[2], (argv[3] if len(argv) > 3 else None)
        st, ct, body = fetch(url, accept="text/html")
        if st == 404:
            die(f"html: 404 {url}", NOT_FOUND)
        if st != 200 or "text/html" not in ct:
            die(f"html: HTTP {st} {ct} {url}")
        if text and text not in body:
            die(f"html: {text!r} not on {url}")
        return 0
    if cmd == "login":
        base, password, jar_path = argv[2:5]
        jar = load_jar(jar_path)
        st, ct, body = fetch(base + "/login", jar=jar)
        if st == 404:
            die("login: 404", NOT_FOUND)
        m = re.search(r'name="csrf" value="([^"]+)"', body)
        if st != 200 or not m:
            die(f"login page: HTTP {st}, csrf {'found' if m else 'missing'}")
        form = urllib.parse.urlencode({"csrf": m.group(1), "password": password}).encode()
        st, ct, body = fetch(base + "/login", jar=jar, data=form)
        if st != 200 or not any(c.name == "pipit_session" for c in jar):
            die(f"login: HTTP {st}, no session cookie")
        jar.save(ignore_discard=True, ignore_expires=True)
        return 0
    if cmd == "poll":
        base, path, jar_path, text, secs = argv[2], argv[3], argv[4], argv[5], float(argv[6])
        jar = load_jar(jar_path)
        deadline = time.time() + secs
        st = None
        while time.time() < deadline:
            st, ct, body = fetch(base + path, jar=jar)
            if st == 404:
                die(f"poll: 404 {path}", NOT_FOUND)
            if st == 200 and text in body:
                print(f"found after {secs - (deadline - time.time()):.1f}s")
                return 0
            time.sleep(1)
        die(f"poll: {text!r} not on {path} within {secs:.0f}s (last HTTP {st})")
    if cmd == "count":
        url, want, secs = argv[2], int(argv[3]), float(argv[4])
        deadline = time.time() + secs
        n = None
        while time.time() < deadline:
            st, ct, body = fetch(url, accept="application/activity+json")
            if st == 404:
                die(f"count: 404 {url}", NOT_FOUND)
            if st == 200:
                n = json.loads(body).get("totalItems")
                if isinstance(n, int) and n >= want:
                    print(f"totalItems={n} after {secs - (deadline - time.time()):.1f}s")
                    return 0
            time.sleep(1)
        die(f"count: {url} totalItems={n}, wanted >= {want} within {secs:.0f}s")
    die(__doc__, 2)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

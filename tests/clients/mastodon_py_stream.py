"""Mastodon.py's stream_user (Server-Sent Events) against pipit (issue 10).

Run by tests/streaming.rs:  python mastodon_py_stream.py BASE_URL ACCESS_TOKEN
Mastodon.py finds the streaming base in the instance document (`urls.streaming_api`), opens
/api/v1/streaming/user, and must hand its listener the `update` of a post made through the REST
API, as a Status. Prints `DONE` at the end; any failed check raises (non-zero exit).
"""
import os
import sys
import threading
import time

from mastodon import Mastodon, StreamListener

base, token = sys.argv[1:3]
m = Mastodon(access_token=token, api_base_url=base)
got = []
arrived = threading.Event()


class Listener(StreamListener):
    def on_update(self, status):
        got.append(status)
        arrived.set()


handle = m.stream_user(Listener(), run_async=True, timeout=15, reconnect_async=False)
for _ in range(100):
    if handle.is_receiving():
        break
    time.sleep(0.1)
assert handle.is_receiving(), "the SSE stream opened"
# The stream is open, but the server may not have subscribed yet: post until one arrives.
posted = []
for i in range(10):
    posted.append(m.status_post(f"over server-sent events {i}", visibility="unlisted")["id"])
    if arrived.wait(1.0):
        break
assert got, "an update arrived on the user stream"
assert str(got[0]["id"]) in [str(p) for p in posted], (got[0]["id"], posted)
assert "server-sent events" in got[0]["content"]
print("DONE", flush=True)
# handle.close() would wait for the blocked read (up to `timeout`); the process just ends.
os._exit(0)

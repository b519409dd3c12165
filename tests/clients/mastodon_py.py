"""Drives pipit's Mastodon client API with Mastodon.py, the way a bot or CLI tool does.

Run by tests/client_api.rs:  python mastodon_py.py BASE_URL PASSWORD USERNAME OTHER_ACCT
It prints `STEP name` as it goes, `POSTED <uri>` when the post another pipit must like exists,
then waits for a `LIKED` line on stdin, and prints `DONE` at the end. Any failed check raises,
so the exit status is non-zero.
"""
import html
import re
import sys
from urllib.parse import parse_qs, urlparse

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonNotFoundError, MastodonUnauthorizedError

base, password, username, other_acct = sys.argv[1:5]
REDIRECT = "pipit-test://oauth-callback"
SCOPES = ["read", "write", "follow", "push"]


def step(name):
    print("STEP", name, flush=True)


def hidden_inputs(page):
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)}


step("register app")
client_id, client_secret = Mastodon.create_app("Mastodon.py test", scopes=SCOPES, redirect_uris=REDIRECT, api_base_url=base)
api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)

step("instance v1 and v2")
assert api.instance_v1().uri, "v1 uri"
v2 = api.instance_v2()
assert v2.domain and "uri" not in v2, v2

step("authorization code flow through the consent page")
url = api.auth_request_url(redirect_uris=REDIRECT, scopes=SCOPES, state="xyz-42", allow_http=True)
web = requests.Session()
r = web.get(url, allow_redirects=False)
assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (r.status_code, r.headers)
r = web.get(base + r.headers["location"])
form = hidden_inputs(r.text)
assert form.get("next", "").startswith("/oauth/authorize?"), form
r = web.post(base + "/login", data={"csrf": form["csrf"], "password": password, "next": form["next"]}, allow_redirects=False)
assert r.status_code == 303 and r.headers["location"].startswith("/oauth/authorize?"), (r.status_code, r.headers)
r = web.get(base + r.headers["location"])
assert r.status_code == 200 and "Mastodon.py test" in r.text, r.text[:500]
consent = hidden_inputs(r.text)
r = web.post(base + "/oauth/authorize", data={**consent, "decision": "allow"}, allow_redirects=False)
assert r.status_code == 303, (r.status_code, r.text[:300])
back = urlparse(r.headers["location"])
assert r.headers["location"].startswith(REDIRECT + "?"), r.headers["location"]
q = parse_qs(back.query)
assert q["state"] == ["xyz-42"], q
api.log_in(code=q["code"][0], redirect_uri=REDIRECT, scopes=SCOPES, allow_http=True)

step("verify_credentials")
me = api.account_verify_credentials()
assert me.username == username and me.acct == username, me
assert isinstance(me.id, str) or str(me.id).isdigit()
assert me.source is not None

step("post and read home")
st = api.status_post("hello from Mastodon.py #pytest", visibility="public")
assert st.content and "hello from Mastodon.py" in st.content
assert [t.name for t in st.tags] == ["pytest"], st.tags
home = api.timeline_home()
assert any(h.id == st.id for h in home), "own post on home"

step("post with an image and alt text")
# A valid 1x1 PNG (the media pipeline decodes uploads).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082")
media = api.media_post(PNG, mime_type="image/png", description="a tiny red dot")
assert media.url and media.type == "image", media
pic = api.status_post("with a picture", media_ids=[media.id])
assert pic.media_attachments[0].description == "a tiny red dot", pic.media_attachments
assert requests.get(pic.media_attachments[0].url).content == PNG

step("favourite, reblog, bookmark and their undo")
assert api.status_favourite(st.id).favourited
assert api.status(st.id).favourites_count == 1
assert api.status_reblog(st.id).reblogged
assert api.status_bookmark(st.id).bookmarked
s = api.status(st.id)
assert s.favourited and s.reblogged and s.bookmarked, s
assert not api.status_unfavourite(st.id).favourited
assert not api.status_unreblog(st.id).reblogged
assert not api.status_unbookmark(st.id).bookmarked
assert api.status(st.id).favourites_count == 0

step("reply and context")
reply = api.status_post("a reply, behind a warning", in_reply_to_id=st.id, spoiler_text="cw", visibility="unlisted")
assert reply.in_reply_to_id == st.id and reply.spoiler_text == "cw" and reply.visibility == "unlisted", reply
ctx = api.status_context(reply.id)
assert [a.id for a in ctx.ancestors] == [st.id], ctx
ctx = api.status_context(st.id)
assert [d.id for d in ctx.descendants] == [reply.id], ctx

step("account statuses and lookup")
mine = api.account_statuses(me.id)
assert {x.id for x in mine} >= {st.id, reply.id, pic.id}
assert api.account_lookup(username).id == me.id
rel = api.account_relationships([me.id])
assert isinstance(rel, list)

print("POSTED", st.uri, flush=True)
assert sys.stdin.readline().strip() == "LIKED"

step("notifications after another pipit liked the post")
notes = api.notifications(types=["favourite"])
likes = [n for n in notes if n.type == "favourite" and n.status and n.status.id == st.id]
assert likes and likes[0].account.acct == other_acct, [(n.type, n.account.acct) for n in notes]
assert not [n for n in api.notifications(exclude_types=["favourite"]) if n.type == "favourite"]

step("delete")
gone = api.status_delete(reply.id)
assert gone.text == "a reply, behind a warning", gone
try:
    api.status(reply.id)
    raise AssertionError("deleted status still served")
except MastodonNotFoundError:
    pass

step("password grant")
bot = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
bot.log_in(username=username, password=password, scopes=SCOPES, allow_http=True)
assert bot.account_verify_credentials().id == me.id

step("revoke, then 401")
token = bot.access_token
bot.revoke_access_token(allow_http=True)
stale = Mastodon(client_id=client_id, client_secret=client_secret, access_token=token, api_base_url=base)
try:
    stale.account_verify_credentials()
    raise AssertionError("revoked token still works")
except MastodonUnauthorizedError:
    pass
# The code-flow token is untouched by revoking the other one.
assert api.account_verify_credentials().id == me.id

print("DONE", flush=True)

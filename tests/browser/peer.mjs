// A minimal hand-made ActivityPub actor for the browser tests: it serves WebFinger and its
// actor document, signs its deliveries (draft-cavage, rsa-sha256, like Mastodon), and sends
// whatever activity a test gives it — including hostile HTML no real server should send.
import http from 'node:http';
import crypto from 'node:crypto';

// `bare: true` serves an actor with neither preferredUsername nor name (some bridges do); any
// other option is merged into the actor document (e.g. a hostile `url` or `icon`).
export async function startPeer(name = 'mallory', { bare = false, ...actorExtra } = {}) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const received = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, base);
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => {
      if (url.pathname === '/.well-known/webfinger') {
        res.writeHead(200, { 'content-type': 'application/jrd+json' });
        return res.end(JSON.stringify({ subject: `acct:${name}@${host}`, links: [{ rel: 'self', type: 'application/activity+json', href: actor }] }));
      }
      if (url.pathname === `/users/${name}`) {
        res.writeHead(200, { 'content-type': 'application/activity+json' });
        return res.end(JSON.stringify({
          '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
          id: actor, type: 'Person', ...(bare ? {} : { preferredUsername: name, name: `${name} <img src=x onerror=window.__xss=1>` }),
          summary: '<script>window.__xss=1</script>bio', inbox: `${actor}/inbox`, outbox: `${actor}/outbox`,
          followers: `${actor}/followers`, publicKey: { id: `${actor}#main-key`, owner: actor, publicKeyPem: pem },
          ...actorExtra,
        }));
      }
      if (url.pathname.startsWith('/notes/') && notes.has(url.pathname)) {
        res.writeHead(200, { 'content-type': 'application/activity+json' });
        return res.end(JSON.stringify(notes.get(url.pathname)));
      }
      if (req.method === 'POST') {
        try { received.push(JSON.parse(body)); } catch { /* not ours to judge */ }
        res.writeHead(202); return res.end();
      }
      res.writeHead(404); res.end();
    });
  });
  await new Promise(ok => server.listen(0, '127.0.0.1', ok));
  const port = server.address().port;
  const host = `127.0.0.1:${port}`;
  const base = `http://${host}`;
  const actor = `${base}/users/${name}`;
  const notes = new Map();

  async function deliver(inbox, activity) {
    const body = JSON.stringify(activity);
    const u = new URL(inbox);
    const date = new Date().toUTCString();
    const digest = 'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64');
    const signing = `(request-target): post ${u.pathname}\nhost: ${u.host}\ndate: ${date}\ndigest: ${digest}`;
    const signature = crypto.sign('sha256', Buffer.from(signing), privateKey).toString('base64');
    const r = await fetch(inbox, {
      method: 'POST', body,
      headers: {
        'content-type': 'application/activity+json', date, digest,
        signature: `keyId="${actor}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="${signature}"`,
      },
    });
    return r.status;
  }

  let n = 0;
  /** Publishes a Note (addressed to `to`) and delivers its Create to `inbox`. */
  async function post(inbox, content, extra = {}) {
    n += 1;
    const path = `/notes/${n}`;
    const note = { id: `${base}${path}`, type: 'Note', attributedTo: actor, content, published: new Date().toISOString(),
      to: ['https://www.w3.org/ns/activitystreams#Public'], cc: [`${actor}/followers`], ...extra };
    notes.set(path, note);
    const status = await deliver(inbox, { '@context': 'https://www.w3.org/ns/activitystreams', id: `${base}/activities/${n}`, type: 'Create', actor, object: note, to: note.to, cc: note.cc });
    return { note, status };
  }

  return { actor, host, handle: `@${name}@${host}`, received, deliver, post, close: () => server.close() };
}

// Small helpers the browser tests share: a free loopback port, a pause, and polling until a
// condition holds (with a clear message when it never does).
import net from 'node:net';

export const freePort = () => new Promise((ok, fail) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); }); s.on('error', fail); });
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) { const v = await fn(); if (v) return v; await sleep(100); }
  throw new Error(`timed out waiting for ${what}`);
}

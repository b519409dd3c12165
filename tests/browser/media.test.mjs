// Issue 11 in real headless Chromium: a remote post with a custom emoji in its content and in its
// author's display name, and a link card, render on the post page with each emoji as
// <img alt=":shortcode:"> and the card's picture, all loaded from pipit's own origin (the media
// cache) — the browser never contacts the server the pictures came from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './util.mjs';
import { chromium } from 'playwright-core';
import { startPeer } from './peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const PW = 'the owner password';
// A real 1×1 PNG, so the <img> has pixels to show.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
let browser, A, peer, files, filesBase, proc, dir;

before(async () => {
  // The remote pictures' and the linked article's server.
  files = http.createServer((req, res) => {
    if (req.url.endsWith('.png')) { res.writeHead(200, { 'content-type': 'image/png' }); return res.end(PNG); }
    if (req.url === '/article') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(`<!doctype html><html><head><title>x</title><meta property="og:title" content="Birds of the marsh"><meta property="og:description" content="A field guide"><meta property="og:image" content="${filesBase}/card.png"></head><body>article</body></html>`);
    }
    res.writeHead(404); res.end();
  });
  await new Promise(ok => files.listen(0, '127.0.0.1', ok));
  filesBase = `http://127.0.0.1:${files.address().port}`;

  dir = mkdtempSync(join(tmpdir(), 'pipit-media-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', 'ann', '--listen', `127.0.0.1:${port}`, '--allow-private-addresses']);
  execFileSync(PIPIT, ['password', '--data', dir], { input: PW + '\n' });
  proc = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor('ann up', async () => { try { return (await fetch(`${base}/about`)).ok; } catch { return false; } });
  A = { base };

  const blobcat = { type: 'Emoji', name: ':blobcat:', icon: { type: 'Image', mediaType: 'image/png', url: `${filesBase}/blobcat.png` } };
  const birb = { type: 'Emoji', name: ':birb:', icon: { type: 'Image', mediaType: 'image/png', url: `${filesBase}/birb.png` } };
  peer = await startPeer('dora', { name: 'Dora :birb:', tag: [birb] });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

  const me = `${base}/users/ann`;
  const { status } = await peer.post(`${base}/inbox`,
    `<p><span class="h-card"><a href="${me}" class="u-url mention">@ann</a></span> hello :blobcat: read <a href="${filesBase}/article">this</a></p>`,
    { tag: [{ type: 'Mention', href: me, name: '@ann' }, blobcat] });
  assert.equal(status, 202);
});

after(async () => {
  if (browser) await browser.close();
  if (peer) peer.close();
  if (files) files.close();
  if (proc) { proc.kill('SIGTERM'); await new Promise(r => proc.exitCode !== null ? r() : proc.on('exit', r)); }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('custom emoji (content and display name) and a link card come from our own origin', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Record (and refuse) anything the browser asks of the pictures' own server.
  const direct = [];
  await ctx.route(`${filesBase}/**`, r => { direct.push(r.request().url()); r.abort(); });
  const page = await ctx.newPage();
  await page.goto(`${A.base}/login`);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForURL(`${A.base}/@ann**`);

  await waitFor('the post on /home', async () => { await page.goto(`${A.base}/home`); return page.isVisible('article:has-text("hello")'); });
  const postPage = await page.locator('article:has-text("hello") a.when').getAttribute('href');
  // The card is fetched in the background after the post arrives.
  await waitFor('the link card', async () => { await page.goto(postPage); return page.isVisible('article.post-full a.card'); });
  const article = page.locator('article.post-full');

  const content = article.locator('.e-content img.emoji');
  assert.equal(await content.count(), 1);
  assert.equal(await content.getAttribute('alt'), ':blobcat:');
  const name = article.locator('.p-author img.emoji');
  assert.equal(await name.count(), 1, 'the emoji in the display name is a picture');
  assert.equal(await name.getAttribute('alt'), ':birb:');
  assert.match(await article.locator('.p-author').innerText(), /Dora/);
  const card = article.locator('a.card');
  assert.match(await card.innerText(), /Birds of the marsh/);
  const cardImg = card.locator('img');

  for (const [what, img] of [['content emoji', content], ['name emoji', name], ['card picture', cardImg]]) {
    const src = await img.evaluate(e => e.currentSrc || e.src);
    assert.ok(src.startsWith(`${A.base}/cache/`), `${what} from our own origin: ${src}`);
    // Loaded, with pixels (the cache fetched and served the real PNG).
    await waitFor(`${what} loaded`, () => img.evaluate(e => e.complete && e.naturalWidth > 0), 10000);
  }
  assert.deepEqual(direct, [], 'the browser never contacted the pictures\' server');
  await ctx.close();
});

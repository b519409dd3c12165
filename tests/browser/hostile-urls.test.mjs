// Remote URLs that are script (issue 9): a hostile peer whose actor `url` and `icon` and whose
// post's `url`, `inReplyTo`, `quote` and attachment URLs are `javascript:` URLs. In real headless
// Chromium the owner clicks the author's name and "Original" (the clicks of the published proof
// of concept) on /home, the post page and /notifications: no script runs, no alert opens, and
// every href/src on those pages is http(s) or our own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, waitFor } from './util.mjs';
import { chromium } from 'playwright-core';
import { startPeer } from './peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const PW = 'the owner password';
const procs = [];
let browser, A, peer;

// What runs if a link is followed: a flag, and an alert the test would see.
const JS = n => `javascript:document.documentElement.dataset.pwned='${n}';alert('pwned ${n}')`;


async function instance(name) {
  const dir = mkdtempSync(join(tmpdir(), `pipit-urls-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', name, '--listen', `127.0.0.1:${port}`, '--allow-private-addresses']);
  execFileSync(PIPIT, ['password', '--data', dir], { input: PW + '\n' });
  const p = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push({ p, dir });
  await waitFor(`${name} up`, async () => { try { return (await fetch(`${base}/about`)).ok; } catch { return false; } });
  return { name, dir, base };
}

before(async () => {
  A = await instance('ann');
  peer = await startPeer('mallory', { url: JS('actor-url'), icon: { type: 'Image', url: JS('icon') }, image: { type: 'Image', url: 'data:text/html,<script>alert(1)</script>' } });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});

after(async () => {
  if (browser) await browser.close();
  if (peer) peer.close();
  for (const { p, dir } of procs) { p.kill('SIGTERM'); await new Promise(r => p.exitCode !== null ? r() : p.on('exit', r)); rmSync(dir, { recursive: true, force: true }); }
});

test('javascript: URLs from a remote actor and post never run when clicked', async () => {
  const me = `${A.base}/users/ann`;
  const { status } = await peer.post(`${A.base}/inbox`, `<p>Look, <span class="h-card"><a href="${me}" class="u-url mention">@ann</a></span></p>`, {
    url: JS('post-url'), inReplyTo: JS('in-reply-to'), quote: JS('quote'), quoteUri: JS('quote'),
    tag: [{ type: 'Mention', href: me, name: '@ann' }],
    attachment: [{ type: 'Document', mediaType: 'image/png', url: JS('attachment'), name: 'a picture' },
      { type: 'Document', mediaType: 'application/pdf', url: JS('file') }],
  });
  assert.equal(status, 202, 'the signed delivery is accepted (its URLs are what is under test)');

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const dialogs = [];
  ctx.on('page', p => p.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); }));
  // Never leave for the peer: a followed http link is aborted, so the page stays to be checked.
  await ctx.route(`http://${peer.host}/**`, r => r.abort());
  const page = await ctx.newPage();
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${A.base}/login`);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForURL(`${A.base}/@ann**`);

  await waitFor('the hostile post on /home', async () => { await page.goto(`${A.base}/home`); return page.isVisible('article:has-text("Look,")'); });
  const postPage = await page.locator('article:has-text("Look,") a.when').getAttribute('href');
  for (const url of [`${A.base}/home`, postPage, `${A.base}/notifications`]) {
    await page.goto(url);
    const article = page.locator('article:has-text("Look,")').first();
    await article.waitFor();
    // The clicks of the proof of concept: the author's name and "Original".
    for (const link of [article.locator('a.p-author'), article.locator('a.original')]) {
      if (await link.count() === 0) continue;
      await link.first().click({ noWaitAfter: true }).catch(() => {});
      await sleep(300); // a javascript: URL runs in a task after the click; give it the chance
      // Still here (a script URL does not navigate) or on the aborted navigation's error page.
      const flag = await waitFor('the page after the click', async () => {
        try { return { v: await page.evaluate(() => document.documentElement.dataset.pwned ?? null) }; } catch { return null; }
      });
      assert.equal(flag.v, null, `${url}: no script ran`);
      if (page.url() !== url) await page.goto(url);
    }
    // Every link and source on the page: http(s), or a path/fragment/query of our own.
    const bad = await page.evaluate(() => [...document.querySelectorAll('[href], [src], [action], [formaction]')]
      .flatMap(e => ['href', 'src', 'action', 'formaction'].map(k => e.getAttribute(k)).filter(v => v !== null))
      .filter(v => !/^(https?:\/\/|\/(?!\/)|#|\?)/i.test(v.trim())));
    assert.deepEqual(bad, [], `${url}: only http(s) and local URLs in attributes`);
  }
  assert.ok(await page.locator('article:has-text("Look,") a.original').count() + await page.locator('article:has-text("Look,") a.p-author').count() > 0, 'the links under test were there');
  assert.deepEqual(dialogs, [], 'no alert() ran');
  await ctx.close();
});

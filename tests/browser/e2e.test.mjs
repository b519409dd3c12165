// End-to-end in real headless Chromium against a real `pipit serve` process:
// one-time setup link → password → logout/login → post with hashtag + mention → public profile
// (logged out) → Atom feed → post page OpenGraph → edit → delete; XSS payloads never execute;
// screenshots at phone and desktop widths; SIGTERM is a clean shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = resolve(here, '../artifacts');
const PASSWORD = 'a long and lovely password';

let dir, port, base, server, serverOut = '', setupLink, browser;

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

async function waitFor(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}\n--- pipit output ---\n${serverOut}`);
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'pipit-e2e-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', 'robin', '--listen', `127.0.0.1:${port}`]);
  server = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', d => { serverOut += d; });
  server.stderr.on('data', d => { serverOut += d; });
  setupLink = await waitFor('the one-time setup link', () => (serverOut.match(/https?:\/\/\S+\/setup\?token=\S+/) || [])[0]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('owner sets a password, posts, and the world sees it', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  const xssRuns = [];
  page.on('dialog', d => { xssRuns.push(d.message()); d.dismiss(); });

  // One-time link → choose the password → logged in on the profile.
  await page.goto(setupLink);
  await page.fill('input[name=password]', PASSWORD);
  await page.fill('input[name=confirm]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/@robin**`);
  assert.ok(await page.isVisible('text=Log out'), 'logged in after setting the password');
  // The link is single-use.
  const again = await ctx.request.get(setupLink);
  assert.equal(again.status(), 403, 'a used setup link is refused');

  // Log out, then log in again with the password.
  await page.click('text=Log out');
  await page.waitForURL(`${base}/login`);
  await page.fill('input[name=password]', 'wrong password');
  await page.click('button[type=submit]');
  assert.ok(await page.isVisible('text=Wrong password'), 'a wrong password is refused');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/@robin**`);

  // Post with a hashtag, a mention and a link through the compose box.
  await page.fill('#compose textarea[name=content]', 'Hello #pipittest from @bob@example.org https://example.org/x');
  await page.selectOption('#compose select[name=visibility]', 'public');
  await page.click('#compose button[type=submit]');
  await page.waitForURL(/done=posted/);
  // And one with a content warning.
  await page.fill('#compose input[name=cw]', 'spoilers');
  await page.fill('#compose textarea[name=content]', 'The butler did it');
  await page.click('#compose button[type=submit]');
  await page.waitForURL(/done=posted/);

  // XSS payloads in the text are shown as text and never run.
  await page.fill('#compose textarea[name=content]', '<script>window.__xss=1;alert(1)</script> "><img src=x onerror="window.__xss=1;alert(2)"> javascript:alert(3)');
  await page.click('#compose button[type=submit]');
  await page.waitForURL(/done=posted/);

  // The public profile, logged out in a fresh context.
  const anon = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const pub = await anon.newPage();
  pub.on('dialog', d => { xssRuns.push(d.message()); d.dismiss(); });
  await pub.goto(`${base}/@robin`);
  const first = pub.locator('article.post', { hasText: 'Hello' });
  assert.equal(await first.count(), 1, 'the post is on the public profile');
  assert.equal(await first.locator('a.hashtag').getAttribute('href'), `${base}/tags/pipittest`, 'hashtag linked');
  assert.equal(await first.locator('a.mention:not(.hashtag)').getAttribute('href'), 'https://example.org/@bob', 'mention linked');
  assert.equal(await first.locator('a[href="https://example.org/x"]').count(), 1, 'URL linked');
  const cw = pub.locator('details.cw', { hasText: 'spoilers' });
  assert.equal(await cw.count(), 1, 'content warning collapsed');
  assert.equal(await pub.isVisible('text=The butler did it'), false, 'text hidden behind the warning');
  assert.equal(await pub.evaluate(() => window.__xss), undefined, 'no injected script ran on the profile');
  assert.ok((await pub.content()).includes('&lt;script&gt;window.__xss=1'), 'the script tag is shown as text');
  assert.equal(await pub.locator('img[src=x]').count(), 0, 'no injected image element');
  await pub.screenshot({ path: join(ARTIFACTS, 'profile-desktop.png'), fullPage: true });
  await page.goto(`${base}/@robin`);
  await page.screenshot({ path: join(ARTIFACTS, 'profile-phone.png'), fullPage: true });

  // The Atom feed has the post; the page advertises it.
  assert.equal(await pub.locator('link[rel=alternate][type="application/atom+xml"]').count(), 1);
  const atom = await (await anon.request.get(`${base}/@robin.atom`)).text();
  assert.ok(atom.includes('Hello #') || atom.includes('pipittest'), 'Atom feed contains the post');
  assert.ok(atom.startsWith('<?xml'), 'Atom is XML');

  // The post page, through its timestamp link: OpenGraph tags.
  await first.locator('a.when').click();
  await pub.waitForURL(/\/@robin\/\d+$/);
  assert.ok((await pub.getAttribute('meta[property="og:description"]', 'content')).includes('Hello #pipittest'), 'og:description');
  assert.equal(await pub.getAttribute('meta[property="og:url"]', 'content'), pub.url(), 'og:url');
  const postUrl = pub.url();

  // Edit through the Edit link, as the owner.
  await page.goto(postUrl);
  await page.click('a:text("Edit")');
  await page.fill('textarea[name=content]', 'Hello #pipittest, edited');
  await page.click('button:text("Save")');
  await page.waitForURL(/done=saved/);
  assert.ok(await page.isVisible('text=Hello #pipittest, edited') || (await page.content()).includes('edited</p>'), 'edited text shown');
  assert.ok(await page.locator('.edited').count() > 0, 'marked as edited');

  // Delete, accepting the confirm() dialog.
  page.removeAllListeners('dialog');
  page.on('dialog', d => d.accept());
  await page.locator('article.post-full form[action$="/delete"] button').click();
  await page.waitForURL(/done=deleted/);
  const gone = await anon.request.get(postUrl);
  assert.equal(gone.status(), 410, 'the deleted post is gone');
  await pub.goto(`${base}/@robin`);
  assert.equal(await pub.locator('article.post', { hasText: 'Hello' }).count(), 0, 'no longer on the profile');
  assert.deepEqual(xssRuns, [], 'no alert() from any injected payload');
  await anon.close();
  await ctx.close();
});

test('SIGTERM shuts pipit down cleanly', async () => {
  const code = await new Promise(ok => { server.on('exit', c => ok(c)); server.kill('SIGTERM'); });
  assert.equal(code, 0, `exit code after SIGTERM\n${serverOut}`);
});

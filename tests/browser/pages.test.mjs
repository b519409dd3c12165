// Issue 13, the layout defects, in real headless Chromium against one real pipit: on a phone
// (390×844) no page scrolls sideways (every page reachable logged out and logged in), the
// owner's nine-link menu is one row, and a redirect to an anchor (#post-N) does not hide the
// target under the sticky header; on a desktop (1280×900) the site name is shown whole.
// Bad inputs tried: a long username (the site name the header must not cut), a thread long
// enough that the browser scrolls the anchor to the very top.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './util.mjs';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const ARTIFACTS = resolve(here, '../artifacts');
const PW = 'the owner password';
const NAME = 'wrenwithaverylongname';
let browser, proc, dir, base, cli;


before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'pipit-pages-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', NAME, '--listen', `127.0.0.1:${port}`, '--allow-private-addresses']);
  execFileSync(PIPIT, ['password', '--data', dir], { input: PW + '\n' });
  proc = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const end = Date.now() + 20000;
  while (Date.now() < end) { try { if ((await fetch(`${base}/about`)).ok) break; } catch {} await sleep(100); }
  cli = (...args) => execFileSync(PIPIT, [...args.slice(0, 1), '--data', dir, ...args.slice(1)]).toString().trim();
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});

after(async () => {
  if (browser) await browser.close();
  if (proc) { proc.kill('SIGTERM'); await new Promise(r => proc.exitCode !== null ? r() : proc.on('exit', r)); }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function login(ctx) {
  const page = await ctx.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/@${NAME}**`);
  return page;
}

/// How far the page scrolls sideways (0 when it does not).
const overflowX = page => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

test('phone and desktop layout: no sideways scrolling, a one-row menu, anchors below the header, the whole site name', async () => {
  // A thread: a post with ten replies, so the first reply's anchor can be scrolled to the top.
  const parent = cli('post', 'A post with a long thread under it #layout');
  const replies = [];
  for (let i = 1; i <= 10; i++) replies.push(cli('post', `Reply number ${i} in the thread, with some words so the card has a height`, '--reply-to', parent));
  const parentPath = new URL(parent).pathname;
  const firstReplyId = replies[0].split('/').pop();
  cli('post', 'A second post with a link https://example.org/a/very/long/path/that/should/wrap/instead/of/overflowing/the/phone/screen');

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const visitor = await phone.newPage();
  const loggedOut = ['/about', '/privacy', '/login', `/@${NAME}`, parentPath, '/tags/layout', '/nothing-here'];
  for (const path of loggedOut) {
    await visitor.goto(base + path);
    assert.equal(await overflowX(visitor), 0, `logged out, ${path} scrolls sideways at 390 px`);
  }
  await visitor.screenshot({ path: join(ARTIFACTS, 'pages-404-phone.png') });

  const page = await login(phone);
  const csrf = await page.inputValue('input[name=csrf]');
  // A list, so its page exists; a deck with a list column.
  await page.goto(`${base}/lists`);
  await page.fill('#list-name', 'Friends');
  await Promise.all([page.waitForURL(/\/lists\/\d+$/), page.click('text=Create list')]);
  const listPath = new URL(page.url()).pathname;
  const postId = parentPath.split('/').pop();
  const loggedIn = ['/home', '/notifications', '/deck', '/lists', listPath, '/search', '/search?q=thread', '/search?q=%23layout',
    '/following', '/followers', '/requests', '/bookmarks', '/settings', '/settings/safety', '/compose', `/@${NAME}`, parentPath,
    `${parentPath}/edit`, '/tags/layout', '/about', `/posts/${postId}`];
  for (const path of loggedIn) {
    await page.goto(base + path);
    assert.equal(await overflowX(page), 0, `logged in, ${path} scrolls sideways at 390 px`);
  }
  assert.ok(csrf);

  // The owner's menu: one row (every item on the same line), scrolling sideways inside itself.
  await page.goto(`${base}/home`);
  const tops = await page.locator('.topbar nav ul > li').evaluateAll(els => els.map(e => Math.round(e.getBoundingClientRect().top)));
  assert.equal(tops.length, 9, 'nine menu items');
  assert.equal(new Set(tops).size, 1, `the menu is one row at 390 px, not ${new Set(tops).size}`);
  await page.screenshot({ path: join(ARTIFACTS, 'pages-home-phone.png') });

  // A redirect to an anchor, as after posting a reply: the target starts below the sticky header.
  await page.goto(`${base}${parentPath}?done=posted#post-${firstReplyId}`);
  await sleep(200);
  const { target, header, scrolled } = await page.evaluate(id => ({
    target: document.getElementById(`post-${id}`).getBoundingClientRect().top,
    header: document.querySelector('.topbar').getBoundingClientRect().bottom,
    scrolled: window.scrollY,
  }), firstReplyId);
  assert.ok(scrolled > 0, 'the page scrolled to the anchor (the thread is long enough)');
  assert.ok(target >= header - 1, `the reply's top (${target}px) is under the sticky header (bottom ${header}px)`);
  await page.screenshot({ path: join(ARTIFACTS, 'pages-anchor-phone.png') });

  // Desktop: the site name is shown whole, logged in (nine links) and out.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const d = await login(desk);
  for (const who of [d, await desk.browser().newContext({ viewport: { width: 1280, height: 900 } }).then(c => c.newPage())]) {
    await who.goto(`${base}/about`);
    const cut = await who.evaluate(() => { const b = document.querySelector('.brand'); return b.scrollWidth - b.clientWidth; });
    assert.equal(cut, 0, 'the site name is cut off at 1280 px');
    const tops = await who.locator('.topbar nav ul > li').evaluateAll(els => new Set(els.map(e => Math.round(e.getBoundingClientRect().top))).size);
    assert.equal(tops, 1, 'one menu row on a desktop');
    const menuCut = await who.evaluate(() => { const u = document.querySelector('.topbar nav ul'); return u.scrollWidth - u.clientWidth; });
    assert.equal(menuCut, 0, 'the whole menu shows at 1280 px (nothing scrolled out of sight)');
  }
  await d.screenshot({ path: join(ARTIFACTS, 'pages-about-desktop.png') });
  await desk.close();
  await phone.close();
});

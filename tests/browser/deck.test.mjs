// The owner's day-to-day pages in real headless Chromium, with two real pipit processes and a
// hand-made hostile peer: a followed account's post reaches /home and a live deck column without
// a reload; a reply to a reply shows in the thread tree; likes and boosts from the other side
// appear with names; hostile HTML (script tags, javascript: links, event attributes, CSS tricks)
// in a remote post never runs. Screenshots of /deck and a thread at phone and desktop widths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, waitFor } from './util.mjs';
import { chromium } from 'playwright-core';
import { startPeer } from './peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const ARTIFACTS = resolve(here, '../artifacts');
const PW = 'the owner password';
const procs = [];
let browser, A, B, peer;


async function instance(name) {
  const dir = mkdtempSync(join(tmpdir(), `pipit-deck-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', name, '--listen', `127.0.0.1:${port}`, '--allow-private-addresses']);
  execFileSync(PIPIT, ['password', '--data', dir], { input: PW + '\n' });
  const p = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push({ p, dir });
  await waitFor(`${name} up`, async () => { try { return (await fetch(`${base}/about`)).ok; } catch { return false; } });
  const cli = (...args) => execFileSync(PIPIT, [...args.slice(0, 1), '--data', dir, ...args.slice(1)]).toString().trim();
  return { name, dir, base, handle: `@${name}@127.0.0.1:${port}`, cli };
}

async function login(ctx, inst) {
  const page = await ctx.newPage();
  await page.goto(`${inst.base}/login`);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForURL(`${inst.base}/@${inst.name}**`);
  return page;
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  A = await instance('ann');
  B = await instance('ben');
  peer = await startPeer('mallory');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});

after(async () => {
  if (browser) await browser.close();
  if (peer) peer.close();
  for (const { p, dir } of procs) { p.kill('SIGTERM'); await new Promise(r => p.exitCode !== null ? r() : p.on('exit', r)); rmSync(dir, { recursive: true, force: true }); }
});

test('live deck, threads, interactions and hostile HTML', async () => {
  // ann follows ben and the hostile peer (which accepts nothing, so ann's follow stays pending;
  // its posts still reach ann because they mention her).
  A.cli('follow', B.handle);
  await waitFor('ann follows ben', async () => (await (await fetch(`${B.base}/users/ben/followers`, { headers: { accept: 'application/activity+json' } })).json()).totalItems === 1);

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const dialogs = [];
  ctx.on('page', p => p.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); }));
  const page = await login(ctx, A);
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${A.base}/deck`);
  await waitFor('deck live stream open', async () => page.isVisible('.live-dot'));
  const before = await page.getAttribute('#deck', 'data-updated');

  // ben posts; without a reload the home column shows it.
  const benPost = B.cli('post', 'Fresh from ben #decktest');
  await page.waitForSelector('#col-0 article.post:has-text("Fresh from ben")', { timeout: 20000 });
  assert.notEqual(await page.getAttribute('#deck', 'data-updated'), before, 'the column updated live, not by a reload');
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'no navigation happened');

  // ann replies to ben; ben replies to the reply; ann's view of the thread is a tree.
  const id = benPost.split('/').pop();
  const annLocal = await waitFor('ben\'s post stored at ann', async () => {
    const html = await (await page.request.get(`${A.base}/search?q=${encodeURIComponent(benPost)}`)).text();
    return (html.match(/href="(http[^"]*\/posts\/\d+)"/) || [])[1];
  });
  A.cli('post', 'Reply from ann', '--reply-to', benPost);
  const annReplyUri = await waitFor('ann\'s reply reaches ben', async () => {
    const r = await fetch(`${B.base}/users/ben/statuses/${id}/replies?page=1`, { headers: { accept: 'application/activity+json' } });
    const j = await r.json();
    return (j.orderedItems || [])[0];
  });
  B.cli('post', 'Reply to the reply from ben', '--reply-to', annReplyUri);
  // ben likes and boosts ann's reply.
  const annReplyPage = annReplyUri.replace('/users/ann/statuses/', '/@ann/');
  B.cli('like', annReplyUri);
  B.cli('boost', annReplyUri);
  await page.goto(annLocal);
  await waitFor('reply to the reply in ann\'s thread', async () => { await page.reload(); return page.isVisible('text=Reply to the reply from ben'); });
  const items = await page.locator('ol.replies > li').evaluateAll(els => els.map(e => [e.className, e.textContent.includes('Reply to the reply') ? 'nested' : 'reply']));
  assert.deepEqual(items.map(x => x[1]), ['reply', 'nested'], 'nested reply right after its parent');
  assert.ok(items[1][0].includes('depth-1'), 'and indented');
  await page.goto(annReplyPage);
  await waitFor('like and boost with names', async () => { await page.reload(); return (await page.isVisible('.liked-by:has-text("ben")')) && (await page.isVisible('.boosted-by:has-text("ben")')); });
  await page.screenshot({ path: join(ARTIFACTS, 'thread-desktop.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(annLocal);
  await page.screenshot({ path: join(ARTIFACTS, 'thread-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Hostile HTML from a remote server, mentioning ann so it is delivered and kept.
  const hostile = `<p>hi <span class="h-card"><a href="${A.base}/users/ann" class="u-url mention">@ann</a></span></p>` +
    '<script>window.__xss=1;alert("script")</script>' +
    '<a href="javascript:window.__xss=1;alert(\'js-link\')">click me</a>' +
    '<img src=x onerror="window.__xss=1;alert(\'onerror\')">' +
    '<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red" onmouseover="window.__xss=1">styled</p>' +
    '<svg onload="window.__xss=1"></svg><iframe src="javascript:alert(1)"></iframe><style>body{display:none}</style>' +
    '<a href="https://example.org/ok">fine link</a>';
  const { status } = await peer.post(`${A.base}/inbox`, hostile, { tag: [{ type: 'Mention', href: `${A.base}/users/ann`, name: A.handle }], summary: null });
  assert.equal(status, 202, 'signed hostile delivery accepted (its content is what is under test)');
  await page.goto(`${A.base}/notifications`);
  await waitFor('hostile post shown', async () => { await page.reload(); return page.isVisible('text=fine link'); });
  await page.hover('text=styled');
  await page.click('text=click me').catch(() => {});
  await sleep(300);
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
  assert.equal(await page.locator('article script, article iframe, article .content svg, article style, article img[src=x]').count(), 0, 'active elements removed');
  assert.equal(await page.locator('article [style], article [onerror], article [onmouseover]').count(), 0, 'style and event attributes removed');
  assert.equal(await page.locator('a[href^="javascript:"]').count(), 0, 'no javascript: links');
  assert.ok(await page.isVisible('body'), 'the page is still visible (no CSS trick)');
  assert.deepEqual(dialogs, [], 'no alert() ran');

  // Screenshots of the deck at both widths.
  await page.goto(`${A.base}/deck`);
  await page.screenshot({ path: join(ARTIFACTS, 'deck-desktop.png'), fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.screenshot({ path: join(ARTIFACTS, 'deck-phone.png'), fullPage: false });
  await ctx.close();
});

test('lists, search, block and keyword filter from the pages', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await login(ctx, A);

  // A list with ben, exclusive: his posts leave /home and show in the list.
  await page.goto(`${A.base}/lists`);
  await page.fill('input[name=name]', 'Close friends');
  await page.check('input[name=exclusive]');
  await page.click('button:text("Create list")');
  await page.waitForURL(/\/lists\/\d+$/);
  const listUrl = page.url();
  await page.fill('input[name=account]', B.handle);
  await page.click('form[action$="/add"] button');
  await page.waitForURL(listUrl);
  assert.ok(await page.isVisible(`text=${B.handle}`), 'member added by handle');
  B.cli('post', 'Only for the list readers');
  await waitFor('list timeline shows the member', async () => { await page.goto(listUrl); return page.isVisible('article:has-text("Only for the list readers")'); });
  await page.goto(`${A.base}/home`);
  assert.equal(await page.locator('article:has-text("Only for the list readers")').count(), 0, 'exclusive list member hidden from home');

  // Search by a word, and resolve a remote handle.
  await page.goto(`${A.base}/search`);
  await page.fill('input[name=q]', 'readers');
  await page.click('button:text("Search")');
  assert.ok(await page.isVisible('article:has-text("Only for the list readers")'), 'found by a word');
  await page.fill('input[name=q]', peer.handle);
  await page.click('button:text("Search")');
  assert.ok(await page.isVisible(`text=${peer.handle}`), 'remote handle resolved');

  // A keyword filter hides matching posts on home.
  await page.goto(`${A.base}/settings/safety`);
  await page.fill('input[name=keyword]', 'pineapple');
  await page.selectOption('select[name=action]', 'hide');
  await page.click('button:text("Add filter")');
  await page.goto(`${listUrl}`);
  await page.click('summary:text("List settings")');
  await page.uncheck('input[name=exclusive]');
  await page.click('form[action$="/edit"] button');
  B.cli('post', 'pineapple belongs on pizza');
  B.cli('post', 'a plain post after it');
  await waitFor('the later post arrives', async () => { await page.goto(`${A.base}/home`); return page.isVisible('text=a plain post after it'); });
  assert.equal(await page.locator('article:has-text("pineapple")').count(), 0, 'filtered post hidden');

  // Quote ben's post through the Quote link; ben is told, and the quote shows inline.
  const benPost = B.cli('post', 'Worth quoting, says ben');
  await waitFor('ben\'s post at ann', async () => { await page.goto(`${A.base}/home`); return page.isVisible('article:has-text("Worth quoting")'); });
  await page.locator('article:has-text("Worth quoting") a.quote').click();
  await page.waitForURL(/\/compose\?quote=/);
  await page.fill('textarea[name=content]', 'I agree with this');
  await page.click('button:text("Post")');
  await page.waitForURL(/done=posted/);
  assert.ok(await page.isVisible('article:has-text("I agree with this") blockquote.quoted:has-text("Worth quoting")'), 'quoted post shown inline');
  const benCtx = await browser.newContext();
  const benPage = await login(benCtx, B);
  await waitFor('ben notified of the quote', async () => { await benPage.goto(`${B.base}/notifications?type=quote`); return benPage.isVisible('text=quoted your post'); });
  await benCtx.close();

  // A poll from a remote server: ann votes; the vote reaches the poll's author.
  const question = { type: 'Question', oneOf: [{ type: 'Note', name: 'Tomatoes', replies: { type: 'Collection', totalItems: 3 } }, { type: 'Note', name: 'Basil', replies: { type: 'Collection', totalItems: 1 } }], endTime: new Date(Date.now() + 86400000).toISOString() };
  const { note: q } = await peer.post(`${A.base}/inbox`, `<p>Which grows faster? @ann</p>`, { ...question, tag: [{ type: 'Mention', href: `${A.base}/users/ann`, name: A.handle }] });
  await waitFor('poll shown', async () => { await page.goto(`${A.base}/notifications`); return page.isVisible('text=Which grows faster'); });
  const poll = page.locator('article:has-text("Which grows faster")');
  await poll.locator('input[value="Basil"]').check();
  await poll.locator('button:text("Vote")').click();
  await page.waitForLoadState();
  await page.goto(`${A.base}/notifications`);
  assert.ok(await page.locator('article:has-text("Which grows faster") .poll-results').isVisible(), 'results after voting');
  assert.ok(await page.isVisible('text=Basil ✓'), 'own choice marked');
  await waitFor('vote delivered to the poll\'s author', async () => peer.received.some(a => a.type === 'Create' && a.object && a.object.name === 'Basil' && a.object.inReplyTo === q.id));

  // Blocking the hostile peer hides what it sent and refuses what it sends next.
  await page.goto(`${A.base}/settings/safety`);
  await page.fill('#block-account', peer.handle);
  await page.click('form[action="/block"] button');
  await page.goto(`${A.base}/notifications`);
  assert.equal(await page.locator('text=fine link').count(), 0, 'blocked account hidden');
  const { status } = await peer.post(`${A.base}/inbox`, `<p>after the block @ann</p>`, { tag: [{ type: 'Mention', href: `${A.base}/users/ann`, name: A.handle }] });
  assert.equal(status, 202, 'accepted and dropped');
  await sleep(500);
  await page.goto(`${A.base}/search?q=after+the+block`);
  assert.ok(await page.isVisible('text=No posts found'), 'nothing from the blocked account was stored');
  await ctx.close();
});

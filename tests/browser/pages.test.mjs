// Issue 13, the page redesign, in real headless Chromium against one real pipit (one browser,
// one instance, pages reused):
// - every page, logged out and logged in, at 390×844 and 1280×900: a screenshot (the first screenful) in
//   tests/artifacts/pages/, no sideways scrolling at 390 px, and axe-core finds no serious or
//   critical accessibility violation (every page at 1280 px; at 390 px the pages whose phone
//   layout differs most; the dark theme on the pages with posts and forms);
// - the layout: a bottom menu bar on a phone, a side menu column and a side column on a desktop,
//   the deck across the full width with a compose column, anchors below the sticky bar;
// - post cards: icon buttons named in text with their counts, relative times with the exact
//   time on hover, media grids, sensitive media and content warnings collapsed;
// - themes following prefers-color-scheme, visible keyboard focus;
// - the character counter and the @handle/#tag suggestions of the compose box.
// Bad inputs tried: a long username (the site name must show whole and not push a phone page
// sideways), a long unbroken URL in a post, an account that cannot be reached, a path that
// does not exist, a thread long enough that an anchor scrolls to the very top.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { freePort, sleep, waitFor } from './util.mjs';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const ARTIFACTS = resolve(here, '../artifacts/pages');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PW = 'the owner password';
const NAME = 'wrenwithaverylongname';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
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

/// axe-core's serious and critical violations on the page as it is, one line each.
async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') allows.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
  return violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
}

/// A PNG of w×h pixels drawn by the browser (for uploads).
const png = (page, w, h, hue) => page.evaluate(([w, h, hue]) => {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const g = c.getContext('2d'); g.fillStyle = `hsl(${hue} 60% 50%)`; g.fillRect(0, 0, w, h);
  g.fillStyle = '#fff'; g.fillRect(w / 4, h / 4, w / 2, h / 2);
  return c.toDataURL('image/png').split(',')[1];
}, [w, h, hue]).then(b => ({ name: `p${hue}.png`, mimeType: 'image/png', buffer: Buffer.from(b, 'base64') }));

const slug = path => path.replace(/^\//, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'root';

test('the redesigned pages: every page at 390 and 1280 px, accessible, with the new layout, cards, themes and compose helpers', async () => {
  // Content: a thread (ten replies, for the anchor), a long link, a content warning, likes and
  // boosts, pictures in a grid, sensitive media.
  const parent = cli('post', 'A post with a long thread under it #layout');
  const replies = [];
  for (let i = 1; i <= 10; i++) replies.push(cli('post', `Reply number ${i} in the thread, with some words so the card has a height`, '--reply-to', parent));
  const parentPath = new URL(parent).pathname;
  const postId = parentPath.split('/').pop();
  const firstReplyId = replies[0].split('/').pop();
  cli('post', 'A second post with a link https://example.org/a/very/long/path/that/should/wrap/instead/of/overflowing/the/phone/screen');
  cli('post', 'What the spoiler hides', '--cw', 'Spoilers for the finale');
  cli('like', parent);
  cli('boost', parent);

  const phone = await browser.newContext({ viewport: PHONE, colorScheme: 'light' });
  const desk = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  const visitor = await phone.newPage();
  const visitorDesk = await desk.newPage();
  const page = await login(phone);
  const d = await login(desk);

  // Pictures through the compose box: three in one post, one behind a content warning.
  await page.goto(`${base}/home`);
  await page.setInputFiles('form#compose input[name=image]', await png(page, 640, 480, 20));
  await page.fill('form#compose input[name=alt]', 'An orange square');
  await page.click('form#compose details.more-media summary');
  await page.setInputFiles('form#compose input[name=image2]', await png(page, 480, 640, 140));
  await page.setInputFiles('form#compose input[name=image3]', await png(page, 640, 640, 260));
  await page.fill('form#compose textarea[name=content]', 'Three pictures in a grid #layout');
  await Promise.all([page.waitForURL(/\/home/), page.click('form#compose button[type=submit]')]);
  await page.setInputFiles('form#compose input[name=image]', await png(page, 320, 240, 300));
  await page.fill('form#compose input[name=cw]', 'Bright colours');
  await page.fill('form#compose textarea[name=content]', 'One picture behind a warning');
  await Promise.all([page.waitForURL(/\/home/), page.click('form#compose button[type=submit]')]);

  // A list, so its page exists; an app asking for access, so the consent page exists.
  await page.goto(`${base}/lists`);
  await page.fill('#list-name', 'Friends');
  await Promise.all([page.waitForURL(/\/lists\/\d+$/), page.click('text=Create list')]);
  const listPath = new URL(page.url()).pathname;
  const app = await (await fetch(`${base}/api/v1/apps`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Test app', redirect_uris: 'urn:ietf:wg:oauth:2.0:oob', scopes: 'read' }) })).json();
  const authorize = `/oauth/authorize?response_type=code&client_id=${app.client_id}&redirect_uri=${encodeURIComponent('urn:ietf:wg:oauth:2.0:oob')}&scope=read`;

  const loggedOut = ['/about', '/privacy', '/login', `/@${NAME}`, parentPath, `/posts/${postId}`, '/tags/layout', '/nothing-here'];
  const loggedIn = ['/home', '/notifications', '/deck', '/lists', listPath, '/search', '/search?q=thread', '/search?q=%23layout',
    '/@nobody@127.0.0.1:9', '/following', '/followers', '/requests', '/bookmarks', '/settings', '/settings/safety', '/settings/apps',
    '/compose', `/compose?quote=${encodeURIComponent(parent)}`, `/@${NAME}`, parentPath, `${parentPath}/edit`, '/tags/layout', '/about',
    `/posts/${postId}`, authorize];
  const PHONE_AXE = new Set([`/@${NAME}`, '/home', parentPath, '/deck', '/settings']);
  const problems = [];
  const spent = { goto: 0, shot: 0, axe: 0 };
  const timed = async (k, f) => { const t = Date.now(); try { return await f(); } finally { spent[k] += Date.now() - t; } };
  for (const [who, p, pd, paths] of [['out', visitor, visitorDesk, loggedOut], ['in', page, d, loggedIn]]) {
    for (const path of paths) {
      await timed('goto', () => p.goto(base + path));
      const x = await overflowX(p);
      if (x !== 0) problems.push(`logged ${who}, ${path} scrolls sideways by ${x}px at 390 px`);
      await timed('shot', () => p.screenshot({ path: join(ARTIFACTS, `${who}-${slug(path)}-390.jpeg`), type: 'jpeg', quality: 70 }));
      // axe on every page at 1280 px (where the most is shown: the full menu, the side column);
      // at 390 px on the pages whose phone layout differs most (menu bar, cards, forms).
      if (PHONE_AXE.has(path)) for (const v of await timed('axe', () => axe(p))) problems.push(`logged ${who}, ${path} at 390 px: ${v}`);
      await timed('goto', () => pd.goto(base + path));
      await timed('shot', () => pd.screenshot({ path: join(ARTIFACTS, `${who}-${slug(path)}-1280.jpeg`), type: 'jpeg', quality: 70 }));
      for (const v of await timed('axe', () => axe(pd))) problems.push(`logged ${who}, ${path} at 1280 px: ${v}`);
    }
  }
  console.log('time spent (ms):', JSON.stringify(spent));
  // The authorization code page, after "Allow".
  await d.goto(base + authorize);
  await Promise.all([d.waitForURL(/oauth/), d.click('button[value=allow]')]);
  await d.waitForSelector('#oauth-code');
  await d.screenshot({ path: join(ARTIFACTS, 'in-oauth-code-1280.jpeg'), type: 'jpeg', quality: 70 });
  for (const v of await axe(d)) problems.push(`the authorization code page: ${v}`);
  // The dark theme, where the colours are most at risk: the pages with posts, cards and forms.
  const dark = await browser.newContext({ viewport: PHONE, colorScheme: 'dark' });
  const dp = await login(dark);
  for (const path of ['/home', parentPath, '/settings']) {
    await dp.goto(base + path);
    await dp.screenshot({ path: join(ARTIFACTS, `dark-${slug(path)}-390.jpeg`), type: 'jpeg', quality: 70 });
    for (const v of await axe(dp)) problems.push(`dark theme, ${path}: ${v}`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));

  // Themes follow prefers-color-scheme.
  const lum = p => p.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });
  assert.ok(await lum(dp) < 0.2, 'dark background when the system prefers dark');
  assert.ok(await lum(page) > 0.8, 'light background when the system prefers light');
  await dark.close();

  // Phone: the menu is a bar along the bottom, one row, with Home and Notifications in it and
  // the rest under "More".
  await page.goto(`${base}/home`);
  const bar = await page.evaluate(() => {
    const nav = document.querySelector('.sitenav').getBoundingClientRect();
    const items = [...document.querySelectorAll('.sitenav > ul > li')].filter(li => li.offsetParent !== null);
    return { bottom: nav.bottom, top: nav.top, rows: new Set(items.map(li => Math.round(li.getBoundingClientRect().top))).size, n: items.length, vh: innerHeight };
  });
  assert.equal(bar.bottom, bar.vh, `the menu sits at the bottom of the phone screen (${bar.bottom} of ${bar.vh})`);
  assert.equal(bar.rows, 1, 'the phone menu is one row');
  assert.ok(bar.n >= 4 && bar.n <= 6, `four to six items in the phone bar, not ${bar.n}`);
  await page.getByRole('navigation', { name: 'Site' }).getByRole('link', { name: 'Home' }).click();
  await page.waitForURL(`${base}/home`);
  await page.locator('.sitenav summary').click();
  assert.ok(await page.getByRole('link', { name: 'Bookmarks' }).isVisible(), '"More" opens the rest of the menu');
  assert.ok(await page.getByRole('button', { name: 'Log out' }).isVisible(), 'Log out is at hand on a phone');
  await page.screenshot({ path: join(ARTIFACTS, 'phone-more-menu.png') });

  // Phone: a redirect to an anchor, as after posting a reply, starts below the sticky top bar.
  await page.goto(`${base}${parentPath}?done=posted#post-${firstReplyId}`);
  await sleep(200);
  const { target, header, scrolled } = await page.evaluate(id => ({
    target: document.getElementById(`post-${id}`).getBoundingClientRect().top,
    header: document.querySelector('.topbar').getBoundingClientRect().bottom,
    scrolled: window.scrollY,
  }), firstReplyId);
  assert.ok(scrolled > 0, 'the page scrolled to the anchor (the thread is long enough)');
  assert.ok(target >= header - 1, `the reply's top (${target}px) is under the sticky header (bottom ${header}px)`);

  // Desktop: the menu is a column left of the content, a side column on the right, the whole
  // site name; logged in and out.
  for (const who of [d, visitorDesk]) {
    await who.goto(`${base}/@${NAME}`);
    const g = await who.evaluate(() => {
      const r = s => document.querySelector(s).getBoundingClientRect();
      const b = document.querySelector('.brand');
      return { nav: r('.sitenav'), main: r('main'), side: r('.side-card'), cut: b.scrollWidth - b.clientWidth, brandH: b.getBoundingClientRect().height };
    });
    assert.ok(g.nav.right <= g.main.left && g.nav.height > 100, `the menu is a column left of the content (${JSON.stringify(g.nav)})`);
    assert.ok(g.side.left >= g.main.right && g.side.width > 200, 'a side column right of the content');
    assert.ok(g.main.width >= 600, `the content column is wide enough (${g.main.width}px)`);
    assert.equal(g.cut, 0, 'the site name is shown whole at 1280 px');
  }

  // Desktop: the deck takes the width beside the menu and starts with a compose column.
  await d.goto(`${base}/deck`);
  const deck = await d.evaluate(() => ({ deck: document.getElementById('deck').getBoundingClientRect().width, nav: document.querySelector('.sitenav').getBoundingClientRect().right }));
  assert.ok(deck.deck >= 1280 - deck.nav - 80, `the deck uses the full width (${deck.deck}px beside a ${deck.nav}px menu)`);
  assert.equal(await d.locator('#deck > .deck-col').first().locator('form#compose textarea[name=content]').count(), 1, 'the first deck column is a compose box');
  await d.screenshot({ path: join(ARTIFACTS, 'deck-1280.png') });

  // Post cards: icon buttons named in text with their counts; the exact time on hover.
  await d.goto(`${base}${parentPath}`);
  const full = d.locator('article.post-full');
  assert.ok(await full.getByRole('button', { name: 'Unlike, 1 like' }).isVisible(), 'the like button says it is liked, and the count');
  assert.ok(await full.getByRole('button', { name: 'Unboost, 1 boost' }).isVisible(), 'the boost button says it is boosted, and the count');
  assert.ok(await full.getByRole('link', { name: 'Reply, 10 replies' }).isVisible(), 'the reply button counts the replies');
  assert.equal(await full.locator('.actions svg').first().getAttribute('aria-hidden'), 'true', 'icons are decoration; the names are text');
  const time = await full.locator('time').evaluate(t => ({ text: t.textContent, title: t.title, dt: t.dateTime }));
  assert.match(time.text, /^(now|\d+m)$/, `a relative time, not ${time.text}`);
  assert.match(time.title, /\d{4}, \d\d:\d\d/, 'the exact time on hover');
  // A timeline card: the owner's rarer actions under "More".
  await d.goto(`${base}/@${NAME}`);
  const card = d.locator('article.post', { hasText: 'A post with a long thread' }).first();
  assert.equal(await card.getByRole('link', { name: 'Edit' }).isVisible(), false, 'Edit waits under "More" in a timeline');
  await card.locator('.post-more summary').click();
  assert.ok(await card.getByRole('link', { name: 'Edit' }).isVisible(), '"More" shows Edit');
  // Media: three pictures in a grid, the first one tall; the sensitive one behind a warning.
  const grid = d.locator('article.post', { hasText: 'Three pictures' }).locator('.media');
  assert.equal(await grid.getAttribute('class'), 'media media-3');
  const [h1, h2] = await grid.locator('figure').evaluateAll(fs => fs.slice(0, 2).map(f => f.getBoundingClientRect().height));
  assert.ok(h1 > h2 * 1.8, `the first of three pictures spans two rows (${h1} vs ${h2})`);
  const warned = d.locator('article.post', { hasText: 'Bright colours' });
  assert.equal(await warned.locator('details.cw').getAttribute('open'), null, 'a content warning starts closed');
  assert.equal(await warned.locator('.media img').isVisible(), false, 'the picture behind it is hidden');
  await warned.locator('details.cw > summary').click();
  assert.ok(await warned.locator('.media img').isVisible(), 'shown after "Show more"');

  // Keyboard: the first Tab reaches "Skip to content", with a visible focus ring.
  await d.goto(`${base}/home`);
  await d.keyboard.press('Tab');
  const focus = await d.evaluate(() => { const e = document.activeElement; const s = getComputedStyle(e); return { text: e.textContent, outline: s.outlineStyle, width: parseFloat(s.outlineWidth) }; });
  assert.equal(focus.text, 'Skip to content');
  assert.ok(focus.outline !== 'none' && focus.width >= 2, `a visible focus ring (${focus.outline} ${focus.width}px)`);

  // Compose helpers: the counter counts down; "#lay" suggests the stored tag, Enter takes it.
  const box = d.locator('form#compose textarea[name=content]');
  await box.click();
  await box.pressSequentially('Hello #lay');
  await waitFor('the #tag suggestion', () => d.locator('[role=listbox] [role=option]', { hasText: '#layout' }).isVisible());
  await d.screenshot({ path: join(ARTIFACTS, 'suggest-1280.png') });
  await d.keyboard.press('Enter');
  assert.equal(await box.inputValue(), 'Hello #layout ');
  assert.match(await d.locator('form#compose .counter').textContent(), /^4986 characters left$/);

  await phone.close();
  await desk.close();
});

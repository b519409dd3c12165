// Issue 13, the page redesign, in real headless Chromium against one real pipit (one browser,
// one instance, contexts and pages reused) and a small hand-made remote peer (peer.mjs) that
// follows the owner and replies, so notifications, followers, community and remote pages have
// something to show:
// - every page a visitor or the owner can reach (the list below follows the router,
//   src/server/routes.rs), logged out and logged in, at 390×844 and 1280×900: a screenshot in
//   tests/artifacts/pages/ (the first screenful; the whole page for settings), no sideways
//   scrolling at 390 px, no "Internal server error" (500), no duplicate id, and axe-core finds no
//   serious or critical accessibility violation at either width; /setup on the fresh instance
//   (before the owner has a password) likewise, the dark theme on the pages with posts and forms,
//   and what shows only when opened (menus, a content warning, the suggestion list);
// - the layout: a bottom menu bar on a phone, a side menu column and a side column on a desktop,
//   the deck across the full width with a compose column, anchors below the sticky bar;
// - post cards: icon buttons named in text with their counts, relative times with the exact
//   time on hover, media grids, sensitive media and content warnings collapsed;
// - themes following prefers-color-scheme, visible keyboard focus;
// - the character counter and the @handle/#tag suggestions of the compose box.
// Bad inputs tried: a long username (the site name must show whole and not push a phone page
// sideways), a long unbroken URL in a post, two different passwords on /setup, a used setup link,
// an account that cannot be reached (port 9), an account its server does not know, a post id and
// a path that do not exist, an empty and an unreachable /authorize_interaction, a remote-follow
// from a starter pack to an unreachable server, an import with an unreachable account and a
// malformed CSV (a domain with spaces), a thread long enough that an anchor scrolls to
// the very top.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { freePort, sleep, waitFor } from './util.mjs';
import { startPeer } from './peer.mjs';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const ARTIFACTS = resolve(here, '../artifacts/pages');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PW = 'the owner password';
const NAME = 'wrenwithaverylongname';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
let browser, proc, dir, base, port, cli, peer, out = '';
// Shared by the tests below: a visitor and the owner, each on a phone and a desktop, each in a
// context of their own (a context shares its cookies among its pages).
let outPhone, outDesk, phone, desk, visitor, visitorDesk, page, d;
let parentPath, postId, firstReplyId;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'pipit-pages-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // No password yet: the first start prints the one-time setup link.
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', NAME, '--listen', `127.0.0.1:${port}`, '--allow-private-addresses']);
  proc = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  proc.stdout.on('data', c => { out += c; });
  await waitFor('the one-time setup link on pipit serve\'s stdout', () => /\/setup\?token=\S+/.test(out));
  cli = (...args) => execFileSync(PIPIT, [...args.slice(0, 1), '--data', dir, ...args.slice(1)]).toString().trim();
  peer = await startPeer('robin');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  outPhone = await browser.newContext({ viewport: PHONE, colorScheme: 'light' });
  outDesk = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  visitor = await outPhone.newPage();
  visitorDesk = await outDesk.newPage();
});

after(async () => {
  if (browser) await browser.close();
  if (peer) peer.close();
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

/// The ids that more than one element on the page carries (labels, anchors and aria-* break on them).
const duplicateIds = page => page.evaluate(() => {
  const seen = new Map();
  for (const e of document.querySelectorAll('[id]')) seen.set(e.id, (seen.get(e.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
});

/// axe-core's serious and critical violations (and the two moderate rules below) on the page as it is, one line each (rule, impact,
/// what it wants, and up to three selectors of the elements at fault).
async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') allows.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    // Only the rules whose violations are serious or critical (every rule carries a fixed impact;
    // the moderate and minor ones, region, heading-order, ..., cost time and are not enforced),
    // and two moderate ones every page passes since they were fixed: one h1 per page (the post
    // page had none) and landmarks told apart by name (/search had two unnamed search forms).
    const rules = window.axe._audit.rules.filter(r => r.enabled && (r.impact === undefined || r.impact === 'serious' || r.impact === 'critical'
      || r.id === 'page-has-heading-one' || r.id === 'landmark-unique')).map(r => r.id);
    return (await window.axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'rule', values: rules } })).violations;
  });
  return violations
    .map(v => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
}

const spent = { goto: 0, shot: 0, axe: 0 };
const timed = async (k, f) => { const t = Date.now(); try { return await f(); } finally { spent[k] += Date.now() - t; } };

/// Every check of one page in one browser page: no 500, no sideways scroll at 390 px, no duplicate
/// id, a screenshot, no serious or critical axe violation. Returns the problems, one line each.
async function checkPage(p, who, path, { full = false, name = slug(path) } = {}) {
  const problems = [];
  const width = p.viewportSize().width;
  const at = `logged ${who}, ${path} at ${width} px`;
  const resp = await timed('goto', () => p.goto(base + path));
  if (resp && resp.status() >= 500 && resp.status() !== 502) problems.push(`${at}: HTTP ${resp.status()}`);
  // PAGES_VERBOSE=1: what each page answered, for a person reading the log.
  if (process.env.PAGES_VERBOSE) console.log(at, resp && resp.status(), p.url(), JSON.stringify(await p.evaluate(() => document.querySelector('main')?.innerText.slice(0, 160))));
  if (width < 500) {
    const x = await overflowX(p);
    if (x !== 0) problems.push(`${at}: scrolls sideways by ${x}px`);
  }
  for (const id of await duplicateIds(p)) problems.push(`${at}: duplicate id ${id}`);
  await timed('shot', () => p.screenshot({ path: join(ARTIFACTS, `${who}-${name}-${width}.jpeg`), type: 'jpeg', quality: 70, fullPage: full }));
  for (const v of await timed('axe', () => axe(p))) problems.push(`${at}: ${v}`);
  return problems;
}

/// Both widths of one page, at the same time (one context each).
const checkBoth = async (pair, who, path, opts) => (await Promise.all(pair.map(p => checkPage(p, who, path, opts)))).flat();

/// A PNG of w×h pixels drawn by the browser (for uploads).
const png = (page, w, h, hue) => page.evaluate(([w, h, hue]) => {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const g = c.getContext('2d'); g.fillStyle = `hsl(${hue} 60% 50%)`; g.fillRect(0, 0, w, h);
  g.fillStyle = '#fff'; g.fillRect(w / 4, h / 4, w / 2, h / 2);
  return c.toDataURL('image/png').split(',')[1];
}, [w, h, hue]).then(b => ({ name: `p${hue}.png`, mimeType: 'image/png', buffer: Buffer.from(b, 'base64') }));

const slug = path => path.replace(/^\//, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 80) || 'root';

test('/setup on a fresh instance (before the owner has a password) at 390 and 1280 px, accessible; then the password is set there', async () => {
  const setup = new URL(out.match(/https?:\/\/\S+\/setup\?token=\S+/)[0]);
  const path = setup.pathname + setup.search;
  const problems = await checkBoth([visitor, visitorDesk], 'fresh', path, { name: 'setup' });
  // Two different passwords: the form again, with the error.
  await visitorDesk.fill('#password', PW);
  await visitorDesk.fill('#confirm', PW + ' but different');
  await Promise.all([visitorDesk.waitForLoadState(), visitorDesk.click('button[type=submit]')]);
  assert.match(await visitorDesk.locator('[role=alert]').textContent(), /differ/);
  for (const v of await axe(visitorDesk)) problems.push(`/setup with two different passwords at 1280 px: ${v}`);
  await visitorDesk.screenshot({ path: join(ARTIFACTS, 'fresh-setup-error-1280.jpeg'), type: 'jpeg', quality: 70 });
  assert.deepEqual(problems, [], problems.join('\n'));
  // The password, set through the page.
  await visitorDesk.fill('#password', PW);
  await visitorDesk.fill('#confirm', PW);
  await Promise.all([visitorDesk.waitForURL(u => !u.pathname.startsWith('/setup')), visitorDesk.click('button[type=submit]')]);
  await outDesk.clearCookies();
});

test('every page, logged out and logged in, at 390 and 1280 px: screenshots, no sideways scrolling, no 500, no duplicate id, no serious axe violation', async () => {
  // The checks themselves find what they look for: a nameless icon button, grey on white, a
  // duplicate id, a too-wide block (so an empty result below means something). On a blank page:
  // pipit's CSP would drop these style attributes.
  const probe = await outPhone.newPage();
  await probe.setContent('<main><h1>x</h1><button><svg width="9" height="9"></svg></button><p style="color:#bbb">faint</p>'
    + '<p id="a">1</p><p id="a">2</p><div style="width:900px">wide</div></main>');
  const found = (await axe(probe)).join('\n');
  assert.match(found, /^button-name \(critical\)/m, 'axe reports the nameless button');
  assert.match(found, /^color-contrast \(serious\)/m, 'axe reports the faint text');
  assert.deepEqual(await duplicateIds(probe), ['a ×2']);
  assert.ok(await overflowX(probe) > 0, 'the wide block scrolls sideways');
  await probe.close();

  phone = await browser.newContext({ viewport: PHONE, colorScheme: 'light' });
  desk = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
  page = await login(phone);
  d = await login(desk);

  // Content: a thread (ten replies, for the anchor), a long link, a content warning, a poll,
  // likes and boosts, pictures in a grid, sensitive media, a draft and a scheduled post.
  const parent = cli('post', 'A post with a long thread under it #layout');
  const replies = [];
  for (let i = 1; i <= 10; i++) replies.push(cli('post', `Reply number ${i} in the thread, with some words so the card has a height`, '--reply-to', parent));
  parentPath = new URL(parent).pathname;
  postId = parentPath.split('/').pop();
  firstReplyId = replies[0].split('/').pop();
  cli('post', 'A second post with a link https://example.org/a/very/long/path/that/should/wrap/instead/of/overflowing/the/phone/screen');
  const cwPath = new URL(cli('post', 'What the spoiler hides', '--cw', 'Spoilers for the finale')).pathname;
  const pollPath = new URL(cli('post', 'Which bird sings first? #layout', '--poll', 'Robin', '--poll', 'Wren', '--poll', 'Blackbird with a long name')).pathname;
  cli('like', parent);
  cli('boost', parent);

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
  const mediaPath = new URL(await page.locator('article.post', { hasText: 'Three pictures' }).locator('a.when').first().getAttribute('href'), base).pathname;
  // A draft and a scheduled post, for /scheduled.
  await page.fill('form#compose textarea[name=content]', 'A draft for later');
  await page.click('form#compose details.more-publish summary');
  await Promise.all([page.waitForURL(/\/scheduled/), page.click('form#compose button[name=draft]')]);
  await page.goto(`${base}/home`);
  await page.fill('form#compose textarea[name=content]', 'A post for tomorrow');
  await page.click('form#compose details.more-publish summary');
  await page.fill('form#compose input[name=scheduled_at]', new Date(Date.now() + 86400e3).toISOString().slice(0, 16));
  await Promise.all([page.waitForURL(/\/scheduled/), page.click('form#compose button[type=submit]')]);

  // The peer follows, replies with a mention and likes: notifications, followers, community.
  const me = `${base}/users/${NAME}`;
  assert.equal(await peer.deliver(`${base}/inbox`, { '@context': 'https://www.w3.org/ns/activitystreams', id: `http://${peer.host}/follows/1`, type: 'Follow', actor: peer.actor, object: me }), 202);
  const { status } = await peer.post(`${base}/inbox`, `<p><span class="h-card"><a href="${me}" class="u-url mention">@${NAME}</a></span> Lovely thread, which reply is your favourite?</p>`,
    { inReplyTo: `${me}/statuses/${postId}`, tag: [{ type: 'Mention', href: me, name: `@${NAME}` }], cc: [me] });
  assert.equal(status, 202, 'the peer\'s reply is accepted');
  assert.equal(await peer.deliver(`${base}/inbox`, { '@context': 'https://www.w3.org/ns/activitystreams', id: `http://${peer.host}/likes/1`, type: 'Like', actor: peer.actor, object: `${me}/statuses/${postId}` }), 202);
  // A remote poll the owner can vote in (a form of radio buttons).
  const q = await peer.post(`${base}/inbox`, `<p><span class="h-card"><a href="${me}" class="u-url mention">@${NAME}</a></span> Tea or coffee?</p>`,
    { type: 'Question', tag: [{ type: 'Mention', href: me, name: `@${NAME}` }], cc: [me], endTime: new Date(Date.now() + 86400e3).toISOString(),
      oneOf: ['Tea', 'Coffee'].map(name => ({ type: 'Note', name, replies: { type: 'Collection', totalItems: 1 } })) });
  assert.equal(q.status, 202, 'the peer\'s poll is accepted');
  await page.goto(`${base}/notifications`);
  const remotePollPath = new URL(await page.locator('article.post', { hasText: 'Tea or coffee' }).locator('a.when').first().getAttribute('href'), base).pathname;
  const remotePath = new URL(await page.locator('article.post', { hasText: 'Lovely thread' }).locator('a.when').first().getAttribute('href'), base).pathname;

  // A list, public (a starter pack) with the peer in it; an app asking for access (the consent page).
  await page.goto(`${base}/lists`);
  await page.fill('#list-name', 'Friends');
  await Promise.all([page.waitForURL(/\/lists\/\d+$/), page.click('text=Create list')]);
  const listPath = new URL(page.url()).pathname;
  await page.fill('#member', peer.handle);
  await Promise.all([page.waitForURL(/\/lists\/\d+/), page.click('form.follow-form button[type=submit]')]);
  await page.click('details.list-settings summary');
  await page.check('input[name=public]');
  await Promise.all([page.waitForURL(/\/lists\/\d+/), page.click('details.list-settings button[type=submit]')]);
  const app = await (await fetch(`${base}/api/v1/apps`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Test app', redirect_uris: 'urn:ietf:wg:oauth:2.0:oob', scopes: 'read' }) })).json();
  const authorize = `/oauth/authorize?response_type=code&client_id=${app.client_id}&redirect_uri=${encodeURIComponent('urn:ietf:wg:oauth:2.0:oob')}&scope=read`;

  // An import, so the settings page shows its progress and failures (nothing listens on port 9),
  // and a malformed file, which comes back at once as an error page listing its bad line.
  const csv = (name, text) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
  await page.goto(`${base}/settings`);
  await page.selectOption('#import_kind', 'following_accounts.csv');
  await page.setInputFiles('#import-form input[name=file]', csv('following_accounts.csv', `Account address,Show boosts,Notify on new posts,Languages\n${peer.handle.slice(1)},true,false,\nnobody@127.0.0.1:9,true,false,\n`));
  await Promise.all([page.waitForURL(/done=importing/), page.click('#import-form button[type=submit]')]);
  await page.goto(`${base}/settings`);
  assert.ok(await page.locator('#import-status').isVisible(), 'the settings page shows the import');
  await page.selectOption('#import_kind', 'blocked_domains.csv');
  await page.setInputFiles('#import-form input[name=file]', csv('blocked_domains.csv', '#domain\nnot a domain at all, with spaces\n'));
  const [importError] = await Promise.all([page.waitForNavigation(), page.click('#import-form button[type=submit]')]);
  assert.ok(importError.status() >= 400 && importError.status() < 500, `a malformed CSV is refused (HTTP ${importError.status()})`);
  assert.match(await page.locator('main').innerText(), /line 2/i, 'the refusal names the bad line');
  await page.screenshot({ path: join(ARTIFACTS, 'in-import-malformed-390.jpeg'), type: 'jpeg', quality: 70 });
  const importProblems = (await axe(page)).map(v => `the refused import at 390 px: ${v}`);
  if (await overflowX(page) !== 0) importProblems.push('the refused import scrolls sideways at 390 px');

  // The pages, from the router (src/server/routes.rs): every GET that answers a page.
  const unreachable = '@nobody@127.0.0.1:9';      // nothing listens on port 9
  const unknown = `@nobody@127.0.0.1:${port}`;     // a server that answers "no such account"
  const posts = [['post-thread', parentPath], ['post-cw', cwPath], ['post-poll', pollPath], ['post-media', mediaPath], ['posts-id', `/posts/${postId}`]];
  const loggedOut = ['/', ['profile', `/@${NAME}`], ...posts, '/tags/layout', '/about', '/privacy', '/login', '/setup',
    ['starter-pack', listPath], ['starter-pack-follow-from-unreachable', `${listPath}/follow-from?account=${encodeURIComponent(unreachable.slice(1))}`],
    ['post-unknown', `/@${NAME}/999999`], '/nothing-here', '/home', '/search', ['account-unreachable', `/${unreachable}`], ['post-remote', remotePath]];
  const loggedIn = ['/', '/home', '/notifications', '/community', '/deck', '/lists', ['list', listPath], '/search', '/search?q=thread', '/search?q=%23layout',
    ['search-account', `/search?q=${encodeURIComponent(peer.handle)}`], ['search-unreachable', `/search?q=${encodeURIComponent(unreachable)}`],
    ['account-unreachable', `/${unreachable}`], ['account-unknown', `/${unknown}`], ['account-remote', `/${peer.handle}`],
    '/following', '/followers', '/requests', '/bookmarks', '/settings', '/settings/safety', '/settings/apps', '/settings/relays',
    '/compose', ['compose-quote', `/compose?quote=${encodeURIComponent(parent)}`], '/scheduled', ['profile', `/@${NAME}`], ...posts,
    ['post-remote', remotePath], ['post-remote-poll', remotePollPath], ['post-edit', `${parentPath}/edit`], '/tags/layout', '/about', '/privacy', ['oauth-consent', authorize],
    ['authorize-interaction-empty', '/authorize_interaction'], ['authorize-interaction-unreachable', `/authorize_interaction?uri=${encodeURIComponent(unreachable)}`],
    ['starter-pack-remote', `/starter-pack?uri=${encodeURIComponent(base + listPath)}`], ['post-unknown', `/@${NAME}/999999`], '/nothing-here'];
  // The settings page holds every section (profile, posting, pictures, About, moving, import and
  // export): its screenshots are of the whole page.
  const FULL = new Set(['/settings', '/settings/safety']);
  const problems = [...importProblems];
  for (const [who, pair, paths] of [['out', [visitor, visitorDesk], loggedOut], ['in', [page, d], loggedIn]]) {
    for (const entry of paths) {
      const [name, path] = Array.isArray(entry) ? entry : [slug(entry), entry];
      problems.push(...await checkBoth(pair, who, path, { full: FULL.has(path), name }));
    }
  }
  // The authorization code page, after "Allow".
  await d.goto(base + authorize);
  await Promise.all([d.waitForURL(/oauth/), d.click('button[value=allow]')]);
  await d.waitForSelector('#oauth-code');
  await d.screenshot({ path: join(ARTIFACTS, 'in-oauth-code-1280.jpeg'), type: 'jpeg', quality: 70 });
  for (const v of await axe(d)) problems.push(`the authorization code page: ${v}`);
  // The dark theme, where the colours are most at risk: the pages with posts, cards and forms.
  const dark = await browser.newContext({ viewport: PHONE, colorScheme: 'dark' });
  const dp = await login(dark);
  for (const [name, path] of [['home', '/home'], ['post-thread', parentPath], ['post-poll', pollPath], ['notifications', '/notifications'], ['settings', '/settings']]) {
    await dp.goto(base + path);
    await dp.screenshot({ path: join(ARTIFACTS, `dark-${name}-390.jpeg`), type: 'jpeg', quality: 70 });
    for (const v of await axe(dp)) problems.push(`dark theme, ${path}: ${v}`);
  }
  await dark.close();
  console.log('time spent (ms):', JSON.stringify(spent));
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('the layout, the post cards, the themes, the keyboard and the compose helpers', async () => {
  // Themes follow prefers-color-scheme.
  const lum = p => p.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });
  const dark = await browser.newContext({ viewport: PHONE, colorScheme: 'dark' });
  const dp = await dark.newPage();
  await dp.goto(`${base}/about`);
  await page.goto(`${base}/about`);
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
  // What only shows once opened is checked open too (axe skips hidden elements): the phone's
  // "More" menu, a timeline card's "More", a content warning, the suggestion list.
  const opened = [];
  for (const v of await axe(page)) opened.push(`the phone's "More" menu, open: ${v}`);

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
  assert.ok(await full.getByRole('button', { name: 'Unlike, 2 likes' }).isVisible(), 'the like button says it is liked, and the count (the owner\'s and the peer\'s)');
  assert.ok(await full.getByRole('button', { name: 'Unboost, 1 boost' }).isVisible(), 'the boost button says it is boosted, and the count');
  assert.ok(await full.getByRole('link', { name: 'Reply, 11 replies' }).isVisible(), 'the reply button counts the replies (ten of the owner\'s, one of the peer\'s)');
  assert.equal(await full.locator('.actions svg').first().getAttribute('aria-hidden'), 'true', 'icons are decoration; the names are text');
  const time = await full.locator('time').evaluate(t => ({ text: t.textContent, title: t.title, dt: t.dateTime }));
  assert.match(time.text, /^(now|\d+m)$/, `a relative time, not ${time.text}`);
  assert.match(time.title, /\d{4}, \d\d:\d\d/, 'the exact time on hover');
  // A timeline card: the owner's rarer actions under "More".
  await d.goto(`${base}/@${NAME}`);
  const card = d.locator('article.post', { hasText: 'A post with a long thread' }).first();
  assert.equal(await card.getByRole('link', { name: 'Edit' }).isVisible(), false, 'Edit waits under "More" in a timeline');
  await card.locator('.post-more summary').click();
  for (const v of await axe(d)) opened.push(`a card's "More", open: ${v}`);
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
  for (const v of await axe(d)) opened.push(`a content warning, open: ${v}`);
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
  for (const v of await axe(d)) opened.push(`the #tag suggestions, shown: ${v}`);
  await d.keyboard.press('Enter');
  assert.equal(await box.inputValue(), 'Hello #layout ');
  assert.match(await d.locator('form#compose .counter').textContent(), /^4986 characters left$/);
  assert.deepEqual(opened, [], opened.join('\n'));
});

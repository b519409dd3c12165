// End-to-end in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real `pipit serve` process, the way a person first meets pipit:
//   one-time setup link → password → log out / log in → posts through the compose box (hashtag,
//   mention, link; a content warning; XSS payloads) → the public profile logged out → Atom and RSS
//   feeds → the post page through its timestamp link (OpenGraph) → edit → delete (confirm dialog)
//   → screenshots at phone and desktop widths → SIGTERM is a clean shutdown (exit 0).
//
// Each step is a subtest; once one fails the rest are skipped (they build on each other), a
// screenshot of the page is saved to tests/artifacts/failed-<step>.png and the error carries the
// tail of pipit's output.
//
//   PIPIT_BIN  the pipit binary (default: ../../target/debug/pipit)
//   CHROMIUM   the browser (default: /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const PIPIT = process.env.PIPIT_BIN || resolve(here, '../../target/debug/pipit');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = resolve(here, '../artifacts');
const NAME = 'robin';
const PASSWORD = 'a long and lovely password';
const HELLO = 'Hello #pipittest from @bob@example.org https://example.org/x';
const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_ATTR = '"><img src=x onerror="window.__xss=1">';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
// What this machine needs (see the env notes): playwright adds --headless and its own fresh,
// empty --user-data-dir for every launch(); the rest keeps Chromium off the closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dir, port, base, profile, server, serverOut = '', serverExit = null, setupLink, browser;
let owner, anon, page, pub; // contexts and pages shared by the steps
let postUrl;                 // the Hello post's own page
const dialogs = [];          // every alert/confirm/prompt any page opened

const sleep = ms => new Promise(r => setTimeout(r, ms));
const tail = () => serverOut.split('\n').slice(-30).join('\n');

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (serverExit !== null) throw new Error(`pipit exited (${serverExit}) while waiting for ${what}\n--- pipit output ---\n${tail()}`);
    const v = await fn();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}\n--- pipit output ---\n${tail()}`);
}

function watch(p) {
  p.on('dialog', d => {
    dialogs.push({ type: d.type(), message: d.message(), url: p.url() });
    // Only the delete step expects a dialog; it installs its own handler that accepts.
    if (p.listenerCount('dialog') === 1) d.dismiss().catch(() => {});
  });
  return p;
}

async function xssRan(p) { return p.evaluate(() => window.__xss); }

// One step of the journey. Steps build on each other, so after a failure the rest are skipped.
let broken = null;
function step(t, name, fn) {
  return t.test(name, async st => {
    if (broken) { st.skip(`skipped: the step "${broken}" failed`); return; }
    try {
      await fn();
    } catch (e) {
      broken = name;
      const shot = join(ARTIFACTS, `failed-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
      for (const p of [page, pub]) {
        if (p && !p.isClosed()) { await p.screenshot({ path: shot, fullPage: true }).catch(() => {}); break; }
      }
      e.message = `step "${name}": ${e.message}\n(screenshot: ${shot})\n--- pipit output (tail) ---\n${tail()}`;
      throw e;
    }
  });
}

before(async () => {
  assert.ok(existsSync(PIPIT), `the pipit binary ${PIPIT} exists (run cargo build, or set PIPIT_BIN)`);
  assert.ok(existsSync(CHROMIUM), `the browser ${CHROMIUM} exists (apt-get install chromium, or set CHROMIUM)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of readdirSync(ARTIFACTS)) if (/^failed-.*\.png$/.test(f)) rmSync(join(ARTIFACTS, f)); // from an earlier run
  dir = mkdtempSync(join(tmpdir(), 'pipit-e2e-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  profile = `${base}/@${NAME}`;
  execFileSync(PIPIT, ['init', '--data', dir, '--url', base, '--username', NAME, '--listen', `127.0.0.1:${port}`]);
  server = spawn(PIPIT, ['serve', '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', d => { serverOut += d; });
  server.stderr.on('data', d => { serverOut += d; });
  server.on('exit', (code, sig) => { serverExit = code ?? sig; });
  setupLink = await waitFor('the one-time setup link (a line with /setup?token=) on pipit serve\'s stdout',
    () => (serverOut.match(/https?:\/\/\S+\/setup\?token=\S+/) || [])[0]);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server && serverExit === null) server.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a new owner sets up pipit, posts, edits and deletes, and the world sees it', async t => {
  await step(t, 'the one-time setup link sets the password and lands logged in on the profile', async () => {
    assert.ok(setupLink.startsWith(`${base}/setup?token=`), `the printed link ${setupLink} points at ${base}/setup`);
    owner = await browser.newContext({ viewport: PHONE });
    page = watch(await owner.newPage());
    const r = await page.goto(setupLink);
    assert.equal(r.status(), 200, `GET ${setupLink} shows the setup page`);
    await page.fill('input[name=password]', PASSWORD);
    await page.fill('input[name=confirm]', PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.waitForURL(`${profile}**`);
    assert.equal(new URL(page.url()).pathname, `/@${NAME}`, `after setting the password the browser is on /@${NAME}, not ${page.url()}`);
    assert.ok(await page.getByRole('button', { name: 'Log out' }).isVisible(), 'after setting the password there is a "Log out" button (logged in)');
    assert.ok(await page.locator('form#compose textarea[name=content]').isVisible(), 'the logged-in profile has the compose box');
    const again = await owner.request.get(setupLink);
    assert.equal(again.status(), 403, `opening the used setup link again is refused with 403 (got ${again.status()})`);
  });

  await step(t, 'log out, then log in again through /login', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${base}/login`);
    await page.goto(profile);
    assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0, 'after "Log out" the profile shows no "Log out" button');
    assert.equal(await page.locator('form#compose').count(), 0, 'after "Log out" the profile shows no compose box');
    await page.goto(`${base}/login`);
    await page.fill('input[name=password]', 'wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.ok(await page.getByText('Wrong password').isVisible(), 'logging in with a wrong password shows "Wrong password"');
    await page.fill('input[name=password]', PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${profile}**`);
    assert.ok(await page.getByRole('button', { name: 'Log out' }).isVisible(), 'logging in with the right password lands logged in on the profile');
  });

  await step(t, 'post with a hashtag, a mention and a link through the compose box', async () => {
    await page.fill('form#compose textarea[name=content]', HELLO);
    await page.selectOption('form#compose select[name=visibility]', 'public');
    await page.locator('form#compose button[type=submit]').click();
    await page.waitForURL(/done=posted/);
    const card = page.locator('article.post', { hasText: 'Hello' });
    assert.equal(await card.count(), 1, `after posting "${HELLO}" it shows once on the owner's profile`);
  });

  await step(t, 'post with a content warning', async () => {
    await page.fill('form#compose input[name=cw]', 'spoilers');
    await page.fill('form#compose textarea[name=content]', 'The butler did it');
    await page.selectOption('form#compose select[name=visibility]', 'public');
    await page.locator('form#compose button[type=submit]').click();
    await page.waitForURL(/done=posted/);
    assert.equal(await page.locator('details.cw', { hasText: 'spoilers' }).count(), 1, 'the post with content warning "spoilers" shows behind a <details> on the profile');
  });

  await step(t, 'script and attribute-breaking payloads are shown as text and never run', async () => {
    await page.fill('form#compose textarea[name=content]', `${XSS_SCRIPT} ${XSS_ATTR}`);
    await page.locator('form#compose button[type=submit]').click();
    await page.waitForURL(/done=posted/);
    await page.reload();
    assert.equal(await xssRan(page), undefined, 'on the owner\'s profile with the payload post, window.__xss stays undefined');
    const card = page.locator('article.post', { hasText: 'window.__xss' });
    assert.equal(await card.count(), 1, 'the payload post is on the profile');
    const shown = await card.locator('.content').innerText();
    assert.ok(shown.includes(XSS_SCRIPT), `the post shows the literal text ${XSS_SCRIPT} (shown: ${JSON.stringify(shown)})`);
    assert.ok(shown.includes(XSS_ATTR), `the post shows the literal text ${XSS_ATTR} (shown: ${JSON.stringify(shown)})`);
    assert.equal(await page.locator('article.post script, article.post img[src=x], [onerror]').count(), 0, 'no <script>, <img src=x> or onerror attribute made it into the page');
  });

  await step(t, 'the public profile, logged out in a fresh context, shows the posts with links', async () => {
    anon = await browser.newContext({ viewport: DESKTOP });
    pub = watch(await anon.newPage());
    const r = await pub.goto(profile);
    assert.equal(r.status(), 200, `GET ${profile} logged out is 200`);
    assert.equal(await pub.getByRole('button', { name: 'Log out' }).count(), 0, 'the fresh context is logged out');
    const card = pub.locator('article.post', { hasText: 'Hello' });
    assert.equal(await card.count(), 1, 'the Hello post is on the public profile');
    const tag = card.locator('a', { hasText: '#pipittest' });
    assert.equal(await tag.getAttribute('href'), `${base}/tags/pipittest`, 'the hashtag #pipittest links to /tags/pipittest');
    const mention = card.locator('a', { hasText: /@?bob/ });
    // example.org cannot be asked (no network here): the mention stays text, never a link to a
    // guessed https://example.org/@bob (issue 13).
    assert.equal(await mention.count(), 0, 'the unresolvable mention @bob@example.org is not a link');
    assert.ok((await card.textContent()).includes('@bob@example.org'), 'it stays as text');
    assert.equal(await card.locator('a[href="https://example.org/x"]').count(), 1, 'the URL https://example.org/x is a link');
    const cw = pub.locator('details.cw', { hasText: 'spoilers' });
    assert.equal(await cw.count(), 1, 'the content warning post is on the public profile');
    assert.equal(await pub.getByText('The butler did it').isVisible(), false, 'the text behind the content warning is hidden until opened');
    await cw.locator('summary').click();
    assert.ok(await pub.getByText('The butler did it').isVisible(), 'opening the content warning shows the text');
    assert.equal(await xssRan(pub), undefined, 'on the public profile window.__xss stays undefined');
    assert.ok((await pub.locator('article.post', { hasText: 'window.__xss' }).innerText()).includes(XSS_SCRIPT), 'the public profile shows the script payload as text');
    // The hashtag page lists the post.
    await tag.click();
    await pub.waitForURL(`${base}/tags/pipittest`);
    assert.equal(await pub.locator('article.post', { hasText: 'Hello' }).count(), 1, 'following the hashtag link, /tags/pipittest lists the post');
  });

  await step(t, 'screenshots of the profile at phone and desktop widths', async () => {
    await pub.goto(profile);
    await pub.setViewportSize(DESKTOP);
    await pub.screenshot({ path: join(ARTIFACTS, 'profile-desktop.png'), fullPage: true });
    await page.goto(profile);
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(ARTIFACTS, 'profile-phone.png'), fullPage: true });
    // On a phone nothing may stick out sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `at 390 px wide the profile does not scroll sideways (it is ${overflow} px too wide)`);
  });

  await step(t, 'the Atom and RSS feeds carry the post', async () => {
    assert.equal(await pub.locator('link[rel=alternate][type="application/atom+xml"]').count(), 1, 'the profile advertises its Atom feed');
    const atom = await anon.request.get(`${profile}.atom`);
    assert.equal(atom.status(), 200, `GET /@${NAME}.atom is 200`);
    assert.match(atom.headers()['content-type'], /atom\+xml/, 'the Atom feed is served as application/atom+xml');
    const xml = await atom.text();
    assert.ok(xml.startsWith('<?xml'), 'the Atom feed is XML');
    assert.ok(xml.includes('pipittest'), 'the Atom feed contains the Hello #pipittest post');
    assert.ok(!xml.includes(XSS_SCRIPT), 'the Atom feed escapes the script payload');
    const rss = await anon.request.get(`${profile}.rss`);
    assert.equal(rss.status(), 200, `GET /@${NAME}.rss is 200`);
    assert.ok((await rss.text()).includes('pipittest'), 'the RSS feed contains the Hello #pipittest post');
  });

  await step(t, 'the post page, opened through its timestamp link, has OpenGraph tags', async () => {
    await pub.goto(profile);
    await pub.locator('article.post', { hasText: 'Hello' }).locator('a.when').click();
    await pub.waitForURL(new RegExp(`/@${NAME}/\\d+$`));
    postUrl = pub.url();
    const og = async p => pub.getAttribute(`meta[property="${p}"]`, 'content');
    assert.equal(await og('og:type'), 'article', `${postUrl} has og:type article`);
    assert.ok((await og('og:title')).includes(NAME), `${postUrl} has an og:title naming ${NAME}`);
    assert.ok((await og('og:description')).includes('Hello #pipittest'), `${postUrl} has the text in og:description`);
    assert.equal(await og('og:url'), postUrl, `${postUrl} has itself as og:url`);
    assert.ok(await og('og:image'), `${postUrl} has an og:image`);
    assert.equal(await pub.locator('article.post-full', { hasText: 'Hello' }).count(), 1, 'the post page shows the post in full');
  });

  await step(t, 'edit the post through its Edit link', async () => {
    await page.goto(postUrl);
    await page.locator('article.post-full').getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL(`${postUrl}/edit`);
    assert.equal(await page.inputValue('textarea[name=content]'), HELLO, 'the edit form holds the text as written');
    await page.fill('textarea[name=content]', 'Hello #pipittest, now edited');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/done=saved/);
    const full = page.locator('article.post-full');
    assert.ok((await full.innerText()).includes('Hello #pipittest, now edited'), 'after saving, the post page shows the new text');
    assert.ok(await full.locator('.edited', { hasText: 'edited' }).isVisible(), 'after saving, the post is marked "edited"');
    await pub.goto(postUrl);
    assert.ok((await pub.locator('article.post-full').innerText()).includes('now edited'), 'logged out, the post page shows the new text too');
  });

  await step(t, 'delete the post, accepting the confirm() dialog', async () => {
    await page.goto(postUrl);
    const seen = [];
    const accept = d => { seen.push(d.type()); d.accept().catch(() => {}); };
    page.on('dialog', accept);
    await page.locator('article.post-full form[action$="/delete"]').getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/done=deleted/);
    page.off('dialog', accept);
    assert.deepEqual(seen, ['confirm'], 'clicking Delete asked with a confirm() dialog first');
    const gone = await anon.request.get(postUrl);
    assert.equal(gone.status(), 410, `GET ${postUrl} after deleting is 410 Gone (got ${gone.status()})`);
    await pub.goto(profile);
    assert.equal(await pub.locator('article.post', { hasText: 'Hello' }).count(), 0, 'after deleting, the post is no longer on the public profile');
    assert.equal(await pub.locator('details.cw', { hasText: 'spoilers' }).count(), 1, 'the other posts are still there');
    assert.ok(!(await (await anon.request.get(`${profile}.atom`)).text()).includes('pipittest'), 'after deleting, the Atom feed no longer has the post');
  });

  await step(t, 'no page ever opened an unexpected dialog', async () => {
    const unexpected = dialogs.filter(d => !(d.type === 'confirm' && d.message.includes('Delete')));
    assert.deepEqual(unexpected, [], 'no alert() or other dialog came from any page');
    await owner.close();
    await anon.close();
  });
});

test('SIGTERM shuts pipit down cleanly with exit code 0', async () => {
  assert.equal(serverExit, null, `pipit is still running before SIGTERM\n${tail()}`);
  let timer;
  const code = await Promise.race([
    new Promise(ok => server.once('exit', (c, sig) => ok(c ?? sig))),
    new Promise(ok => { timer = setTimeout(ok, 15000, 'still running 15 s after SIGTERM'); }),
    Promise.resolve().then(() => { server.kill('SIGTERM'); return new Promise(() => {}); }),
  ]);
  clearTimeout(timer);
  assert.equal(code, 0, `after SIGTERM pipit exits with code 0 (got ${code})\n--- pipit output (tail) ---\n${tail()}`);
});

// examples/webapp in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core) against a 3-node Sesh cluster: run by
// tools/browser_test.sh. Each test uses its own browser contexts (cookie
// jars); they run in order and share the cluster.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Harness, root } from './harness.mjs';

const SESSION = '__Host-sesh';
const PREFS = '__Host-prefs';
const ABSOLUTE_TTL_S = 8 * 3600;  // the app's default --absolute_ttl_ms
const outDir = process.env.SESH_BROWSER_OUT || path.join(root, 'tests/browser/out');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let h;
let browser;
let failed = false;

before(async () => {
  h = await Harness.start({ idleTimeoutMs: 2000 });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
}, { timeout: 90000 });

after(async () => {
  if (browser) await browser.close();
  if (h) {
    await h.stop();
    if (failed) console.log(`# logs kept in ${h.logs()}`);
    else fs.rmSync(h.logs(), { recursive: true, force: true });
  }
});

// A wrapper that remembers a failure, so the logs are kept.
function scenario(name, fn) {
  test(name, { timeout: 60000 }, async (t) => {
    try { await fn(t); } catch (e) { failed = true; throw e; }
  });
}

async function newContext(device) {
  return browser.newContext({ ignoreHTTPSErrors: true, userAgent: `Sesh browser test (${device})` });
}

// Signs in on `base`; returns the page (showing the home page) and the
// Set-Cookie header of the POST /login response.
async function login(context, base, { user = 'alice', password = 'alice-demo-pw', remember = false } = {}) {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  if (remember) await page.check('#remember');
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
    page.click('#login button[type=submit]'),
  ]);
  await page.waitForSelector('#name');
  return { page, setCookie: await resp.headerValue('set-cookie') };
}

async function cookie(context, name) {
  return (await context.cookies()).find((c) => c.name === name);
}

// GET / with only the given Cookie header, as a plain HTTP client would.
function plainGet(url, cookieHeader) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, {
      ca: fs.readFileSync(path.join(h.tls, 'ca.pem')),
      headers: { Cookie: cookieHeader },
      timeout: 10000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

scenario('login shows the name; the session cookie is HttpOnly, Secure, Lax, host-only', async () => {
  const context = await newContext('laptop');
  const { page, setCookie } = await login(context, h.main);
  assert.equal(await page.textContent('#name'), 'Alice Liddell');
  // The header as sent: __Host- name, Path=/, no Domain, no Max-Age.
  const sent = setCookie.split('\n').find((c) => c.startsWith(`${SESSION}=`));
  assert.match(sent, /^__Host-sesh=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
  // As the browser keeps it.
  const c = await cookie(context, SESSION);
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, 'Lax');
  assert.equal(c.path, '/');
  assert.equal(c.domain, 'localhost');
  assert.equal(c.expires, -1);  // a session cookie
  // Invisible to the page's JavaScript.
  const visible = await page.evaluate(() => document.cookie);
  assert.ok(!visible.includes(SESSION), `document.cookie: ${visible}`);
  assert.ok(!visible.includes(c.value));
  fs.mkdirSync(outDir, { recursive: true });
  await page.setViewportSize({ width: 900, height: 520 });
  await page.screenshot({ path: path.join(outDir, 'webapp.png') });
  if (process.env.SESH_UPDATE_SCREENSHOT === '1') {
    fs.copyFileSync(path.join(outDir, 'webapp.png'), path.join(root, 'docs/img/webapp.png'));
  }
  await context.close();
});

scenario('remember me gives a persistent cookie that ends by the absolute deadline', async () => {
  const context = await newContext('remembered');
  const { setCookie } = await login(context, h.main, { remember: true });
  const sent = setCookie.split('\n').find((c) => c.startsWith(`${SESSION}=`));
  const maxAge = Number(/; Max-Age=(\d+);/.exec(sent)[1]);
  assert.ok(maxAge <= ABSOLUTE_TTL_S && maxAge >= ABSOLUTE_TTL_S - 60, sent);
  const c = await cookie(context, SESSION);
  assert.ok(c.expires > Date.now() / 1000 + ABSOLUTE_TTL_S - 120);
  assert.ok(c.expires <= Date.now() / 1000 + ABSOLUTE_TTL_S + 1);
  await context.close();
});

scenario('a tampered preferences cookie is reset without an error page', async () => {
  const context = await newContext('prefs');
  const { page } = await login(context, h.main);
  await page.click('#prefs button[type=submit]');
  await page.waitForSelector('body.dark');
  const prefs = await cookie(context, PREFS);
  assert.ok(prefs, 'no preferences cookie');
  assert.equal(prefs.httpOnly, true);
  // Forge a later expiry under the original MAC.
  const [, payload, mac] = prefs.value.split('.');
  const bytes = Buffer.from(payload, 'base64url');
  bytes.writeBigUInt64BE(BigInt(Date.now() + 10 * 365 * 86400000), 0);
  const forged = `v1.${bytes.toString('base64url')}.${mac}`;
  await context.addCookies([{ name: PREFS, value: forged, url: `${h.main}/`, secure: true, httpOnly: true, sameSite: 'Lax' }]);
  assert.equal((await cookie(context, PREFS)).value, forged);
  const resp = await page.goto(`${h.main}/`);
  assert.equal(resp.status(), 200);
  assert.equal(await page.textContent('#name'), 'Alice Liddell');
  assert.equal(await page.getAttribute('body', 'class'), 'light');
  assert.equal(await cookie(context, PREFS), undefined);
  await context.close();
});

scenario('after logout the old cookie, replayed by a plain HTTP client, gets the logged-out page', async () => {
  const context = await newContext('logout');
  const { page } = await login(context, h.main);
  const old = (await cookie(context, SESSION)).value;
  const live = await plainGet(`${h.main}/`, `${SESSION}=${old}`);
  assert.equal(live.status, 200);
  assert.match(live.body, /Signed in as <b id="name">Alice Liddell<\/b>/);
  await page.click('#logout button[type=submit]');
  await page.waitForSelector('#login');
  assert.notEqual((await cookie(context, SESSION))?.value, old);
  const replay = await plainGet(`${h.main}/`, `${SESSION}=${old}`);
  assert.equal(replay.status, 200);
  assert.match(replay.body, /You are signed out\./);
  assert.doesNotMatch(replay.body, /Alice/);
  await context.close();
});

scenario('"log out other devices" from one browser logs the others out on their next request', async () => {
  const laptop = await newContext('laptop');
  const phone = await newContext('phone');
  const tablet = await newContext('tablet');
  const a = (await login(laptop, h.main)).page;
  const b = (await login(phone, h.main)).page;
  const c = (await login(tablet, h.main)).page;
  await a.goto(`${h.main}/devices`);
  const rows = await a.$$eval('tr.device', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.some((r) => r.includes('(laptop)') && r.includes('(this device)')), rows.join('|'));
  assert.ok(rows.some((r) => r.includes('(phone)')) && rows.some((r) => r.includes('(tablet)')));
  // The page names sessions by handle only, never by id.
  const ids = await Promise.all([laptop, phone, tablet].map(async (x) => (await cookie(x, SESSION)).value));
  const html = await a.content();
  for (const id of ids) assert.ok(!html.includes(id));
  // One device: the tablet.
  await a.click('tr.device:has-text("(tablet)") button');
  await a.waitForURL(`${h.main}/devices`);
  await c.reload();
  assert.ok(await c.isVisible('#login'));
  // All others: the phone (and any other session of alice's).
  await a.click('#logout-others button');
  await a.waitForSelector('#ended');
  assert.match(await a.textContent('#ended'), /^Logged out [1-9]\d* other device\(s\)\.$/);
  assert.equal(await a.$$eval('tr.device', (trs) => trs.length), 1);
  await b.reload();
  assert.ok(await b.isVisible('#login'));
  assert.match(await b.textContent('#status'), /signed out/);
  await a.goto(`${h.main}/`);
  assert.equal(await a.textContent('#name'), 'Alice Liddell');
  await Promise.all([laptop.close(), phone.close(), tablet.close()]);
});

scenario('after the idle timeout the user is logged out (plain HTTP on localhost)', async () => {
  const context = await newContext('idle');
  const { page } = await login(context, h.idle);
  assert.equal(await page.textContent('#name'), 'Alice Liddell');
  const c = await cookie(context, SESSION);
  assert.equal(c.secure, true);
  await sleep(h.idleTimeoutMs + 1000);
  await page.reload();
  assert.ok(await page.isVisible('#login'));
  assert.match(await page.textContent('#status'), /signed out/);
  await context.close();
});

scenario('kill -9 of the node that owns the session: the user stays logged in', async () => {
  const context = await newContext('failover');
  const { page } = await login(context, h.main);
  const id = (await cookie(context, SESSION)).value;
  const ring = await h.ring(id);
  const owner = ring.preference_list[0];
  await h.killNode(owner);
  const resp = await page.reload();
  assert.equal(resp.status(), 200);
  assert.equal(await page.textContent('#name'), 'Alice Liddell');
  // And on: a later request, and the devices page (every node asked).
  await page.goto(`${h.main}/devices`);
  assert.ok(await page.isVisible('tr.device .current'));
  await context.close();
});

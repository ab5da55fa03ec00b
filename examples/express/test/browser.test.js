'use strict';
// The example app in headless Chromium (Debian's), against a real 3-node
// cluster: sign in, reload, sign out, replay the old cookie.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { SeshClient, SeshStore } = require('sesh-client');
const { startCluster } = require(path.join(__dirname, '..', '..', '..', 'client', 'node', 'test', 'cluster.js'));
const { createApp } = require('..');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

test('sign in, reload, sign out, replay the old cookie', { skip: !fs.existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async (t) => {
  const cluster = await startCluster();
  const opts = { seeds: cluster.seeds, tlsCaFile: cluster.caFile, tlsServerName: 'localhost', token: cluster.token('test') };
  const client = await SeshClient.connect(opts);
  const store = new SeshStore({ client, namespace: 'test' });
  const server = createApp({ store, secret: 'browser-test' }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  t.after(async () => {
    await browser.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    client.close();
    await cluster.stop();
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const sidCookie = async () => (await context.cookies()).find((c) => c.name === 'sid');
  const idOf = (c) => decodeURIComponent(c.value).slice(2).split('.')[0];

  await page.goto(base + '/');
  assert.strictEqual(await page.textContent('#who'), 'Not signed in');
  assert.strictEqual(await sidCookie(), undefined);  // saveUninitialized: false

  await page.click('#add');
  assert.strictEqual(await page.textContent('#cart'), '1');
  const anonymous = await sidCookie();
  assert.ok(anonymous);
  assert.strictEqual((await client.get('test', idOf(anonymous), { touch: false })).attributes.cart.toString(), '1');

  await page.fill('#user', 'alice');
  await Promise.all([page.waitForNavigation(), page.click('#login')]);
  assert.strictEqual(await page.textContent('#who'), 'Signed in as alice');
  const signedIn = await sidCookie();
  assert.notStrictEqual(idOf(signedIn), idOf(anonymous));
  await assert.rejects(client.get('test', idOf(anonymous)), { code: 'NOT_FOUND' });  // rotated

  await page.reload();
  assert.strictEqual(await page.textContent('#who'), 'Signed in as alice');
  await page.click('#add');
  assert.strictEqual(await page.textContent('#cart'), '1');  // regenerate starts empty

  await Promise.all([page.waitForNavigation(), page.click('#logout')]);
  assert.strictEqual(await page.textContent('#who'), 'Not signed in');
  assert.strictEqual(await sidCookie(), undefined);
  await assert.rejects(client.get('test', idOf(signedIn)), { code: 'NOT_FOUND' });

  // The old cookie, replayed, names a destroyed session: signed out.
  await context.addCookies([signedIn]);
  await page.goto(base + '/');
  assert.strictEqual(await page.textContent('#who'), 'Not signed in');
  await context.close();
});

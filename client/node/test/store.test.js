'use strict';
// SeshStore with express-session over plain node:http, against a real
// 3-node cluster.
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const session = require('express-session');
const { startCluster } = require('./cluster');
const { SeshClient, SeshStore } = require('..');

const NS = 'test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An app: GET /set?k=&v=[&delay=] sets a field, /get reads the session,
// /login regenerates and sets user, /logout destroys, /noop reads nothing.
function serve(store, options) {
  const mw = store.middleware(session, { secret: 'test-secret', resave: false,
    saveUninitialized: false, ...options });
  const server = http.createServer((req, res) => {
    mw(req, res, async (err) => {
      const url = new URL(req.url, 'http://x');
      const q = Object.fromEntries(url.searchParams);
      const reply = (e, body) => {
        if (e) { res.statusCode = 500; return res.end(String(e.code || e.message)); }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body === undefined ? { id: req.sessionID, session: req.session } : body));
      };
      if (err) return reply(err);
      if (q.delay) await sleep(Number(q.delay));
      switch (url.pathname) {
        case '/set': req.session[q.k] = q.v; return reply();
        case '/del': delete req.session[q.k]; return reply();
        case '/login':
          return req.session.regenerate((e) => {
            if (e) return reply(e);
            req.session.user = q.user;
            req.session.save((e2) => reply(e2));
          });
        case '/logout': return req.session.destroy((e) => reply(e, { ok: true }));
        default: return reply();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${server.address().port}`;
    // fetch with one cookie; returns { status, body, cookie (new or old) }.
    const get = async (path, cookie) => {
      const res = await fetch(base + path, { headers: cookie ? { cookie } : {} });
      const set = res.headers.get('set-cookie');
      return { status: res.status, body: await res.json().catch(() => null), cookie: set ? set.split(';')[0] : cookie, setCookie: set };
    };
    resolve({ get, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}

test('SeshStore with express-session', async (t) => {
  const cluster = await startCluster();
  const client = await SeshClient.connect({ seeds: cluster.seeds, tlsCaFile: cluster.caFile,
    tlsServerName: 'localhost', token: cluster.token('test') });
  const store = new SeshStore({ client, namespace: NS });
  const app = await serve(store, { cookie: { maxAge: 60000 } });
  t.after(async () => { await app.close(); client.close(); await cluster.stop(); });
  const cb = (fn) => new Promise((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
  const sidOf = (cookie) => decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];

  await t.test('get: missing, malformed and destroyed sessions are undefined', async () => {
    assert.strictEqual(await cb((d) => store.get(Buffer.alloc(32, 1).toString('base64url'), d)), undefined);
    assert.strictEqual(await cb((d) => store.get('nonsense', d)), undefined);
    const s = await client.create(NS, { idleTimeoutMs: 60000, attributes: { n: '5', raw: 'plain text' } });
    const data = await cb((d) => store.get(s.id, d));
    assert.deepStrictEqual({ n: data.n, raw: data.raw }, { n: 5, raw: 'plain text' });
    assert.strictEqual(data.cookie.originalMaxAge, 60000);
    await cb((d) => store.destroy(s.id, d));
    assert.strictEqual(await cb((d) => store.get(s.id, d)), undefined);
  });

  await t.test('set sends per-field updates and removes; touch slides expiry', async () => {
    const s = await client.create(NS, { idleTimeoutMs: 60000, attributes: { keep: '"k"', gone: '1' } });
    const data = await cb((d) => store.get(s.id, d));
    delete data.gone;
    data.added = { nested: [1, 2] };
    await cb((d) => store.set(s.id, data, d));
    const after = await client.get(NS, s.id, { touch: false });
    assert.deepStrictEqual(Object.keys(after.attributes).sort(), ['added', 'cookie', 'keep']);
    assert.strictEqual(after.attributes.added.toString(), '{"nested":[1,2]}');
    await sleep(700);  // > 1% of the idle timeout, so the touch is recorded
    await cb((d) => store.touch(s.id, data, d));
    const touched = await client.get(NS, s.id, { touch: false });
    assert.ok(touched.lastAccessMs > after.lastAccessMs);
    // Touch of a session that is gone is no error.
    await cb((d) => store.touch(Buffer.alloc(32, 2).toString('base64url'), {}, d));
    // set of a session that is gone is NOT_FOUND, never a recreation.
    await cb((d) => store.destroy(s.id, d));
    await assert.rejects(cb((d) => store.set(s.id, data, d)), { code: 'NOT_FOUND' });
  });

  await t.test('ids come from Sesh; cookie maxAge is the idle timeout', async () => {
    const r = await app.get('/set?k=a&v=1');
    assert.ok(r.setCookie);
    const s = await client.get(NS, sidOf(r.cookie), { touch: false });
    assert.strictEqual(s.idleTimeoutMs, 60000);
    assert.strictEqual(s.attributes.a.toString(), '"1"');
    const again = await app.get('/get', r.cookie);
    assert.strictEqual(again.body.session.a, '1');
    assert.strictEqual(again.setCookie, null);  // not rolling, not modified
  });

  await t.test('an unmodified request sends no update (resave: false)', async () => {
    const r = await app.get('/set?k=a&v=1');
    const v1 = (await client.get(NS, sidOf(r.cookie), { touch: false })).version;
    await app.get('/get', r.cookie);
    const v2 = (await client.get(NS, sidOf(r.cookie), { touch: false })).version;
    assert.strictEqual(v2, v1);
  });

  await t.test('concurrent requests changing different fields keep both', async () => {
    const r = await app.get('/set?k=base&v=0');
    await Promise.all([
      app.get('/set?k=a&v=A&delay=150', r.cookie),
      app.get('/set?k=b&v=B&delay=10', r.cookie),
    ]);
    const s = (await app.get('/get', r.cookie)).body.session;
    assert.deepStrictEqual([s.base, s.a, s.b], ['0', 'A', 'B']);
  });

  await t.test('regenerate rotates: the old id stops working', async () => {
    const r = await app.get('/set?k=cart&v=3');
    const login = await app.get('/login?user=alice', r.cookie);
    assert.notStrictEqual(sidOf(login.cookie), sidOf(r.cookie));
    await assert.rejects(client.get(NS, sidOf(r.cookie)), { code: 'NOT_FOUND' });
    const s = await client.get(NS, sidOf(login.cookie), { touch: false });
    assert.deepStrictEqual(Object.keys(s.attributes).sort(), ['cookie', 'user']);
    const me = await app.get('/get', login.cookie);
    assert.strictEqual(me.body.session.user, 'alice');
    // Replaying the pre-login cookie gets a new anonymous session.
    const replay = await app.get('/get', r.cookie);
    assert.strictEqual(replay.body.session.user, undefined);
    assert.notStrictEqual(replay.body.id, sidOf(r.cookie));
  });

  await t.test('destroy logs out for good', async () => {
    const login = await app.get('/login?user=bob');
    const out = await app.get('/logout', login.cookie);
    assert.strictEqual(out.status, 200);
    await assert.rejects(client.get(NS, sidOf(login.cookie)), { code: 'NOT_FOUND' });
    const replay = await app.get('/get', login.cookie);
    assert.strictEqual(replay.body.session.user, undefined);
  });

  await t.test('expiry after the cookie maxAge of inactivity; access keeps it alive', async () => {
    const short = await serve(store, { cookie: { maxAge: 500 } });
    try {
      const r = await short.get('/set?k=a&v=1');
      for (let i = 0; i < 4; i++) {
        await sleep(250);
        assert.strictEqual((await short.get('/get', r.cookie)).body.session.a, '1');
      }
      await sleep(700);
      await assert.rejects(client.get(NS, sidOf(r.cookie)), { code: 'NOT_FOUND' });
      assert.strictEqual((await short.get('/get', r.cookie)).body.session.a, undefined);
    } finally { await short.close(); }
  });

  await t.test('rolling: the cookie is set on every response', async () => {
    const rolling = await serve(store, { rolling: true, cookie: { maxAge: 60000 } });
    try {
      const r = await rolling.get('/set?k=a&v=1');
      const again = await rolling.get('/get', r.cookie);
      assert.ok(again.setCookie && again.setCookie.includes(encodeURIComponent('s:' + sidOf(r.cookie)).slice(0, 20)));
    } finally { await rolling.close(); }
  });

  await t.test('errors other than a missing session reach express-session', async () => {
    const dead = new SeshStore({ namespace: NS, seeds: ['127.0.0.1:1'], tlsCaFile: cluster.caFile,
      token: 'x', deadlineMs: 300, maxAttempts: 1 });
    await assert.rejects(cb((d) => dead.get(Buffer.alloc(32, 3).toString('base64url'), d)),
      (e) => e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED');
    dead.close();
    const plain = session({ secret: 's', store: new SeshStore({ client, namespace: NS }), resave: false, saveUninitialized: true });
    assert.ok(typeof plain === 'function');
  });

  await t.test('genid outside store.middleware is a clear error', () => {
    assert.throws(() => store._genid({}), /store\.middleware/);
  });
});

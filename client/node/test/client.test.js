'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { startCluster } = require('./cluster');
const { SeshClient, SeshError } = require('..');

test('SeshClient against a 3-node cluster', async (t) => {
  const cluster = await startCluster();
  const opts = { seeds: cluster.seeds, tlsCaFile: cluster.caFile, tlsServerName: 'localhost' };
  const client = await SeshClient.connect({ ...opts, token: cluster.token('test') });
  const admin = await SeshClient.connect({ ...opts, token: cluster.token('admin') });
  t.after(async () => { client.close(); admin.close(); await cluster.stop(); });

  await t.test('create, get, update, touch, rotate, destroy', async () => {
    const s = await client.create('test', { idleTimeoutMs: 60000, attributes: { a: '1' } });
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    const got = await client.get('test', s.id);
    assert.strictEqual(got.attributes.a.toString(), '1');
    const u = await client.update('test', s.id, { set: { b: '2' }, remove: ['a'] });
    assert.deepStrictEqual(Object.keys(u.attributes), ['b']);
    assert.ok(BigInt(u.version) > BigInt(s.version));
    assert.ok(await client.touch('test', s.id) >= s.expiresAtMs);
    const r = await client.rotate('test', s.id);
    assert.notStrictEqual(r.id, s.id);
    assert.strictEqual(r.attributes.b.toString(), '2');
    await assert.rejects(client.get('test', s.id), { code: 'NOT_FOUND' });
    await client.destroy('test', r.id);
    await client.destroy('test', r.id);  // idempotent
    await assert.rejects(client.get('test', r.id), { code: 'NOT_FOUND' });
  });

  await t.test('errors keep their gRPC codes', async () => {
    await assert.rejects(client.get('test', 'not-an-id'), (e) => e instanceof SeshError && e.code === 'INVALID_ARGUMENT');
    await assert.rejects(client.create('test', { idleTimeoutMs: 0 }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(client.create('other', { idleTimeoutMs: 1000 }), { code: 'PERMISSION_DENIED' });
    const s = await client.create('test', { idleTimeoutMs: 60000 });
    await assert.rejects(client.update('test', s.id, { set: { x: '1' }, expectedVersion: '1' }), { code: 'ABORTED' });
    const stranger = new SeshClient({ ...opts, token: 'wrong' });
    await assert.rejects(stranger.get('test', s.id), { code: 'UNAUTHENTICATED' });
    stranger.close();
  });

  await t.test('concurrent Gets are batched and go to the primary', async () => {
    const before = await Promise.all(['n1', 'n2', 'n3'].map((n) => admin.nodeStats(n)));
    const made = await Promise.all(Array.from({ length: 120 }, (_, i) =>
      client.create('test', { idleTimeoutMs: 60000, attributes: { i: String(i) } })));
    const got = await client.batchGet('test', made.map((s) => s.id).concat([Buffer.alloc(32, 9).toString('base64url')]));
    made.forEach((s, i) => assert.strictEqual(got[i].attributes.i.toString(), String(i)));
    assert.strictEqual(got[120].code, 'NOT_FOUND');
    const after = await Promise.all(['n1', 'n2', 'n3'].map((n) => admin.nodeStats(n)));
    const forwarded = after.reduce((a, s, i) => a + s.requestsForwarded - before[i].requestsForwarded, 0);
    assert.strictEqual(forwarded, 0);
    for (const s of made) assert.strictEqual(typeof client.ownerOf(s.id), 'string');
  });

  await t.test('an epoch change refreshes the topology', async () => {
    const router = client._router;
    const at = router._lastRefreshAt;
    await new Promise((r) => setTimeout(r, 120));
    router.noteEpoch('12345');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(router._lastRefreshAt > at);
    assert.notStrictEqual(router.epoch(), '12345');
  });

  await t.test('idle timeout expires a session', async () => {
    const s = await client.create('test', { idleTimeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 450));
    await assert.rejects(client.get('test', s.id), { code: 'NOT_FOUND' });
  });

  await t.test('Gets fail over when a node dies', async () => {
    const made = await Promise.all(Array.from({ length: 30 }, () =>
      client.create('test', { idleTimeoutMs: 60000 })));
    process.kill(cluster.pids[0], 'SIGKILL');
    const slow = new SeshClient({ ...opts, token: cluster.token('test'), deadlineMs: 6000 });
    const got = await Promise.all(made.map((s) => slow.get('test', s.id)));
    assert.strictEqual(got.length, 30);
    slow.close();
  });
});

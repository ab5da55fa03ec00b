'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { partitionOf, xxh3of32, rawId } = require('../lib/partition');

// Vectors from libxxhash's XXH3_64bits (Debian's libxxhash-dev).
test('xxh3of32 matches libxxhash on 32-byte inputs', () => {
  const want = ['9fca2bddeea9e678', '4ca86858e7796e3b', '4cc9d17ef4018dd7', '07566418fd9b9bba'];
  want.forEach((hex, t) => {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) b[i] = (i * 37 + t * 101 + 7) & 255;
    assert.strictEqual(xxh3of32(b).toString(16).padStart(16, '0'), hex);
  });
});

test('partitionOf of malformed ids is -1', () => {
  assert.strictEqual(partitionOf('short'), -1);
  assert.strictEqual(partitionOf('A'.repeat(44)), -1);
  assert.strictEqual(partitionOf('!'.repeat(43)), -1);
  // Non-canonical last character (unused low bits set).
  assert.strictEqual(rawId('A'.repeat(42) + 'B'), null);
  const id = Buffer.alloc(32, 7).toString('base64url');
  const p = partitionOf(id);
  assert.ok(p >= 0 && p < (1 << 19));
});

'use strict';
// Which partition a session id falls in: XXH3_64bits(raw id, seed 0) mod
// 2^19, as replication/placement.h computes it. Session ids are 43-char
// base64url strings of 32 raw bytes, so only XXH3's 17..128-byte path (at
// exactly 32 bytes) is needed.

const MASK64 = (1n << 64n) - 1n;
const PRIME64_1 = 0x9E3779B185EBCA87n;
// The first 32 bytes of XXH3's default secret (kSecret).
const SECRET = Buffer.from([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
  0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
]);
const ID_RE = /^[A-Za-z0-9_-]{43}$/;
const DEFAULT_PARTITION_COUNT = 1 << 19;

function mul128Fold64(a, b) {
  const p = a * b;
  return (p & MASK64) ^ (p >> 64n);
}

function mix16(input, offset, secretOffset) {
  const lo = input.readBigUInt64LE(offset) ^ SECRET.readBigUInt64LE(secretOffset);
  const hi = input.readBigUInt64LE(offset + 8) ^ SECRET.readBigUInt64LE(secretOffset + 8);
  return mul128Fold64(lo, hi);
}

// XXH3_64bits of exactly 32 bytes, seed 0.
function xxh3of32(input) {
  let acc = (32n * PRIME64_1) & MASK64;
  acc = (acc + mix16(input, 0, 0)) & MASK64;
  acc = (acc + mix16(input, 16, 16)) & MASK64;
  acc ^= acc >> 37n;
  acc = (acc * 0x165667919E3779F9n) & MASK64;
  acc ^= acc >> 32n;
  return acc;
}

// The 32 raw bytes of a well-formed id, or null.
function rawId(id) {
  if (typeof id !== 'string' || !ID_RE.test(id)) return null;
  const raw = Buffer.from(id, 'base64url');
  // The last char carries 4 unused bits; a non-canonical one is not an id.
  if (raw.length !== 32 || raw.toString('base64url') !== id) return null;
  return raw;
}

// The partition of `id`, or -1 when it is not a well-formed id.
function partitionOf(id, partitionCount = DEFAULT_PARTITION_COUNT) {
  const raw = rawId(id);
  if (raw === null) return -1;
  return Number(xxh3of32(raw) % BigInt(partitionCount));
}

module.exports = { partitionOf, rawId, xxh3of32 };

#!/usr/bin/env node
'use strict';
// Closed-loop get+touch load from Node through sesh-client: preloads KEYS
// sessions (512-byte attribute, like sesh-load), then CONCURRENCY callers
// each run one Get (touching) at a time on random keys for DURATION s after
// a warm-up. Prints and writes JSON: ops/s, latency percentiles, errors,
// client CPU.
//   node bench/node_get_touch.js --seeds=127.0.0.1:7701 --ca=ca.pem \
//     --token_file=token.bench [--namespace=bench --keys=10000
//     --concurrency=64 --duration_s=10 --warmup_s=1 --keys_file=FILE
//     --json_out=FILE]

const fs = require('fs');
const path = require('path');
const { SeshClient } = require(path.join(__dirname, '..', 'client', 'node'));

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (!m) { console.error(`bad argument ${a}`); process.exit(2); }
  return [m[1], m[2]];
}));
const num = (k, d) => (args[k] !== undefined ? Number(args[k]) : d);
const ns = args.namespace || 'bench';
const keys = num('keys', 10000);
const concurrency = num('concurrency', 64);
const durationS = num('duration_s', 10);
const warmupS = num('warmup_s', 1);

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;
}

async function main() {
  const client = await SeshClient.connect({
    seeds: (args.seeds || '127.0.0.1:7701').split(','),
    tlsCaFile: args.ca, tokenFile: args.token_file, insecure: args.insecure === 'true',
    tlsServerName: args.tls_server_name,
  });
  const value = 'x'.repeat(512);
  let ids = [];
  // --keys_file: reuse the working set of an earlier run, else write it.
  if (args.keys_file && fs.existsSync(args.keys_file)) {
    ids = fs.readFileSync(args.keys_file, 'utf8').split('\n').filter(Boolean).slice(0, keys);
  }
  if (ids.length < keys) {
    ids = [];
    let next = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 128 }, async () => {
      while (next < keys) {
        next++;
        const s = await client.create(ns, { idleTimeoutMs: 1800 * 1000, attributes: { data: value } });
        ids.push(s.id);
      }
    }));
    process.stderr.write(`preloaded ${ids.length} sessions in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (args.keys_file) fs.writeFileSync(args.keys_file, ids.join('\n') + '\n');
  }

  let measuring = false;
  let stop = false;
  const lat = [];
  const errors = {};
  let cpu0 = null;
  let start = 0;
  const caller = async () => {
    while (!stop) {
      const id = ids[(Math.random() * ids.length) | 0];
      const t = process.hrtime.bigint();
      try {
        await client.get(ns, id, { touch: true });
        if (measuring) lat.push(Number(process.hrtime.bigint() - t) / 1000);
      } catch (e) {
        if (measuring) errors[e.code] = (errors[e.code] || 0) + 1;
      }
    }
  };
  const callers = Array.from({ length: concurrency }, caller);
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  measuring = true;
  cpu0 = process.cpuUsage();
  start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, durationS * 1000));
  measuring = false;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(callers);
  client.close();
  lat.sort((a, b) => a - b);
  const result = {
    client: 'node', node_version: process.version, keys, concurrency,
    duration_s: elapsed, ops: lat.length, ops_per_s: lat.length / elapsed,
    p50_us: percentile(lat, 0.5), p90_us: percentile(lat, 0.9), p99_us: percentile(lat, 0.99),
    errors, client_cpu_cores: (cpu.user + cpu.system) / 1e6 / elapsed,
  };
  const text = JSON.stringify(result, null, 1);
  console.log(text);
  if (args.json_out) fs.writeFileSync(args.json_out, text + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });

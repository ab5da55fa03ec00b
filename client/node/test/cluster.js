'use strict';
// A real local Sesh cluster for tests: sesh-node processes from the Bazel
// build on free loopback ports, with throw-away TLS material and tokens from
// tools/gen_certs.sh, in a temp dir. stop() ends exactly the processes it
// started (by PID) and removes the dir.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const NODE_BIN = process.env.SESH_NODE_BIN || path.join(ROOT, 'bazel-bin', 'node', 'sesh-node');
const started = new Set();
process.on('exit', () => { for (const p of started) { try { p.kill('SIGKILL'); } catch (_) { /* gone */ } } });

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startCluster({ nodes = 3, flags = [] } = {}) {
  if (!fs.existsSync(NODE_BIN)) {
    throw new Error(`${NODE_BIN} missing: bazel build //node:sesh-node`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sesh-node-test-'));
  const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const tls = path.join(dir, 'tls');
  execFileSync('bash', [path.join(ROOT, 'tools', 'gen_certs.sh'), tls, ...ids]);
  const ports = [];
  while (ports.length < 2 * nodes) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const members = ids.map((id, i) => ({
    id, client: `127.0.0.1:${ports[2 * i]}`, peer: `127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const peers = members.map((m) => `${m.id}=${m.client}/${m.peer}`).join(',');
  const procs = [];
  for (const m of members) {
    const log = fs.openSync(path.join(dir, `${m.id}.log`), 'a');
    const proc = spawn(NODE_BIN, [
      `--node_id=${m.id}`, `--listen=${m.client}`, `--peer_listen=${m.peer}`,
      `--tls_cert=${tls}/${m.id}.pem`, `--tls_key=${tls}/${m.id}.key`,
      `--cluster_ca=${tls}/ca.pem`, `--token_file=${tls}/tokens`,
      `--data_dir=${dir}/${m.id}`, `--peers=${peers}`,
      `--port_file=${dir}/${m.id}.port`, '--drain_timeout_ms=200', ...flags,
    ], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    started.add(proc);
    proc.on('exit', () => started.delete(proc));
    procs.push(proc);
  }
  const cluster = {
    dir,
    seeds: members.map((m) => m.client),
    caFile: `${tls}/ca.pem`,
    token: (name) => fs.readFileSync(`${tls}/token.${name}`, 'utf8').trim(),
    tokenFile: (name) => `${tls}/token.${name}`,
    pids: procs.map((p) => p.pid),
    async stop() {
      await Promise.all(procs.map((p) => new Promise((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        p.once('exit', () => { clearTimeout(t); resolve(); });
        p.kill('SIGTERM');
      })));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const until = Date.now() + 30000;
  for (const m of members) {
    while (!fs.existsSync(`${dir}/${m.id}.port`)) {
      if (Date.now() > until || procs.some((p) => p.exitCode !== null)) {
        const logs = ids.map((id) => fs.readFileSync(`${dir}/${id}.log`, 'utf8').slice(-2000)).join('\n');
        await cluster.stop();
        throw new Error(`sesh-node ${m.id} did not start:\n${logs}`);
      }
      await sleep(50);
    }
  }
  return cluster;
}

module.exports = { startCluster, ROOT };

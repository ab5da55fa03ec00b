// Starts what the browser tests run against, on free loopback ports in a
// temp dir: a 3-node Sesh cluster (TLS, namespace tokens from
// tools/gen_certs.sh) and two instances of examples/webapp (HTTPS, and
// plain HTTP on localhost with a short idle timeout). Stops exactly the
// processes it started, by PID.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binDir = process.env.SESH_BIN_DIR || path.join(root, 'bazel-bin');
const bins = {
  node: path.join(binDir, 'node/sesh-node'),
  ctl: path.join(binDir, 'client/seshctl'),
  webapp: path.join(binDir, 'examples/webapp/sesh-webapp'),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const taken = new Set();

// A port the kernel says is free now (racy only against other processes).
async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) { taken.add(port); return port; }
  }
}

async function waitForFile(file, proc, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${what} did not start; see ${proc.logPath}`);
}

export class Harness {
  static async start({ idleTimeoutMs = 2000 } = {}) {
    for (const [name, bin] of Object.entries(bins)) {
      if (!fs.existsSync(bin)) throw new Error(`missing ${name} binary ${bin}: build it first`);
    }
    const h = new Harness();
    // A run cut short (timeout, Ctrl-C) still takes its children with it.
    const killAll = () => {
      for (const p of h.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    };
    process.once('exit', killAll);
    for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { killAll(); process.exit(1); });
    h.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sesh-browser-'));
    h.tls = path.join(h.dir, 'tls');
    await run('bash', [path.join(root, 'tools/gen_certs.sh'), h.tls, 'n1', 'n2', 'n3', 'webapp']);
    try {
      await h.startCluster();
      h.main = await h.startWebapp('main', { https: true, idleTimeoutMs: 600000 });
      h.idle = await h.startWebapp('idle', { https: false, idleTimeoutMs });
      h.idleTimeoutMs = idleTimeoutMs;
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  constructor() {
    this.procs = [];  // every child started, by name
    this.nodes = [];  // { id, port, peerPort, proc }
  }

  spawnLogged(name, bin, args) {
    const logPath = path.join(this.dir, `${name}.log`);
    const fd = fs.openSync(logPath, 'a');
    const proc = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    proc.logPath = logPath;
    proc.name = name;
    this.procs.push(proc);
    return proc;
  }

  async startCluster() {
    for (const id of ['n1', 'n2', 'n3']) {
      this.nodes.push({ id, port: await freePort(), peerPort: await freePort() });
    }
    const peers = this.nodes
      .map((n) => `${n.id}=127.0.0.1:${n.port}/127.0.0.1:${n.peerPort}`).join(',');
    for (const n of this.nodes) {
      const portFile = path.join(this.dir, `${n.id}.port`);
      n.proc = this.spawnLogged(n.id, bins.node, [
        `--node_id=${n.id}`, `--listen=127.0.0.1:${n.port}`,
        `--peer_listen=127.0.0.1:${n.peerPort}`, `--peers=${peers}`,
        `--data_dir=${path.join(this.dir, n.id)}`, `--port_file=${portFile}`,
        `--tls_cert=${this.tls}/${n.id}.pem`, `--tls_key=${this.tls}/${n.id}.key`,
        `--cluster_ca=${this.tls}/ca.pem`, `--token_file=${this.tls}/tokens`,
      ]);
      n.portFile = portFile;
    }
    for (const n of this.nodes) await waitForFile(n.portFile, n.proc, `node ${n.id}`);
    // Serving is not enough: wait until the nodes see each other up.
    const end = Date.now() + 30000;
    for (;;) {
      try {
        const ring = await this.ring();
        if (ring.nodes.length === 3 && ring.nodes.every((n) => n.up)) return;
      } catch (e) { /* not ready */ }
      if (Date.now() > end) throw new Error(`cluster not up; logs in ${this.dir}`);
      await sleep(200);
    }
  }

  addrs() { return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(','); }

  // seshctl ring [ID] --json, through the nodes still running.
  async ring(id) {
    const addrs = this.nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null)
      .map((n) => `127.0.0.1:${n.port}`).join(',');
    const args = [`--addr=${addrs}`, `--tls_ca=${this.tls}/ca.pem`,
      `--token_file=${this.tls}/token.admin`, '--json', 'ring'];
    if (id) args.push('--', id);  // an id may start with '-'
    const { stdout } = await run(bins.ctl, args, { timeout: 10000 });
    return JSON.parse(stdout);
  }

  async startWebapp(name, { https, idleTimeoutMs }) {
    const portFile = path.join(this.dir, `${name}.port`);
    const args = [
      '--listen=127.0.0.1:0', `--port_file=${portFile}`, `--sesh=${this.addrs()}`,
      `--tls_ca=${this.tls}/ca.pem`, `--token_file=${this.tls}/token.demo`,
      '--namespace=demo', `--idle_timeout_ms=${idleTimeoutMs}`,
    ];
    if (https) {
      args.push(`--https_cert=${this.tls}/webapp.pem`, `--https_key=${this.tls}/webapp.key`);
    }
    const proc = this.spawnLogged(`webapp-${name}`, bins.webapp, args);
    const port = await waitForFile(portFile, proc, `webapp ${name}`);
    return `${https ? 'https' : 'http'}://localhost:${port}`;
  }

  // kill -9 of node `id`, and waits until it is reaped.
  async killNode(id) {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    const exited = new Promise((r) => n.proc.once('exit', r));
    n.proc.kill('SIGKILL');
    await exited;
  }

  // SIGTERM to every child still running (SIGKILL after 5 s), by PID.
  async stop() {
    await Promise.all(this.procs.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }));
  }

  logs() { return this.dir; }
}

'use strict';
// SeshClient: a smart client for Sesh, routing each call to the session's
// primary like the C++ client (client/sesh/client.h: "Routing", "Retries").

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const { seshV1 } = require('./proto');
const { Router } = require('./router');
const { GetBatcher } = require('./get_batcher');
const { SeshError, fromGrpc, status } = require('./errors');

const EPOCH_KEY = 'x-sesh-epoch';
// Harmless to repeat: retried on UNAVAILABLE and attempt timeouts.
const IDEMPOTENT = new Set(['Get', 'BatchGet', 'Touch', 'Destroy', 'ListByUser',
  'DestroyByUser', 'Topology']);
const DURABILITY = {
  DEFAULT: 'DURABILITY_DEFAULT', ONE: 'ONE', QUORUM: 'QUORUM', ALL: 'ALL',
};
const MAX_DESTROY_ROUNDS = 64;

const DEFAULTS = {
  deadlineMs: 2000,
  maxAttempts: 3,
  initialBackoffMs: 10,
  maxBackoffMs: 200,
  coalesceGets: true,
  maxBatch: 64,
  maxBatchesInFlightPerNode: 1,
  maxQueuedGetsPerNode: 4096,
};

function readMaybe(value, file) {
  if (value != null) return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
  return file ? fs.readFileSync(file) : null;
}

function epochOf(metadata) {
  if (!metadata || typeof metadata.get !== 'function') return null;
  const v = metadata.get(EPOCH_KEY);
  return v.length > 0 ? String(v[0]) : null;
}

// A Session message as a plain object; times as numbers, version a string.
function toSession(s) {
  if (!s) return null;
  return {
    id: s.id,
    namespace: s.namespace,
    userId: s.userId,
    attributes: s.attributes || {},
    createdAtMs: Number(s.createdAtMs),
    lastAccessMs: Number(s.lastAccessMs),
    idleTimeoutMs: Number(s.idleTimeoutMs),
    absoluteDeadlineMs: Number(s.absoluteDeadlineMs),
    expiresAtMs: Number(s.expiresAtMs),
    version: String(s.version),
    handle: s.handle,
  };
}

function toBytesMap(attrs) {
  const out = {};
  for (const [k, v] of Object.entries(attrs || {})) {
    out[k] = Buffer.isBuffer(v) ? v : (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)));
  }
  return out;
}

function durabilityOf(d) {
  const v = DURABILITY[d || 'DEFAULT'];
  if (!v) throw new SeshError(status.INVALID_ARGUMENT, `unknown durability ${d}`);
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class SeshClient {
  // Connects: validates the options and fetches the topology from the seeds.
  static async connect(options) {
    const client = new SeshClient(options);
    try {
      await client.topology();
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  constructor(options) {
    const o = { ...DEFAULTS, ...options };
    if (!Array.isArray(o.seeds) || o.seeds.length === 0) {
      throw new SeshError(status.INVALID_ARGUMENT, 'seeds: at least one host:port');
    }
    if (!(o.deadlineMs > 0) || !(o.maxAttempts >= 1) || !(o.maxBatch >= 1)) {
      throw new SeshError(status.INVALID_ARGUMENT, 'deadlineMs, maxAttempts and maxBatch must be positive');
    }
    const ca = readMaybe(o.tlsCa, o.tlsCaFile);
    const cert = readMaybe(o.tlsCert, o.tlsCertFile);
    const key = readMaybe(o.tlsKey, o.tlsKeyFile);
    if (o.insecure) {
      if (ca || cert || key) throw new SeshError(status.INVALID_ARGUMENT, 'insecure excludes tls options');
      this._creds = grpc.credentials.createInsecure();
    } else {
      if (!ca) throw new SeshError(status.INVALID_ARGUMENT, 'tlsCa (or tlsCaFile) is required unless insecure');
      if (!cert !== !key) throw new SeshError(status.INVALID_ARGUMENT, 'tlsCert and tlsKey go together');
      this._creds = grpc.credentials.createSsl(ca, key, cert);
    }
    let token = o.token;
    if (token == null && o.tokenFile) token = fs.readFileSync(o.tokenFile, 'utf8').split('\n')[0].trim();
    if (token && !/^[\x21-\x7e]+$/.test(token)) {
      throw new SeshError(status.INVALID_ARGUMENT, 'token: visible ASCII only');
    }
    this._authorization = token ? `Bearer ${token}` : null;
    this._channelOptions = {
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.keepalive_time_ms': 30000,
    };
    if (o.tlsServerName) this._channelOptions['grpc.ssl_target_name_override'] = o.tlsServerName;
    this._o = o;
    this._conns = new Map();
    this._closed = false;
    this._connecting = null;
    this._router = new Router(o.seeds, (a) => this._conn(a), () => this._fetchTopology());
  }

  _metadata() {
    const md = new grpc.Metadata();
    if (this._authorization) md.set('authorization', this._authorization);
    return md;
  }

  _conn(address) {
    let c = this._conns.get(address);
    if (c) return c;
    const v1 = seshV1();
    const sessions = new v1.Sessions(address, this._creds, this._channelOptions);
    const channel = grpc.getClientChannel(sessions);
    const cluster = new v1.Cluster(address, this._creds, { channelOverride: channel });
    c = { address, sessions, cluster, channel, getter: null };
    c.getter = new GetBatcher({
      openStream: () => sessions.StreamGet(this._metadata()),
      maxBatch: this._o.maxBatch,
      maxInFlight: this._o.maxBatchesInFlightPerNode,
      maxQueued: this._o.maxQueuedGetsPerNode,
      onEpoch: (e) => this._router.noteEpoch(e),
      onBroken: (err, trailers) => {
        const epoch = epochOf(trailers);
        if (epoch !== null) this._router.noteEpoch(epoch);
        else if (err.code === 'UNAVAILABLE') this._nodeFailed(address);
      },
    });
    this._conns.set(address, c);
    return c;
  }

  _nodeFailed(address) {
    this._router.markSuspect(address);
    this._router.requestRefresh();
  }

  // One unary attempt: resolves to the response, rejects with the grpc
  // error; `epoch` of either is the node's trailer (null: no answer).
  _unary(conn, service, method, request, deadline) {
    return new Promise((resolve, reject) => {
      let result = null;
      const call = conn[service][method](request, this._metadata(), { deadline }, (err, res) => {
        if (err) {
          err.epoch = epochOf(err.metadata);
          reject(err);
        } else {
          result = res;
        }
      });
      call.on('status', (s) => {
        if (s.code !== 0) return;
        resolve({ response: result, epoch: epochOf(s.metadata) });
      });
    });
  }

  _attempt(conn, method, request, deadline) {
    if (method === 'Get' && this._o.coalesceGets) {
      return conn.getter.get(request.namespace, request.id, !request.skipTouch, deadline)
        .then((session) => ({ response: { session }, epoch: null }));
    }
    const service = method === 'Topology' ? 'cluster' : 'sessions';
    return this._unary(conn, service, method, request, deadline);
  }

  // A call with the C++ client's retry rules: idempotent calls retry on
  // UNAVAILABLE and attempt timeouts with backoff, each attempt on the next
  // candidate; other calls move on only when the request never left here.
  async _call(method, request, { partition = -1, bootstrap = false } = {}) {
    if (this._closed) throw new SeshError(status.CANCELLED, 'client closed');
    // A client made with `new` fetches its first topology on first use.
    if (!bootstrap && !this._router.table()) {
      if (!this._connecting) {
        this._connecting = this.topology().finally(() => { this._connecting = null; });
      }
      await this._connecting;
    }
    const o = this._o;
    const idempotent = IDEMPOTENT.has(method);
    const start = Date.now();
    const deadline = start + o.deadlineMs;
    const tried = new Set();
    let backoff = o.initialBackoffMs;
    let lastErr = null;
    for (let attempt = 0; attempt < o.maxAttempts; attempt++) {
      const list = bootstrap ? this._router.bootstrapCandidates() : this._router.candidates(partition);
      const conn = list.find((c) => !tried.has(c.address)) || list[0];
      tried.add(conn.address);
      const now = Date.now();
      if (now >= deadline) break;
      // Nothing is sent on a channel in TRANSIENT_FAILURE: try the next node.
      if (!idempotent && attempt < o.maxAttempts - 1 &&
          conn.channel.getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE) {
        lastErr = new SeshError(status.UNAVAILABLE, `no connection to ${conn.address}`);
        continue;
      }
      const last = attempt === o.maxAttempts - 1;
      const attemptDeadline = idempotent && !last
        ? Math.min(deadline, now + Math.ceil(o.deadlineMs / o.maxAttempts)) : deadline;
      try {
        const { response, epoch } = await this._attempt(conn, method, request, attemptDeadline);
        if (epoch !== null) this._router.noteEpoch(epoch);
        return response;
      } catch (err) {
        const epoch = err.epoch != null ? err.epoch : null;
        if (epoch !== null) this._router.noteEpoch(epoch);
        const e = fromGrpc(err);
        lastErr = e;
        const lost = e.grpcCode === status.UNAVAILABLE || e.grpcCode === status.DEADLINE_EXCEEDED;
        // No answer from the node (a stream Get error carries no trailer).
        if (lost && epoch === null && !err.answered) this._nodeFailed(conn.address);
        const neverSent = e.grpcCode === status.UNAVAILABLE && epoch === null &&
          /No connection established|failed to connect/i.test(e.message);
        if (neverSent) continue;
        if (!idempotent || !lost || Date.now() >= deadline) throw e;
        if (!last) {
          const pause = Math.min(backoff * (0.5 + Math.random() / 2), deadline - Date.now());
          if (pause > 0) await sleep(pause);
          backoff = Math.min(backoff * 2, o.maxBackoffMs);
        }
      }
    }
    if (lastErr && lastErr.grpcCode !== status.DEADLINE_EXCEEDED && Date.now() < deadline) throw lastErr;
    throw new SeshError(status.DEADLINE_EXCEEDED,
      `deadline of ${o.deadlineMs} ms exceeded${lastErr ? ': ' + lastErr.message : ''}`);
  }

  _sessionRoute(id) {
    const p = this._router.partitionOf(id);
    if (p < 0) throw new SeshError(status.INVALID_ARGUMENT, 'malformed session id');
    return { partition: p };
  }

  async _fetchTopology() {
    return this._call('Topology', { includePartitionMap: true }, { bootstrap: true });
  }

  // Fetches the topology and installs it for routing.
  async topology() {
    const r = await this._fetchTopology();
    this._router.install(r);
    return {
      epoch: String(r.epoch),
      nodes: r.nodes.map((n) => ({ id: n.id, address: n.address, up: n.up })),
      replicationFactor: r.replicationFactor,
      partitionCount: r.partitionCount,
      answeredBy: r.selfId,
    };
  }

  // The node id of the primary of `id`'s partition (no RPC).
  ownerOf(id) {
    const { partition } = this._sessionRoute(id);
    const t = this._router.table();
    return t.nodes[t.map[partition * t.rf]].id;
  }

  // Counters of node `nodeId` of the cached topology (admin token).
  async nodeStats(nodeId) {
    const t = this._router.table();
    const node = t && t.nodes.find((n) => n.id === nodeId);
    if (!node) throw new SeshError(status.NOT_FOUND, `no node ${nodeId} in the topology`);
    const deadline = Date.now() + this._o.deadlineMs;
    const { response } = await this._unary(this._conn(node.address), 'cluster', 'NodeStats', {}, deadline)
      .catch((e) => { throw fromGrpc(e); });
    return {
      nodeId: response.nodeId,
      requestsServed: Number(response.requestsServed),
      requestsForwarded: Number(response.requestsForwarded),
      storedSessions: Number(response.storedSessions),
      serving: response.serving,
    };
  }

  async create(namespace, { userId = '', attributes = {}, idleTimeoutMs, absoluteTtlMs = 0, durability } = {}) {
    const r = await this._call('Create', {
      namespace, userId, attributes: toBytesMap(attributes), idleTimeoutMs,
      absoluteTtlMs, durability: durabilityOf(durability),
    });
    return toSession(r.session);
  }

  async get(namespace, id, { touch = true } = {}) {
    const route = this._sessionRoute(id);
    const r = await this._call('Get', { namespace, id, skipTouch: !touch }, route);
    return toSession(r.session);
  }

  async update(namespace, id, { set = {}, remove = [], expectedVersion = 0, durability, skipTouch = false } = {}) {
    const route = this._sessionRoute(id);
    const r = await this._call('Update', {
      namespace, id, set: toBytesMap(set), remove, expectedVersion: String(expectedVersion),
      durability: durabilityOf(durability), skipTouch,
    }, route);
    return toSession(r.session);
  }

  // Slides the expiry; resolves to the new expiresAtMs.
  async touch(namespace, id) {
    const route = this._sessionRoute(id);
    const r = await this._call('Touch', { namespace, id }, route);
    return Number(r.expiresAtMs);
  }

  async destroy(namespace, id, { durability } = {}) {
    const route = this._sessionRoute(id);
    await this._call('Destroy', { namespace, id, durability: durabilityOf(durability) }, route);
  }

  async rotate(namespace, id, { durability } = {}) {
    const route = this._sessionRoute(id);
    const r = await this._call('Rotate', { namespace, id, durability: durabilityOf(durability) }, route);
    return toSession(r.session);
  }

  // One result per id, in order: a session or a SeshError.
  async batchGet(namespace, ids, { touch = true } = {}) {
    return Promise.all(ids.map((id) => this.get(namespace, id, { touch }).catch((e) => fromGrpc(e))));
  }

  // One page of a user's sessions (handles, no ids).
  async listByUser(namespace, userId, { attributes = [], pageSize = 0, pageToken = '' } = {}) {
    const r = await this._call('ListByUser', { namespace, userId, attributes, pageSize, pageToken });
    return { sessions: r.sessions.map(toSession), nextPageToken: r.nextPageToken };
  }

  // "Log out everywhere" but `exceptId`; resolves to the count destroyed.
  async destroyByUser(namespace, userId, { exceptId = '', durability } = {}) {
    let total = 0;
    for (let round = 0; round < MAX_DESTROY_ROUNDS; round++) {
      const r = await this._call('DestroyByUser', {
        namespace, userId, exceptId, durability: durabilityOf(durability),
      });
      total += r.destroyedCount;
      if (!r.more) return total;
    }
    throw new SeshError(status.RESOURCE_EXHAUSTED, 'sessions remain after many DestroyByUser calls');
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    this._router.close();
    for (const c of this._conns.values()) {
      c.getter.close();
      c.sessions.close();
    }
  }
}

module.exports = { SeshClient, toSession };

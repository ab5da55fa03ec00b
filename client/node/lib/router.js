'use strict';
// Routing, as in the C++ client (client/internal/router.h): the cached
// topology and its partition map, the nodes a call may go to (best first),
// and refreshes on an epoch change or an unreachable node.

const { partitionOf } = require('./partition');

const REFRESH_MIN_INTERVAL_MS = 100;
const DOWN_RECHECK_MS = 5000;
const SUSPECT_MS = 1000;

class Router {
  // `fetch()` resolves to a TopologyResponse (a routed, retried Topology
  // call); `connOf(address)` gives the connection object of a node.
  constructor(seeds, connOf, fetch) {
    this._seeds = seeds;
    this._connOf = connOf;
    this._fetch = fetch;
    this._table = null;
    this._suspectUntil = new Map();  // address -> ms
    this._roundRobin = 0;
    this._refreshing = false;
    this._timer = null;
    this._lastRefreshAt = 0;
    this._wantedEpoch = null;
    this._closed = false;
  }

  table() { return this._table; }
  epoch() { return this._table ? this._table.epoch : null; }

  // Routes by `response` (a TopologyResponse with its partition map).
  install(response) {
    const nodes = response.nodes.map((n) => ({ id: n.id, address: n.address, up: n.up }));
    const rf = response.replicationFactor;
    const count = response.partitionCount;
    const map = response.partitionMap;
    if (!map || map.length !== count * rf) {
      throw new Error(`sesh-client: topology without a usable partition map (${map ? map.length : 0} bytes)`);
    }
    this._table = {
      epoch: String(response.epoch),
      nodes,
      rf,
      partitionCount: count,
      map,
      anyDown: nodes.some((n) => !n.up),
      fetchedAt: Date.now(),
    };
    if (this._wantedEpoch === this._table.epoch) this._wantedEpoch = null;
  }

  // The partition of a well-formed id, or -1.
  partitionOf(id) {
    return partitionOf(id, this._table ? this._table.partitionCount : undefined);
  }

  _healthy(address, up, now) {
    return up && !((this._suspectUntil.get(address) || 0) > now);
  }

  // Connections to try, best first. `partition` >= 0: its preference list,
  // then the other nodes (they forward); else every node, round-robin.
  // Within the list, nodes marked down or suspect go last.
  candidates(partition) {
    const t = this._table;
    const now = Date.now();
    if (!t) return this._seeds.map((a) => this._connOf(a));
    if (t.anyDown && now - t.fetchedAt > DOWN_RECHECK_MS) this.requestRefresh(null);
    let order;
    if (partition >= 0) {
      const seen = new Set();
      order = [];
      for (let r = 0; r < t.rf; r++) {
        const i = t.map[partition * t.rf + r];
        if (i < t.nodes.length && !seen.has(i)) { seen.add(i); order.push(t.nodes[i]); }
      }
      t.nodes.forEach((n, i) => { if (!seen.has(i)) order.push(n); });
    } else {
      const start = this._roundRobin++ % t.nodes.length;
      order = t.nodes.slice(start).concat(t.nodes.slice(0, start));
    }
    const good = [];
    const bad = [];
    for (const n of order) (this._healthy(n.address, n.up, now) ? good : bad).push(n);
    return good.concat(bad).map((n) => this._connOf(n.address));
  }

  // Every known node, then the seeds: where a topology may be fetched.
  bootstrapCandidates() {
    const addrs = this._table ? this._table.nodes.map((n) => n.address) : [];
    for (const s of this._seeds) if (!addrs.includes(s)) addrs.push(s);
    return addrs.map((a) => this._connOf(a));
  }

  markSuspect(address) {
    this._suspectUntil.set(address, Date.now() + SUSPECT_MS);
  }

  // An epoch a node answered with: refresh if it is not ours.
  noteEpoch(epoch) {
    if (epoch == null || !this._table || String(epoch) === this._table.epoch) return;
    if (this._wantedEpoch !== String(epoch)) {
      this._wantedEpoch = String(epoch);
      this.requestRefresh(epoch);
    }
  }

  // Starts a refresh now, or schedules one: at most one per 100 ms.
  requestRefresh() {
    if (this._closed || !this._table || this._refreshing || this._timer) return;
    const wait = this._lastRefreshAt + REFRESH_MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this._timer = setTimeout(() => { this._timer = null; this.requestRefresh(); }, wait);
      this._timer.unref();
      return;
    }
    this._refreshing = true;
    this._lastRefreshAt = Date.now();
    this._fetch().then((response) => {
      this.install(response);
    }, () => {}).finally(() => {
      this._refreshing = false;
      // A later answer with another epoch asks again (at most every 100 ms).
      this._wantedEpoch = null;
    });
  }

  close() {
    this._closed = true;
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
  }
}

module.exports = { Router };

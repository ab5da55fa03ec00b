'use strict';
// Coalesced Gets to one node over one long-lived StreamGet call, as the C++
// client does (ClientOptions::coalesce_gets, stream_gets): up to
// `maxInFlight` batches are out at a time; Gets that arrive meanwhile queue
// and leave together with the next completion, at most `maxBatch` ids (of
// one namespace and touch mode) per message. An idle node gets each Get at
// once, as a batch of one.

const { SeshError, fromGrpc, status } = require('./errors');

class GetBatcher {
  // `openStream()` returns a new StreamGet call; `onEpoch(epoch)` and
  // `onBroken(err)` report what the stream saw.
  constructor({ openStream, maxBatch, maxInFlight, maxQueued, onEpoch, onBroken }) {
    this._openStream = openStream;
    this._maxBatch = maxBatch;
    this._maxInFlight = maxInFlight;
    this._maxQueued = maxQueued;
    this._onEpoch = onEpoch;
    this._onBroken = onBroken;
    this._queue = [];
    this._inFlight = [];  // batches sent, answered in order
    this._stream = null;
  }

  // Resolves to a Session message; rejects with a SeshError (retryable ones
  // are UNAVAILABLE / DEADLINE_EXCEEDED, as for a unary Get).
  get(namespace, id, touch, deadline) {
    if (this._queue.length >= this._maxQueued) {
      return Promise.reject(new SeshError(status.RESOURCE_EXHAUSTED,
        'too many Gets queued for this node'));
    }
    return new Promise((resolve, reject) => {
      const item = { namespace, id, touch, resolve, reject, done: false, timer: null };
      const wait = Math.max(0, deadline - Date.now());
      item.timer = setTimeout(() => this._expire(item), wait);
      this._queue.push(item);
      this._pump();
    });
  }

  _settle(item, err, value) {
    if (item.done) return;
    item.done = true;
    clearTimeout(item.timer);
    if (err) item.reject(err); else item.resolve(value);
  }

  _expire(item) {
    if (item.done) return;
    const queued = this._queue.indexOf(item);
    if (queued >= 0) this._queue.splice(queued, 1);
    this._settle(item, new SeshError(status.DEADLINE_EXCEEDED, 'Get attempt timed out'));
    // A batch still out after a whole attempt deadline: the stream is stuck.
    if (queued < 0 && this._stream) this._stream.cancel();
  }

  _ensureStream() {
    if (this._stream) return this._stream;
    const stream = this._openStream();
    this._stream = stream;
    stream.on('data', (response) => {
      if (stream !== this._stream) return;
      const batch = this._inFlight.shift();
      if (response.epoch != null) this._onEpoch(response.epoch);
      if (batch) {
        batch.forEach((item, i) => {
          const r = response.results[i];
          if (!r) this._settle(item, new SeshError(status.INTERNAL, 'StreamGet answered too few results'));
          else if (r.code === 0) this._settle(item, null, r.session);
          else this._settle(item, Object.assign(new SeshError(r.code, r.message), { answered: true }));
        });
      }
      this._pump();
    });
    const broken = (err) => {
      if (stream !== this._stream) return;
      this._stream = null;
      // Cancelled here only when stuck (see _expire): retryable, as a lost node.
      const e = err && err.code !== status.CANCELLED ? fromGrpc(err)
        : new SeshError(status.UNAVAILABLE, 'StreamGet ended or stuck');
      const batches = this._inFlight;
      this._inFlight = [];
      for (const batch of batches) for (const item of batch) this._settle(item, e);
      // An idle stream ended by the node (idle timeout, drain) is no failure.
      if (batches.length > 0) this._onBroken(e, err && err.metadata);
      this._pump();
    };
    stream.on('error', broken);
    stream.on('end', () => broken(null));
    return stream;
  }

  _pump() {
    while (this._inFlight.length < this._maxInFlight && this._queue.length > 0) {
      const first = this._queue[0];
      const batch = [];
      const rest = [];
      for (const item of this._queue) {
        if (item.done) continue;
        if (batch.length < this._maxBatch && item.namespace === first.namespace &&
            item.touch === first.touch) batch.push(item);
        else rest.push(item);
      }
      this._queue = rest;
      if (batch.length === 0) continue;
      const stream = this._ensureStream();
      this._inFlight.push(batch);
      stream.write({ namespace: first.namespace, ids: batch.map((i) => i.id), skipTouch: !first.touch });
    }
  }

  close() {
    const e = new SeshError(status.CANCELLED, 'client closed');
    for (const item of this._queue) this._settle(item, e);
    this._queue = [];
    if (this._stream) {
      const s = this._stream;
      this._stream = null;
      for (const batch of this._inFlight) for (const item of batch) this._settle(item, e);
      this._inFlight = [];
      s.cancel();
    }
  }
}

module.exports = { GetBatcher };

'use strict';
// SeshStore: an express-session store on Sesh (README.md explains the
// mapping). Each top-level field of the session object is one Sesh
// attribute holding its JSON; `cookie` is one more (without `expires`, which
// Sesh's own expiry gives). `set` sends only the fields that changed since
// this request read the session, as one per-attribute Update, so concurrent
// requests changing different fields keep both changes. Ids are minted by
// Sesh: use store.middleware(session, options), which creates the session
// in Sesh before express-session asks genid for an id.

const crypto = require('crypto');
const session = require('express-session');
const { SeshClient } = require('./client');
const { partitionOf } = require('./partition');

const kBase = Symbol('sesh.base');       // { sid, attrs: Map name -> stored text }
const kMinted = Symbol('sesh.minted');   // a Session created or rotated for genid
const kTouched = Symbol('sesh.touched'); // the sid this request's read already slid

const DAY_MS = 24 * 3600 * 1000;
const COOKIE = 'cookie';

function parseValue(text) {
  try { return JSON.parse(text); } catch (_) { return text; }
}

// Stored text -> the same value as `json` (tolerates text written by others).
function sameValue(stored, json) {
  return stored === json || JSON.stringify(parseValue(stored)) === json;
}

// The attributes that represent `sess`: name -> JSON text.
function encode(sess) {
  const out = new Map();
  for (const key of Object.keys(sess)) {
    if (key === COOKIE) continue;
    const json = JSON.stringify(sess[key]);
    if (json !== undefined) out.set(key, json);
  }
  if (sess.cookie) {
    const c = typeof sess.cookie.toJSON === 'function' ? sess.cookie.toJSON() : { ...sess.cookie };
    delete c.expires;
    out.set(COOKIE, JSON.stringify(c));
  }
  return out;
}

// A Sesh session -> express-session data, and the stored texts.
function decode(s) {
  const base = new Map();
  const data = {};
  for (const [key, value] of Object.entries(s.attributes)) {
    const text = Buffer.from(value).toString('utf8');
    base.set(key, text);
    if (key !== COOKIE) data[key] = parseValue(text);
  }
  const stored = base.has(COOKIE) ? parseValue(base.get(COOKIE)) : null;
  const cookie = stored && typeof stored === 'object'
    ? stored : { originalMaxAge: s.idleTimeoutMs, httpOnly: true, path: '/' };
  cookie.expires = cookie.originalMaxAge != null ? new Date(s.expiresAtMs).toISOString() : null;
  data.cookie = cookie;
  return { data, base };
}

function diff(base, next) {
  const set = {};
  const remove = [];
  for (const [key, json] of next) {
    if (!base.has(key) || !sameValue(base.get(key), json)) set[key] = json;
  }
  for (const key of base.keys()) if (!next.has(key)) remove.push(key);
  return { set, remove };
}

// The signed session id in the request, read as express-session does.
function parseCookies(header) {
  const out = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    if (Object.prototype.hasOwnProperty.call(out, key)) continue;
    let value = part.slice(eq + 1).trim();
    if (value[0] === '"') value = value.slice(1, -1);
    try { if (value.includes('%')) value = decodeURIComponent(value); } catch (_) { /* kept */ }
    out[key] = value;
  }
  return out;
}

function unsign(input, secrets) {
  const dot = input.lastIndexOf('.');
  if (dot < 0) return false;
  const value = input.slice(0, dot);
  for (const secret of secrets) {
    const mac = crypto.createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
    const expected = Buffer.from(`${value}.${mac}`);
    const got = Buffer.from(input);
    if (expected.length === got.length && crypto.timingSafeEqual(expected, got)) return value;
  }
  return false;
}

function sessionCookie(req, name, secrets) {
  const raws = [];
  if (req.headers.cookie) raws.push(parseCookies(req.headers.cookie)[name]);
  if (req.signedCookies && req.signedCookies[name]) return req.signedCookies[name];
  if (req.cookies) raws.push(req.cookies[name]);
  for (const raw of raws) {
    if (typeof raw === 'string' && raw.startsWith('s:')) {
      const v = unsign(raw.slice(2), secrets);
      if (v) return v;
    }
  }
  return undefined;
}

// Errors that mean "no such session" to express-session.
const isMissing = (e) => e && (e.code === 'NOT_FOUND' || e.code === 'INVALID_ARGUMENT');

function callback(promise, cb) {
  promise.then((v) => cb && cb(null, v), (e) => cb && cb(e));
}

class SeshStore extends session.Store {
  // options: namespace (required); client (a SeshClient) or SeshClient
  // options (seeds, tlsCaFile, token, ...); ttlMs: idle timeout when the
  // cookie has no maxAge (1 day); absoluteTtlMs (0: the node's maximum);
  // durability; keepDataOnRegenerate (false: express-session's empty session).
  constructor(options = {}) {
    super();
    const { client, namespace, ttlMs = DAY_MS, absoluteTtlMs = 0, durability,
      keepDataOnRegenerate = false, ...clientOptions } = options;
    if (!namespace) throw new TypeError('SeshStore: namespace is required');
    this.namespace = namespace;
    this.ttlMs = ttlMs;
    this.absoluteTtlMs = absoluteTtlMs;
    this.durability = durability;
    this.keepDataOnRegenerate = keepDataOnRegenerate;
    this._ownsClient = !client;
    this.client = client || new SeshClient(clientOptions);
    this._cookieOptions = {};
    this._current = null;  // the request whose middleware call is on the stack
  }

  // express-session's middleware, with this store and Sesh-minted ids.
  middleware(sessionModule, options = {}) {
    const opts = { ...options, store: this, genid: (req) => this._genid(req) };
    const inner = sessionModule(opts);
    const name = opts.name || opts.key || 'connect.sid';
    this._cookieOptions = opts.cookie || {};
    const run = (req, res, next) => {
      this._current = req;
      try { inner(req, res, next); } finally { this._current = null; }
    };
    return (req, res, next) => {
      if (req.session) return inner(req, res, next);
      const secrets = opts.secret != null ? [].concat(opts.secret) : (req.secret ? [req.secret] : []);
      if (sessionCookie(req, name, secrets)) return run(req, res, next);
      // No session cookie: express-session will generate, so mint first.
      return this._mint(req).then(() => run(req, res, next), next);
    };
  }

  _idleTimeoutFor(req) {
    const c = typeof this._cookieOptions === 'function' ? this._cookieOptions(req) : this._cookieOptions;
    return c && typeof c.maxAge === 'number' && c.maxAge > 0 ? c.maxAge : this.ttlMs;
  }

  async _mint(req) {
    req[kMinted] = await this.client.create(this.namespace, {
      idleTimeoutMs: this._idleTimeoutFor(req),
      absoluteTtlMs: this.absoluteTtlMs,
      durability: this.durability,
    });
  }

  _genid(req) {
    const s = req[kMinted];
    if (!s) {
      throw new Error('SeshStore: no Sesh session minted for this request; ' +
        'mount it with store.middleware(session, options)');
    }
    delete req[kMinted];
    req[kBase] = { sid: s.id, attrs: decode(s).base };
    return s.id;
  }

  // A session that is missing, expired, destroyed or malformed is
  // `undefined` (express-session then generates a new one).
  get(sid, cb) {
    const req = this._current;
    callback((async () => {
      try {
        const s = await this.client.get(this.namespace, sid, { touch: true });
        const { data, base } = decode(s);
        if (req) {
          req[kBase] = { sid, attrs: base };
          req[kTouched] = sid;
        }
        return data;
      } catch (e) {
        if (!isMissing(e)) throw e;
        if (req) await this._mint(req);
        return undefined;
      }
    })(), cb);
  }

  // Sends the fields changed since this request read the session as one
  // Update (set / remove); nothing changed: a Touch. A session that no
  // longer exists is not recreated: the error's code is NOT_FOUND.
  set(sid, sess, cb) {
    const req = sess && sess.req;
    callback((async () => {
      let base = req && req[kBase] && req[kBase].sid === sid ? req[kBase].attrs : null;
      if (!base) base = decode(await this.client.get(this.namespace, sid, { touch: false })).base;
      const next = encode(sess);
      const { set, remove } = diff(base, next);
      if (Object.keys(set).length === 0 && remove.length === 0) {
        if (!(req && req[kTouched] === sid)) await this.client.touch(this.namespace, sid);
      } else {
        await this.client.update(this.namespace, sid, { set, remove, durability: this.durability });
      }
      if (req) {
        req[kBase] = { sid, attrs: next };
        req[kTouched] = sid;
      }
    })(), cb);
  }

  // Slides the idle timeout (a Touch), unless this request's read already
  // did. A session that is gone is no error: there is nothing to keep alive.
  touch(sid, sess, cb) {
    const req = sess && sess.req;
    if (req && req[kTouched] === sid) {
      if (cb) process.nextTick(cb);
      return;
    }
    callback(this.client.touch(this.namespace, sid).then(() => undefined, (e) => {
      if (!isMissing(e)) throw e;
    }), cb);
  }

  destroy(sid, cb) {
    callback(this.client.destroy(this.namespace, sid, { durability: this.durability }).then(
      () => undefined, (e) => { if (e.code !== 'INVALID_ARGUMENT') throw e; }), cb);
  }

  // Rotate: the old id stops working and Sesh mints the new one. The
  // request gets express-session's fresh session under it (the carried-over
  // fields are removed at the next save) unless keepDataOnRegenerate.
  regenerate(req, fn) {
    const old = req.sessionID;
    callback((async () => {
      let s = null;
      if (old && partitionOf(old) >= 0) {
        try {
          s = await this.client.rotate(this.namespace, old, { durability: this.durability });
        } catch (e) {
          if (!isMissing(e)) throw e;
        }
      }
      if (s) req[kMinted] = s; else await this._mint(req);
      const { data } = decode(req[kMinted]);
      this.generate(req);  // express-session's; calls genid
      if (this.keepDataOnRegenerate) {
        for (const [k, v] of Object.entries(data)) if (k !== COOKIE) req.session[k] = v;
      }
    })(), fn);
  }

  close() {
    if (this._ownsClient) this.client.close();
  }
}

module.exports = { SeshStore, encode, decode, diff };

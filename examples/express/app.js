'use strict';
// An Express app whose sessions live in Sesh: sign in, a cart counter,
// sign out. Run against a cluster (tools/cluster.sh up 3):
//   SESH_SEEDS=127.0.0.1:7701 SESH_CA=.cluster/tls/ca.pem \
//   SESH_TOKEN_FILE=.cluster/tls/token.demo SESH_NAMESPACE=demo node app.js

const express = require('express');
const session = require('express-session');
const { SeshStore } = require('sesh-client');

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(req) {
  const user = req.session.user;
  const cart = req.session.cart || 0;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sesh shop</title></head><body>
<h1>Sesh shop</h1>
${user ? `<p id="who">Signed in as ${escape(user)}</p>
<form method="post" action="/logout"><button id="logout">Sign out</button></form>`
    : `<p id="who">Not signed in</p>
<form method="post" action="/login"><input id="user" name="user" required>
<button id="login">Sign in</button></form>`}
<p>Cart: <span id="cart">${cart}</span> <a id="add" href="/cart/add">add one</a></p>
</body></html>`;
}

// `store` is a SeshStore; `secret` signs the cookie.
function createApp({ store, secret, maxAgeMs = 30 * 60 * 1000 }) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(store.middleware(session, {
    secret, resave: false, saveUninitialized: false, name: 'sid',
    cookie: { maxAge: maxAgeMs, httpOnly: true, sameSite: 'lax' },
  }));
  app.get('/', (req, res) => res.type('html').send(page(req)));
  app.get('/cart/add', (req, res) => {
    req.session.cart = (req.session.cart || 0) + 1;
    res.redirect('/');
  });
  app.post('/login', (req, res, next) => {
    // A new id on sign-in (session fixation defence): Sesh's Rotate.
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = String(req.body.user || '').slice(0, 64);
      req.session.save((e) => (e ? next(e) : res.redirect('/')));
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie('sid');
      res.redirect('/');
    });
  });
  return app;
}

module.exports = { createApp };

if (require.main === module) {
  const store = new SeshStore({
    namespace: process.env.SESH_NAMESPACE || 'demo',
    seeds: (process.env.SESH_SEEDS || '127.0.0.1:7701').split(','),
    tlsCaFile: process.env.SESH_CA,
    tokenFile: process.env.SESH_TOKEN_FILE,
  });
  const app = createApp({ store, secret: process.env.COOKIE_SECRET || 'change me' });
  const port = Number(process.env.PORT || 3000);
  app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
}

'use strict';
const { SeshClient } = require('./client');
const { SeshError } = require('./errors');
const { partitionOf } = require('./partition');

module.exports = {
  SeshClient,
  SeshError,
  partitionOf,
  // Loaded on first use: express-session is a peer dependency.
  get SeshStore() { return require('./store').SeshStore; },
};

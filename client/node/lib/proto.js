'use strict';
// Loads the project's own sesh/v1 protos: $SESH_PROTO_DIR, the package's
// proto/ (copied there by `npm pack`), or the repository's proto/ above it.

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const FILES = ['sesh/v1/sessions.proto', 'sesh/v1/cluster.proto'];

function protoDir() {
  if (process.env.SESH_PROTO_DIR) return process.env.SESH_PROTO_DIR;
  // The package's own copy, else the nearest proto/ above it (the repository).
  for (let dir = path.join(__dirname, '..'); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'proto', FILES[0]))) return path.join(dir, 'proto');
    if (path.dirname(dir) === dir) break;
  }
  throw new Error('sesh-client: proto/sesh/v1 not found (set SESH_PROTO_DIR)');
}

let cached = null;

// The sesh.v1 package: Sessions and Cluster service constructors.
function seshV1() {
  if (cached) return cached;
  const definition = protoLoader.loadSync(FILES, {
    includeDirs: [protoDir()],
    keepCase: false,
    longs: String,  // uint64 versions and epochs exceed 2^53
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(definition).sesh.v1;
  return cached;
}

module.exports = { seshV1 };

'use strict';
// Loads the project's own sesh/v1 protos: from the package's proto/ (copied
// there by `npm pack`), else from the repository's proto/ when the package
// is used in place.

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const FILES = ['sesh/v1/sessions.proto', 'sesh/v1/cluster.proto'];

function protoDir() {
  const candidates = [
    path.join(__dirname, '..', 'proto'),
    path.join(__dirname, '..', '..', '..', 'proto'),
  ];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, FILES[0]))) return dir;
  }
  throw new Error('sesh-client: sesh/v1 protos not found in ' + candidates.join(' or '));
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

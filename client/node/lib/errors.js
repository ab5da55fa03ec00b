'use strict';
// Errors of the Sesh client: a SeshError carries the gRPC status name in
// `code` ('NOT_FOUND', 'UNAVAILABLE', ...) and its number in `grpcCode`;
// the node's message is passed through unchanged.

const { status } = require('@grpc/grpc-js');

const NAMES = Object.fromEntries(Object.entries(status).map(([k, v]) => [v, k]));

class SeshError extends Error {
  constructor(grpcCode, message) {
    super(message);
    this.name = 'SeshError';
    this.grpcCode = grpcCode;
    this.code = NAMES[grpcCode] || 'UNKNOWN';
  }
}

function fromGrpc(err) {
  if (err instanceof SeshError) return err;
  const code = typeof err.code === 'number' ? err.code : status.UNKNOWN;
  return new SeshError(code, err.details || err.message || String(err));
}

module.exports = { SeshError, fromGrpc, status };

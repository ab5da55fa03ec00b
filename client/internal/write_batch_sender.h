// Sends the batches of a node's write coalescer as messages of the node's
// StreamWrite call, and completes their writes from the per-op results. A
// node that refuses StreamWrite as UNIMPLEMENTED gets each write as its own
// unary RPC from then on.

#ifndef SESH_CLIENT_INTERNAL_WRITE_BATCH_SENDER_H_
#define SESH_CLIENT_INTERNAL_WRITE_BATCH_SENDER_H_

#include "client/internal/attempt.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/pending_write.h"

namespace sesh {
namespace client_internal {

// Constant after construction, so thread-safe.
class WriteBatchSender {
 public:
  // `runner` and `ops` must outlive every batch sent.
  WriteBatchSender(const AttemptRunner* runner, OpCounter* ops)
      : runner_(runner), ops_(ops) {}

  WriteBatchSender(const WriteBatchSender&) = delete;
  WriteBatchSender& operator=(const WriteBatchSender&) = delete;

  // Sends one coalesced batch to `node` (the coalescer's SendFn): each
  // write's `done` (or `send_unary`) runs exactly once, on the queue or the
  // scheduler thread, then the coalescer's BatchDone(). Holds an op of `ops`
  // until then.
  void Send(NodeConn* node, PendingWriteBatch batch) const;

 private:
  const AttemptRunner* const runner_;
  OpCounter* const ops_;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_WRITE_BATCH_SENDER_H_

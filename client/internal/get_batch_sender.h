// Sends the batches of a node's Get coalescer and completes their Gets: a
// lone Get as a Get RPC, others as one BatchGet RPC or, with stream_gets,
// over the node's StreamGet call (a lone Get too). A node that refuses
// StreamGet as UNIMPLEMENTED gets BatchGet RPCs from then on.

#ifndef SESH_CLIENT_INTERNAL_GET_BATCH_SENDER_H_
#define SESH_CLIENT_INTERNAL_GET_BATCH_SENDER_H_

#include <memory>

#include "absl/time/time.h"
#include "client/internal/attempt.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/pending_get.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace client_internal {

// Constant after construction, so thread-safe.
class GetBatchSender {
 public:
  // `runner` and `ops` must outlive every batch sent.
  GetBatchSender(const AttemptRunner* runner, OpCounter* ops, bool stream_gets)
      : runner_(runner), ops_(ops), stream_gets_(stream_gets) {}

  GetBatchSender(const GetBatchSender&) = delete;
  GetBatchSender& operator=(const GetBatchSender&) = delete;

  // Sends one coalesced batch to `node` (the coalescer's SendFn): each Get's
  // `done` runs exactly once, on the queue or the scheduler thread, then the
  // coalescer's BatchDone(). Holds an op of `ops` until then.
  void Send(NodeConn* node, PendingGetBatch batch) const;

 private:
  // Sends a batch of several Gets as one BatchGet RPC.
  void SendBatchUnary(NodeConn* node,
                      std::shared_ptr<OutgoingBatch> batch) const;
  // Completes a batch's Gets from its answer (resp is read only if the
  // result is OK); a batch a node refused as UNIMPLEMENTED on its stream
  // goes again as a BatchGet RPC.
  void CompleteBatch(NodeConn* node,
                     const std::shared_ptr<OutgoingBatch>& batch,
                     AttemptResult result, v1::BatchGetResponse* resp,
                     bool on_stream) const;

  const AttemptRunner* const runner_;
  OpCounter* const ops_;
  const bool stream_gets_;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_GET_BATCH_SENDER_H_

// The client's record of one write (Create, Update, Destroy or Touch) waiting
// in a node's write coalescer, to travel with others as one StreamWrite
// message.

#ifndef SESH_CLIENT_INTERNAL_PENDING_WRITE_H_
#define SESH_CLIENT_INTERNAL_PENDING_WRITE_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/internal/get_coalescer.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace client_internal {

struct AttemptResult;  // attempt.h

// A write waiting in a node's coalescer. The coalescer batches by
// (namespace, touch); writes always use touch = true.
struct PendingWrite {
  v1::WriteOp op;
  absl::Time deadline;  // of the caller's attempt
  absl::Time enqueued;  // set by the coalescer
  // Called exactly once with the attempt's end and, if it is OK, the op's
  // result (valid only during the call); by WriteBatchSender, or by whoever
  // enqueued the write if the coalescer refused it.
  std::function<void(AttemptResult, v1::WriteResult*)> done;
  // Sends this write as its own unary RPC instead, with the same `done`
  // (for a node that predates StreamWrite).
  std::function<void()> send_unary;
};

using PendingWriteBatch = GetBatch<PendingWrite>;
using PendingWriteCoalescer = GetCoalescer<PendingWrite>;

// The op of a request, and the response of a result, per write kind.
inline void SetOp(const v1::CreateRequest& r, v1::WriteOp* op) {
  *op->mutable_create() = r;
}
inline void SetOp(const v1::UpdateRequest& r, v1::WriteOp* op) {
  *op->mutable_update() = r;
}
inline void SetOp(const v1::DestroyRequest& r, v1::WriteOp* op) {
  *op->mutable_destroy() = r;
}
inline void SetOp(const v1::TouchRequest& r, v1::WriteOp* op) {
  *op->mutable_touch() = r;
}
inline void TakeResult(v1::WriteResult* r, v1::CreateResponse* out) {
  out->Swap(r->mutable_create());
}
inline void TakeResult(v1::WriteResult* r, v1::UpdateResponse* out) {
  out->Swap(r->mutable_update());
}
inline void TakeResult(v1::WriteResult* r, v1::DestroyResponse* out) {
  out->Swap(r->mutable_destroy());
}
inline void TakeResult(v1::WriteResult* r, v1::TouchResponse* out) {
  out->Swap(r->mutable_touch());
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_PENDING_WRITE_H_

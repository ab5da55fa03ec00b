// One StreamGet call to a node, carrying that node's coalesced batches. gRPC
// allows one write at a time, so requests queue for the wire; the node
// answers them in order, so answers are matched to the batches sent, oldest
// first. When the call ends (node gone, a batch overdue, client destroyed),
// every batch not answered yet ends with the call's error, and the next batch
// starts a new call. Driven by the client's completion queue (see
// queued_call.h).

#ifndef SESH_CLIENT_INTERNAL_GET_STREAM_H_
#define SESH_CLIENT_INTERNAL_GET_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/status.h>

#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/attempt.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/queued_call.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace client_internal {

// How a batch ends: the attempt's result and, if it is OK, the answer (valid
// only during the call).
using BatchReply = std::function<void(AttemptResult, v1::BatchGetResponse*)>;

// Owned by the NodeConn (until the call ends) and by itself (until the call
// is over); timers hold weak_ptrs. Thread-safe.
class GetStream final : public std::enable_shared_from_this<GetStream> {
 public:
  // The node's open StreamGet call, started if there is none; null once
  // `ops` is shutting down. A new call holds an op of `ops` until it is over.
  // `runner` and `ops` must outlive the call.
  static std::shared_ptr<GetStream> OpenFor(NodeConn* node,
                                            const AttemptRunner* runner,
                                            OpCounter* ops);

  // Use OpenFor.
  GetStream(const AttemptRunner* runner, OpCounter* ops, NodeConn* node)
      : runner_(runner), ops_(ops), node_(node) {}

  // Queues one batch; `reply` runs exactly once, on the queue thread. False
  // (reply not taken) if the call has ended: use a new stream.
  bool Send(v1::BatchGetRequest&& request, absl::Time deadline,
            BatchReply&& reply);

  bool ended();

  // Ends the call (client destruction); the batches out fail.
  void Cancel() { ctx_.TryCancel(); }

 private:
  struct Sent {
    absl::Time deadline;
    BatchReply reply;
  };
  struct Tag final : QueueTag {
    Tag(GetStream* s, void (GetStream::*h)(bool ok)) : stream(s), handler(h) {}
    void Run(bool ok) override { (stream->*handler)(ok); }
    GetStream* const stream;
    void (GetStream::*const handler)(bool ok);
  };

  // Starts the call. The caller holds an op for it (ended in OnDone).
  void Begin();
  void OnStarted(bool ok);
  void OnWriteDone(bool ok);
  void OnReadDone(bool ok);
  // The call is over and no operation on it is outstanding.
  void OnDone(bool ok);
  // One timer for the earliest deadline among the batches out, not one per
  // batch: when it fires, batches answered meanwhile have left and it is
  // re-armed for the earliest of the rest.
  void ArmTimer(absl::Time when);
  void OnTimer(absl::Time armed_for);

  const AttemptRunner* const runner_;
  OpCounter* const ops_;
  NodeConn* const node_;
  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<v1::BatchGetRequest, v1::BatchGetResponse>>
      rw_;
  Tag started_tag_{this, &GetStream::OnStarted};
  Tag read_tag_{this, &GetStream::OnReadDone};
  Tag written_tag_{this, &GetStream::OnWriteDone};
  Tag finished_tag_{this, &GetStream::OnDone};
  v1::BatchGetResponse response_;  // read into; queue thread only
  grpc::Status status_;            // set by Finish
  std::shared_ptr<GetStream> self_;

  absl::Mutex mu_;
  // Protected by mu_.
  std::deque<v1::BatchGetRequest> to_write_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_failed_ ABSL_GUARDED_BY(mu_) = false;
  // Written or queued, not answered yet, oldest first.
  std::deque<Sent> sent_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool overdue_ ABSL_GUARDED_BY(mu_) = false;
  bool unexpected_ ABSL_GUARDED_BY(mu_) = false;
  // Deadline the pending timer is armed for (InfiniteFuture: none).
  absl::Time timer_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_GET_STREAM_H_

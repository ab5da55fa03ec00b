// One attempt of a call: a single RPC (or StreamGet message) to one node,
// sent on the client's completion queue, and what became of it. Retrying is
// the caller's business (retrying_call.h); this layer only reports whether
// the node answered and whether the request provably never left.

#ifndef SESH_CLIENT_INTERNAL_ATTEMPT_H_
#define SESH_CLIENT_INTERNAL_ATTEMPT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/internal/node_conn.h"
#include "client/internal/queued_call.h"
#include "client/internal/scheduler.h"

namespace sesh {
namespace client_internal {

// The end of one attempt.
struct AttemptResult {
  absl::Status status;
  // The node answered (a reply, or an error with the node's trailing
  // metadata), as opposed to a transport failure.
  bool node_answered = false;
  // The request provably never left this process.
  bool never_sent = false;
};
using AttemptDone = std::function<void(AttemptResult)>;

// Sends attempts and reads their outcome. Constant after construction, so
// thread-safe; must outlive every attempt it sent.
class AttemptRunner {
 public:
  // Receives the membership epoch of every answer that carries one.
  using EpochFn = std::function<void(uint64_t epoch)>;

  // `queue` is the client's (see queued_call.h); `scheduler` runs the
  // completions of attempts that fail before sending. Both must outlive the
  // runner.
  AttemptRunner(grpc::CompletionQueue* queue, Scheduler* scheduler,
                EpochFn note_epoch)
      : queue_(queue),
        scheduler_(scheduler),
        note_epoch_(std::move(note_epoch)) {}

  AttemptRunner(const AttemptRunner&) = delete;
  AttemptRunner& operator=(const AttemptRunner&) = delete;

  grpc::CompletionQueue* queue() const { return queue_; }
  Scheduler* scheduler() const { return scheduler_; }
  void NoteEpoch(uint64_t epoch) const { note_epoch_(epoch); }

  // Looks at a finished RPC: epoch trailer (passed to NoteEpoch), whether the
  // node answered, whether the request provably never left.
  AttemptResult Examine(const grpc::ClientContext& ctx,
                        const grpc::Status& status) const;

  // A failed attempt's result if the node's channel is failing (the request
  // would not leave), or nullopt. Asks the channel to connect.
  static std::optional<AttemptResult> Unsendable(NodeConn* node);

  // One unary RPC attempt. `invoke(node, ctx, req, queue)` prepares the RPC
  // on the node's stub (a PrepareAsync method); `req` and `resp` must stay
  // valid until `done` runs (capture them in it). `done` runs exactly once,
  // on the queue thread, or on the scheduler's if the channel is failing;
  // never inline.
  template <typename Req, typename Resp, typename Invoke>
  void SendUnary(NodeConn* node, absl::Time deadline, const Req* req,
                 Resp* resp, Invoke invoke, AttemptDone done) const;

 private:
  grpc::CompletionQueue* const queue_;
  Scheduler* const scheduler_;
  const EpochFn note_epoch_;
};

// Implementation.

template <typename Req, typename Resp, typename Invoke>
void AttemptRunner::SendUnary(NodeConn* node, absl::Time deadline,
                              const Req* req, Resp* resp, Invoke invoke,
                              AttemptDone done) const {
  if (std::optional<AttemptResult> result = Unsendable(node)) {
    // Not inline: completions come from the queue or timer threads only. The
    // call this attempt belongs to holds an op, so the timer is running.
    scheduler_->RunAt(absl::InfinitePast(),
                      [done = std::move(done), result = *std::move(result)] {
                        done(result);
                      });
    return;
  }
  // Owned by the completion callback, which its QueuedCall keeps until it
  // has run.
  auto ctx = std::make_shared<grpc::ClientContext>();
  node->PrepareContext(ctx.get());
  ctx->set_deadline(absl::ToChronoTime(deadline));
  ctx->set_wait_for_ready(false);
  resp->Clear();
  CallOnQueue(invoke(node, ctx.get(), req, queue_), resp,
              [this, ctx, done = std::move(done)](grpc::Status status) {
                done(Examine(*ctx, status));
              });
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_ATTEMPT_H_

// One bidirectional streaming call to a node (StreamGet or StreamWrite),
// carrying that node's coalesced batches of one kind. gRPC allows one write
// at a time, so requests queue for the wire; the node answers them in order,
// so answers are matched to the batches sent, oldest first. When the call
// ends (node gone, a batch overdue, client destroyed), every batch not
// answered yet ends with the call's error, and the next batch starts a new
// call. Driven by the client's completion queue (see queued_call.h).

#ifndef SESH_CLIENT_INTERNAL_BATCH_STREAM_H_
#define SESH_CLIENT_INTERNAL_BATCH_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/attempt.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/queued_call.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace client_internal {

// Owned by its NodeConn slot (until the call ends) and by itself (until the
// call is over); timers hold weak_ptrs. Thread-safe.
template <typename Request, typename Response>
class BatchStream final
    : public std::enable_shared_from_this<BatchStream<Request, Response>> {
 public:
  using Slot = StreamSlot<BatchStream>;
  // The stub's PrepareAsync method of the call.
  using Prepare =
      std::unique_ptr<grpc::ClientAsyncReaderWriter<Request, Response>> (
          v1::Sessions::Stub::*)(grpc::ClientContext*, grpc::CompletionQueue*);
  // How a batch ends: the attempt's result and, if it is OK, the answer
  // (valid only during the call).
  using Reply = std::function<void(AttemptResult, Response*)>;

  // The node's open call in `slot` (one of the node's), started with
  // `prepare` if there is none; null once `ops` is shutting down. A new call
  // holds an op of `ops` until it is over. `runner` and `ops` must outlive
  // the call.
  static std::shared_ptr<BatchStream> OpenFor(NodeConn* node, Slot* slot,
                                              Prepare prepare,
                                              const AttemptRunner* runner,
                                              OpCounter* ops);

  // Use OpenFor.
  BatchStream(const AttemptRunner* runner, OpCounter* ops, NodeConn* node,
              Slot* slot, Prepare prepare)
      : runner_(runner),
        ops_(ops),
        node_(node),
        slot_(slot),
        prepare_(prepare) {}

  // Queues one batch; `reply` runs exactly once, on the queue thread. False
  // (reply not taken) if the call has ended: use a new stream.
  bool Send(Request&& request, absl::Time deadline, Reply&& reply);

  bool ended();

  // Ends the call (client destruction); the batches out fail.
  void Cancel() {
    cancelled_.store(true);
    ctx_.TryCancel();
  }

 private:
  struct Sent {
    absl::Time deadline;
    Reply reply;
  };
  struct Tag final : QueueTag {
    Tag(BatchStream* s, void (BatchStream::*h)(bool ok))
        : stream(s), handler(h) {}
    void Run(bool ok) override { (stream->*handler)(ok); }
    BatchStream* const stream;
    void (BatchStream::*const handler)(bool ok);
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
  Slot* const slot_;
  const Prepare prepare_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<Request, Response>> rw_;
  Tag started_tag_{this, &BatchStream::OnStarted};
  Tag read_tag_{this, &BatchStream::OnReadDone};
  Tag written_tag_{this, &BatchStream::OnWriteDone};
  Tag finished_tag_{this, &BatchStream::OnDone};
  Response response_;    // read into; queue thread only
  grpc::Status status_;  // set by Finish
  std::shared_ptr<BatchStream> self_;

  absl::Mutex mu_;
  // Protected by mu_.
  std::deque<Request> to_write_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_failed_ ABSL_GUARDED_BY(mu_) = false;
  // Written or queued, not answered yet, oldest first.
  std::deque<Sent> sent_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool overdue_ ABSL_GUARDED_BY(mu_) = false;
  bool unexpected_ ABSL_GUARDED_BY(mu_) = false;
  // Cancel() was called (the client is shutting the stream down).
  std::atomic<bool> cancelled_{false};
  // Deadline the pending timer is armed for (InfiniteFuture: none).
  absl::Time timer_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

// Sends `request` over the node's call in `slot`, opening one if needed.
// False (reply not taken) if the node does not implement the call's method;
// otherwise `reply` runs exactly once, on the queue or the scheduler thread,
// never inline.
template <typename Request, typename Response>
bool SendOnStream(NodeConn* node, StreamSlot<BatchStream<Request, Response>>* slot,
                  typename BatchStream<Request, Response>::Prepare prepare,
                  const AttemptRunner* runner, OpCounter* ops, Request request,
                  absl::Time deadline,
                  typename BatchStream<Request, Response>::Reply reply) {
  if (slot->unsupported.load()) return false;
  std::optional<AttemptResult> failed = AttemptRunner::Unsendable(node);
  while (!failed.has_value()) {
    std::shared_ptr<BatchStream<Request, Response>> stream =
        BatchStream<Request, Response>::OpenFor(node, slot, prepare, runner,
                                                ops);
    if (stream == nullptr) {
      failed.emplace();
      failed->status = absl::CancelledError("client is being destroyed");
      failed->never_sent = true;
      break;
    }
    // False only if the stream ended meanwhile: the next one takes it.
    if (stream->Send(std::move(request), deadline, std::move(reply))) {
      return true;
    }
    if (slot->unsupported.load()) return false;
  }
  // Not inline: completions come from the queue or timer threads only.
  runner->scheduler()->RunAt(absl::InfinitePast(),
                             [reply = std::move(reply),
                              r = *std::move(failed)] { reply(r, nullptr); });
  return true;
}

// Implementation.

template <typename Request, typename Response>
std::shared_ptr<BatchStream<Request, Response>>
BatchStream<Request, Response>::OpenFor(NodeConn* node, Slot* slot,
                                        Prepare prepare,
                                        const AttemptRunner* runner,
                                        OpCounter* ops) {
  std::shared_ptr<BatchStream> stream;
  {
    absl::MutexLock lock(&slot->mu);
    if (slot->stream != nullptr && !slot->stream->ended()) return slot->stream;
    if (!ops->Begin()) return nullptr;  // the stream's op, ended by OnDone
    slot->stream =
        std::make_shared<BatchStream>(runner, ops, node, slot, prepare);
    stream = slot->stream;
  }
  stream->Begin();
  return stream;
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::Begin() {
  self_ = this->shared_from_this();
  node_->PrepareContext(&ctx_);
  rw_ = (node_->sessions.get()->*prepare_)(&ctx_, runner_->queue());
  rw_->StartCall(AsTag(&started_tag_));
}

template <typename Request, typename Response>
bool BatchStream<Request, Response>::Send(Request&& request, absl::Time deadline,
                     Reply&& reply) {
  bool arm = false;
  const Request* write = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (ended_) return false;
    sent_.push_back(Sent{deadline, std::move(reply)});
    to_write_.push_back(std::move(request));
    if (started_ && !writing_) {
      writing_ = true;
      write = &to_write_.front();
    }
    if (deadline < timer_at_) {
      timer_at_ = deadline;
      arm = true;
    }
  }
  // A deque's elements stay put while others are added, and only
  // OnWriteDone removes this one.
  if (write != nullptr) rw_->Write(*write, AsTag(&written_tag_));
  if (arm) ArmTimer(deadline);
  return true;
}

template <typename Request, typename Response>
bool BatchStream<Request, Response>::ended() {
  absl::MutexLock lock(&mu_);
  return ended_;
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::OnStarted(bool ok) {
  const Request* write = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!ok) {  // never started: nothing else is outstanding
      ended_ = true;
    } else {
      started_ = true;
      if (!to_write_.empty()) {
        writing_ = true;
        write = &to_write_.front();
      }
    }
  }
  if (!ok) {
    rw_->Finish(&status_, AsTag(&finished_tag_));
    return;
  }
  rw_->Read(&response_, AsTag(&read_tag_));
  if (write != nullptr) rw_->Write(*write, AsTag(&written_tag_));
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::OnWriteDone(bool ok) {
  const Request* next = nullptr;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    to_write_.pop_front();
    // !ok: the call is ending, and the read fails too.
    if (ok && !read_failed_ && !to_write_.empty()) {
      next = &to_write_.front();
    } else {
      writing_ = false;
      finish = read_failed_;
    }
  }
  if (next != nullptr) rw_->Write(*next, AsTag(&written_tag_));
  // Finish must not overlap a write: a failed read left it to us.
  if (finish) rw_->Finish(&status_, AsTag(&finished_tag_));
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::OnReadDone(bool ok) {
  if (!ok) {  // the call is ending; OnDone fails what is left
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      read_failed_ = true;
      finish = !writing_;
    }
    if (finish) rw_->Finish(&status_, AsTag(&finished_tag_));
    return;
  }
  Reply reply;
  {
    absl::MutexLock lock(&mu_);
    if (!sent_.empty()) {
      reply = std::move(sent_.front().reply);
      sent_.pop_front();
    } else {
      unexpected_ = true;
    }
  }
  if (reply == nullptr) {  // an answer nobody asked for: end the call
    ctx_.TryCancel();
  } else {
    runner_->NoteEpoch(response_.epoch());
    AttemptResult result;
    result.node_answered = true;
    reply(std::move(result), &response_);
  }
  response_.Clear();
  rw_->Read(&response_, AsTag(&read_tag_));
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::OnDone(bool /*ok*/) {
  std::deque<Sent> left;
  bool overdue;
  bool unexpected;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    left.swap(sent_);
    overdue = overdue_;
    unexpected = unexpected_;
  }
  const grpc::Status& status = status_;
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // A node that predates the method: unary calls from now on.
    slot_->unsupported.store(true);
  }
  {
    absl::MutexLock lock(&slot_->mu);
    if (slot_->stream.get() == this) slot_->stream.reset();
  }
  AttemptResult result = runner_->Examine(ctx_, status);
  // A node that drains ends the stream between messages and says so: what
  // it did not answer it never read, and may go to another node. Only when
  // the node itself ended the call: after a cancel of ours, gRPC may still
  // show the trailer while dropping an answer it had received.
  if (!overdue && !unexpected && !cancelled_.load() &&
      status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      ctx_.GetServerTrailingMetadata().count("sesh-unprocessed") > 0) {
    result.never_sent = true;
  }
  if (unexpected) {
    result.status = absl::InternalError(absl::StrCat(
        "node ", node_->address, " answered more batches than it was sent"));
  } else if (result.status.ok() ||
             result.status.code() == absl::StatusCode::kCancelled) {
    result.status = absl::UnavailableError(
        absl::StrCat("the stream to node ", node_->address,
                     " ended: ", status.error_message()));
  }
  // Cancelled for an overdue batch: that one (and any other past its
  // deadline) failed by time; the rest may retry.
  AttemptResult late = result;
  late.status = absl::DeadlineExceededError(absl::StrCat(
      "no answer from node ", node_->address, " before the deadline"));
  const absl::Time now = runner_->scheduler()->Now();
  for (Sent& sent : left) {
    sent.reply(overdue && sent.deadline <= now ? late : result, nullptr);
  }
  OpCounter* ops = ops_;
  std::shared_ptr<BatchStream> self = std::move(self_);  // may delete this
  self.reset();
  ops->End();
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::ArmTimer(absl::Time when) {
  std::weak_ptr<BatchStream> weak = this->shared_from_this();
  runner_->scheduler()->RunAt(when, [weak, when] {
    if (std::shared_ptr<BatchStream> stream = weak.lock()) {
      stream->OnTimer(when);
    }
  });
}

template <typename Request, typename Response>
void BatchStream<Request, Response>::OnTimer(absl::Time armed_for) {
  absl::Time next = absl::InfiniteFuture();
  bool overdue;
  {
    absl::MutexLock lock(&mu_);
    if (armed_for != timer_at_) return;  // superseded by an earlier one
    timer_at_ = absl::InfiniteFuture();
    if (ended_) return;
    for (const Sent& sent : sent_) next = std::min(next, sent.deadline);
    if (next == absl::InfiniteFuture()) return;  // the next Send arms it
    overdue = next <= runner_->scheduler()->Now();
    overdue_ = overdue_ || overdue;
    if (!overdue) timer_at_ = next;
  }
  if (overdue) {
    ctx_.TryCancel();
  } else {
    ArmTimer(next);
  }
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_BATCH_STREAM_H_

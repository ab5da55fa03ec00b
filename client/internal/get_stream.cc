#include "client/internal/get_stream.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sesh {
namespace client_internal {

std::shared_ptr<GetStream> GetStream::OpenFor(NodeConn* node,
                                              const AttemptRunner* runner,
                                              OpCounter* ops) {
  std::shared_ptr<GetStream> stream;
  {
    absl::MutexLock lock(&node->stream_mu);
    if (node->stream != nullptr && !node->stream->ended()) return node->stream;
    if (!ops->Begin()) return nullptr;  // the stream's op, ended by OnDone
    node->stream = std::make_shared<GetStream>(runner, ops, node);
    stream = node->stream;
  }
  stream->Begin();
  return stream;
}

void GetStream::Begin() {
  self_ = shared_from_this();
  node_->PrepareContext(&ctx_);
  rw_ = node_->sessions->PrepareAsyncStreamGet(&ctx_, runner_->queue());
  rw_->StartCall(AsTag(&started_tag_));
}

bool GetStream::Send(v1::BatchGetRequest&& request, absl::Time deadline,
                     BatchReply&& reply) {
  bool arm = false;
  const v1::BatchGetRequest* write = nullptr;
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

bool GetStream::ended() {
  absl::MutexLock lock(&mu_);
  return ended_;
}

void GetStream::OnStarted(bool ok) {
  const v1::BatchGetRequest* write = nullptr;
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

void GetStream::OnWriteDone(bool ok) {
  const v1::BatchGetRequest* next = nullptr;
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

void GetStream::OnReadDone(bool ok) {
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
  BatchReply reply;
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

void GetStream::OnDone(bool /*ok*/) {
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
    // A node that predates StreamGet: unary calls from now on.
    node_->streams_unsupported.store(true);
  }
  {
    absl::MutexLock lock(&node_->stream_mu);
    if (node_->stream.get() == this) node_->stream.reset();
  }
  AttemptResult result = runner_->Examine(ctx_, status);
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
  std::shared_ptr<GetStream> self = std::move(self_);  // may delete this
  self.reset();
  ops->End();
}

void GetStream::ArmTimer(absl::Time when) {
  std::weak_ptr<GetStream> weak = shared_from_this();
  runner_->scheduler()->RunAt(when, [weak, when] {
    if (std::shared_ptr<GetStream> stream = weak.lock()) {
      stream->OnTimer(when);
    }
  });
}

void GetStream::OnTimer(absl::Time armed_for) {
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

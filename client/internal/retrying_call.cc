#include "client/internal/retrying_call.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sesh {
namespace client_internal {
namespace {

absl::Duration Jittered(absl::Duration d) {
  thread_local absl::BitGen gen;
  return d * absl::Uniform(gen, 0.5, 1.0);
}

// One public call: picks a node per attempt, retries per its policy, and
// calls `finish` exactly once, never inside Start(). Owned by shared_ptrs
// held by Start() and by the pending attempt or timer.
class RetryingCall : public std::enable_shared_from_this<RetryingCall> {
 public:
  RetryingCall(const CallEnv* env, Route route, bool idempotent,
               absl::Time deadline, SendFn send, FinishFn finish)
      : env_(env),
        route_(std::move(route)),
        idempotent_(idempotent),
        max_attempts_(env->policy.max_attempts),
        deadline_(deadline),
        send_(std::move(send)),
        finish_(std::move(finish)) {}

  void Start();

 private:
  void Attempt();
  void OnAttemptDone(NodeConn* node, absl::Time attempt_deadline,
                     AttemptResult result);
  void Finish(absl::Status status);
  void Deliver(absl::Status status);

  const CallEnv* const env_;
  const Route route_;
  const bool idempotent_;
  const int max_attempts_;
  const absl::Time deadline_;
  const SendFn send_;
  FinishFn finish_;
  // True while Start() runs: a finish then goes through the scheduler.
  std::atomic<bool> starting_{false};
  // Attempts are sequential: only the thread running the current attempt
  // (or its completion) touches these.
  int attempts_ = 0;
  std::vector<NodeConn*> tried_;
};

void RetryingCall::Start() {
  auto self = shared_from_this();  // alive until Start returns
  starting_.store(true);
  Attempt();
  starting_.store(false);
}

void RetryingCall::Attempt() {
  ++attempts_;
  const absl::Time now = absl::Now();
  std::vector<NodeConn*> candidates = env_->router->Candidates(route_);
  if (candidates.empty()) {
    Finish(route_.kind == Route::Kind::kOneNode
               ? absl::NotFoundError(
                     absl::StrCat("no node ", route_.node_id, " in topology"))
               : absl::UnavailableError("no node known to send to"));
    return;
  }
  // The best candidate not tried yet by this call; when all were, the best.
  NodeConn* node = candidates.front();
  for (NodeConn* c : candidates) {
    if (std::find(tried_.begin(), tried_.end(), c) == tried_.end()) {
      node = c;
      break;
    }
  }
  tried_.push_back(node);
  absl::Time attempt_deadline = deadline_;
  if (idempotent_ && attempts_ < max_attempts_) {
    attempt_deadline =
        std::min(deadline_, now + env_->policy.timeout / max_attempts_);
  }
  auto self = shared_from_this();
  send_(node, attempt_deadline,
        [self, node, attempt_deadline](AttemptResult result) {
          self->OnAttemptDone(node, attempt_deadline, std::move(result));
        });
}

void RetryingCall::OnAttemptDone(NodeConn* node, absl::Time attempt_deadline,
                                 AttemptResult result) {
  if (result.status.ok()) {
    Finish(absl::OkStatus());
    return;
  }
  const absl::StatusCode code = result.status.code();
  const absl::Time now = absl::Now();
  if (!result.node_answered && (code == absl::StatusCode::kUnavailable ||
                                code == absl::StatusCode::kDeadlineExceeded)) {
    // The node itself did not answer: avoid it for a while, and ask the
    // cluster whether it is still a member / still up.
    node->MarkSuspect(now);
    env_->router->RequestRefresh(std::nullopt);
  }
  bool retry;
  if (idempotent_) {
    retry = code == absl::StatusCode::kUnavailable ||
            (code == absl::StatusCode::kDeadlineExceeded &&
             attempt_deadline < deadline_);
  } else {
    retry = result.never_sent;
  }
  if (!retry || attempts_ >= max_attempts_ || now >= deadline_) {
    Finish(std::move(result.status));
    return;
  }
  const RetryPolicy& policy = env_->policy;
  absl::Duration backoff = absl::ZeroDuration();
  if (!result.never_sent) {
    backoff = policy.initial_backoff;
    for (int i = 1; i < attempts_ && backoff < policy.max_backoff; ++i) {
      backoff *= 2;
    }
    backoff = Jittered(std::min(backoff, policy.max_backoff));
  }
  if (now + backoff >= deadline_) {
    Finish(std::move(result.status));
    return;
  }
  if (backoff == absl::ZeroDuration()) {
    Attempt();
    return;
  }
  auto self = shared_from_this();
  env_->scheduler->RunAt(now + backoff, [self] { self->Attempt(); });
}

void RetryingCall::Finish(absl::Status status) {
  if (starting_.load()) {
    // Possibly inside Start(), i.e. inside the caller's *Async call.
    auto self = shared_from_this();
    env_->scheduler->RunAt(absl::InfinitePast(),
                           [self, status] { self->Deliver(status); });
    return;
  }
  Deliver(std::move(status));
}

void RetryingCall::Deliver(absl::Status status) {
  FinishFn finish = std::move(finish_);
  finish(std::move(status));
  env_->ops->End();
}

}  // namespace

void StartCall(const CallEnv& env, Route route, bool idempotent, SendFn send,
               FinishFn finish) {
  if (!env.ops->Begin()) {
    finish(absl::CancelledError("client is being destroyed"));
    return;
  }
  auto call = std::make_shared<RetryingCall>(
      &env, std::move(route), idempotent, absl::Now() + env.policy.timeout,
      std::move(send), std::move(finish));
  call->Start();
}

}  // namespace client_internal
}  // namespace sesh

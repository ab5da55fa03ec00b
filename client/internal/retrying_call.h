// The retrying call state machine shared by the sync and async forms of every
// public call: each attempt goes to the best candidate node not tried yet by
// the call, and a failed attempt is retried per the call's kind (the rules
// are "Retries" in client/sesh/client.h):
//   - idempotent calls are retried on UNAVAILABLE, and on DEADLINE_EXCEEDED
//     of an attempt (not of the whole call), with exponential backoff; an
//     attempt that is not the last gets at most timeout / max_attempts;
//   - other calls only when the attempt provably never left this process
//     (AttemptResult::never_sent), without backoff.
// An attempt that fails in transport (UNAVAILABLE or DEADLINE_EXCEEDED
// without an answer from the node) marks the node suspect and asks the
// Router for a refresh.

#ifndef SESH_CLIENT_INTERNAL_RETRYING_CALL_H_
#define SESH_CLIENT_INTERNAL_RETRYING_CALL_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/internal/attempt.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/router.h"
#include "client/internal/scheduler.h"

namespace sesh {
namespace client_internal {

// Sends one attempt to `node`; calls `done` exactly once, possibly inline.
using SendFn =
    std::function<void(NodeConn* node, absl::Time deadline, AttemptDone done)>;
// Receives the call's outcome.
using FinishFn = std::function<void(absl::Status)>;

struct RetryPolicy {
  // Attempts per call, first one included. >= 1.
  int max_attempts = 1;
  // Bound on a call as a whole, retries and backoff included. > 0.
  absl::Duration timeout = absl::Seconds(2);
  // Backoff before the second attempt; doubles per attempt up to
  // max_backoff, jittered to [50%, 100%].
  absl::Duration initial_backoff = absl::ZeroDuration();
  absl::Duration max_backoff = absl::ZeroDuration();
};

// What the calls of one client share. Everything pointed to must outlive
// every call.
struct CallEnv {
  RetryPolicy policy;
  Router* router = nullptr;
  // Runs backoff timers and the finishes that must not run inline.
  Scheduler* scheduler = nullptr;
  // Each call holds one op from StartCall until `finish` has returned.
  OpCounter* ops = nullptr;
};

// Starts a call with a deadline of now + policy.timeout. `finish` runs
// exactly once, on the queue or the scheduler thread, never inside
// StartCall; except once env.ops is shutting down: then at once, inline, with
// CANCELLED.
void StartCall(const CallEnv& env, Route route, bool idempotent, SendFn send,
               FinishFn finish);

// StartCall for a call whose every attempt is one unary RPC of `req` into
// `resp` (see AttemptRunner::SendUnary for `invoke`). `req` and `resp` are
// kept until the call has finished.
template <typename Req, typename Resp, typename Invoke>
void StartUnaryCall(const CallEnv& env, const AttemptRunner& runner,
                    Route route, bool idempotent, std::shared_ptr<Req> req,
                    std::shared_ptr<Resp> resp, Invoke invoke,
                    FinishFn finish) {
  StartCall(
      env, std::move(route), idempotent,
      [&runner, req, resp, invoke](NodeConn* node, absl::Time deadline,
                                   AttemptDone done) {
        runner.SendUnary(node, deadline, req.get(), resp.get(), invoke,
                         std::move(done));
      },
      std::move(finish));
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_RETRYING_CALL_H_

// Time and timers for the client's internals, injected so that tests can
// drive them by hand (see get_coalescer_test.cc).

#ifndef SESH_CLIENT_INTERNAL_SCHEDULER_H_
#define SESH_CLIENT_INTERNAL_SCHEDULER_H_

#include <functional>

#include "absl/time/time.h"

namespace sesh {
namespace client_internal {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  virtual absl::Time Now() = 0;

  // Runs `fn` once, at or soon after `when` (immediately if it has passed),
  // on a thread of the scheduler's choosing, never inside RunAt itself.
  // Pending functions may be dropped when the scheduler shuts down.
  virtual void RunAt(absl::Time when, std::function<void()> fn) = 0;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_SCHEDULER_H_

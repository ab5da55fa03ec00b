// Counts a client's operations in flight (its calls, and work done on their
// behalf), so that the client's destructor can wait for them all to end.

#ifndef SESH_CLIENT_INTERNAL_OP_COUNTER_H_
#define SESH_CLIENT_INTERNAL_OP_COUNTER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sesh {
namespace client_internal {

// Thread-safe.
class OpCounter {
 public:
  OpCounter() = default;
  OpCounter(const OpCounter&) = delete;
  OpCounter& operator=(const OpCounter&) = delete;

  // Counts one more op; false (nothing counted) once Shutdown() has begun.
  bool Begin();
  // Counts one more op even after Shutdown(): for work on behalf of an op
  // that is counted already (so AwaitZero cannot have returned yet).
  void Hold();
  // Ends an op counted by Begin() or Hold().
  void End();

  // Begin() fails from now on.
  void Shutdown();
  // Blocks until every counted op has ended.
  void AwaitZero();

 private:
  absl::Mutex mu_;
  // Protected by mu_.
  int ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_OP_COUNTER_H_

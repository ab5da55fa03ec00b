#ifndef SESH_REPLICATION_JOIN_H_
#define SESH_REPLICATION_JOIN_H_

#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sesh {

// Counts down a fan-out of `count` calls and answers once, when the last
// one arrives, with the first error if any. Status is absl::Status or
// grpc::Status (anything with ok()). Thread-safe.
template <typename Status>
class Join {
 public:
  Join(int count, std::function<void(Status)> done)
      : remaining_(count), done_(std::move(done)) {}

  void Arrive(const Status& status) {
    std::function<void(Status)> done;
    Status result;
    {
      absl::MutexLock lock(&mu_);
      if (!status.ok() && first_error_.ok()) first_error_ = status;
      if (--remaining_ != 0) return;
      done = std::move(done_);
      result = first_error_;
    }
    done(result);
  }

 private:
  absl::Mutex mu_;
  int remaining_ ABSL_GUARDED_BY(mu_);
  Status first_error_ ABSL_GUARDED_BY(mu_);
  std::function<void(Status)> done_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_REPLICATION_JOIN_H_

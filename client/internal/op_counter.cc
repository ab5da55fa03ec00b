#include "client/internal/op_counter.h"

namespace sesh {
namespace client_internal {

bool OpCounter::Begin() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  ++ops_;
  return true;
}

void OpCounter::Hold() {
  absl::MutexLock lock(&mu_);
  ++ops_;
}

void OpCounter::End() {
  absl::MutexLock lock(&mu_);
  --ops_;
}

void OpCounter::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
}

void OpCounter::AwaitZero() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* ops) { return *ops == 0; }, &ops_));
}

}  // namespace client_internal
}  // namespace sesh

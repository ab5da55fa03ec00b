#ifndef SESH_NODE_WORKER_POOL_H_
#define SESH_NODE_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sesh {

// A fixed set of threads for work that may block on storage (peer Apply of
// a large batch, Fetch scans), so that gRPC's threads never wait on
// RocksDB and an I/O stall cannot look like a dead node. The queue is
// bounded: past max_queued, TrySchedule refuses and the caller answers
// RESOURCE_EXHAUSTED. Thread-safe.
class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queued);
  // Runs the queued work, then joins the threads.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues fn to run on a pool thread; false (fn dropped) if the queue is
  // full or the pool is shutting down.
  bool TrySchedule(std::function<void()> fn);

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sesh

#endif  // SESH_NODE_WORKER_POOL_H_

#ifndef SESH_TESTS_RECORDED_LOAD_H_
#define SESH_TESTS_RECORDED_LOAD_H_

// A Jepsen-style recorded load for multi-process tests (scaling, rolling
// restarts): client threads create, update, read with get+touch and destroy
// sessions, record every acknowledged operation and check every read against
// it; CheckAll checks every session on every node afterwards.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/sesh/client.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "tests/node_process.h"

namespace sesh {
namespace testing {

// What the checker knows of one session; written by its owning thread.
struct History {
  int64_t last_acked = 0;
  int64_t last_attempted = 0;
  bool destroy_acked = false;
  bool destroy_attempted = false;
};


// The node's NodeStats through a fresh channel (admin token).
absl::StatusOr<v1::NodeStatsResponse> NodeStats(NodeProcess& node);

// A recorded load: each thread creates sessions, updates a counter in them,
// reads them with get+touch and destroys some, and checks every read
// against what was acknowledged before it. Errors are counted per phase.
class RecordedLoad {
 public:
  static constexpr int kPhases = 8;

  RecordedLoad(Client* client, int threads) : client_(client) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] { Run(t); });
    }
  }
  ~RecordedLoad() { Stop(); }

  void SetPhase(int phase) { phase_.store(phase); }
  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int64_t ops(int phase) const { return ops_[phase].load(); }
  int64_t errors(int phase) const { return errors_[phase].load(); }
  // Reads (get+touch) that failed, any code, in `phase`.
  int64_t read_errors(int phase) const { return read_errors_[phase].load(); }
  int64_t longest_read_outage_ms() const { return longest_outage_.load(); }
  std::vector<std::string> violations() {
    absl::MutexLock lock(&mu_);
    return violations_;
  }
  std::map<std::string, History> histories() {
    absl::MutexLock lock(&mu_);
    return histories_;
  }

 private:
  void Violation(std::string what);
  void Count(const absl::Status& status, const char* op);
  void Run(int t);

  Client* const client_;
  std::atomic<bool> stop_{false};
  std::atomic<int> phase_{0};
  std::atomic<int64_t> ops_[kPhases] = {};
  std::atomic<int64_t> errors_[kPhases] = {};
  std::atomic<int64_t> read_errors_[kPhases] = {};
  std::atomic<int64_t> longest_outage_{0};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::vector<std::string> violations_;
  std::map<std::string, History> histories_;
};

// Every session of `histories` read through each node of `ids`, and each
// replica's own copy under the final placement (at least a quorum of them
// must hold every acknowledged write).
// `members` (default: `ids`) are the node numbers of the final membership,
// n<i> for each i.
void CheckAll(const std::map<int, NodeProcess*>& nodes,
              const std::vector<int>& ids,
              const std::map<std::string, History>& histories,
              std::vector<int> members = {});
void CheckAll(const std::map<int, std::unique_ptr<NodeProcess>>& nodes,
              const std::vector<int>& ids,
              const std::map<std::string, History>& histories,
              std::vector<int> members = {});

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_RECORDED_LOAD_H_

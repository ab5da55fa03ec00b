#include "tests/recorded_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "tests/cluster_calls.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace testing {

namespace {
constexpr int64_t kIdle = kTestIdleMs;
}  // namespace

// A fresh channel per call: a cached one that failed its handshakes while
// the machine was busy was seen to stay failing for a minute.
absl::StatusOr<v1::NodeStatsResponse> NodeStats(NodeProcess& node) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(5000));
  v1::NodeStatsResponse stats;
  grpc::Status s = v1::Cluster::NewStub(
                       ClientChannel(
                           node.address(), Credentials().admin_token))
                       ->NodeStats(&ctx, {}, &stats);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return stats;
}

void RecordedLoad::Violation(std::string what) {
  absl::MutexLock lock(&mu_);
  if (violations_.size() < 20) violations_.push_back(std::move(what));
}
void RecordedLoad::Count(const absl::Status& status, const char* op) {
  const int phase = phase_.load();
  ops_[phase].fetch_add(1);
  if (status.ok()) return;
  if (errors_[phase].fetch_add(1) < 3) {
    fprintf(stderr, "phase %d: %s: %s\n", phase, op,
            status.ToString().c_str());
  }
}

void RecordedLoad::Run(int t) {
  std::map<std::string, History> mine;
  std::vector<std::string> live;
  int64_t failing_since = 0;
  for (int step = 0; !stop_.load(); ++step) {
    if (live.size() < 8 || step % 10 == 0) {
      CreateOptions create;
      create.user_id = absl::StrCat("user", t);
      create.idle_timeout_ms = kIdle;
      create.attributes["n"] = "0";
      absl::StatusOr<SessionData> created = client_->Create("shop", create);
      Count(created.status(), "create");
      if (created.ok()) {
        mine[created->id] = History();
        live.push_back(created->id);
      }
      continue;
    }
    const std::string id = live[step % live.size()];
    History& h = mine[id];
    if (step % 3 == 0) {
      UpdateOptions update;
      update.set["n"] = absl::StrCat(h.last_attempted + 1);
      h.last_attempted += 1;
      const absl::Status updated =
          client_->Update("shop", id, update).status();
      Count(updated, "update");
      if (updated.ok()) h.last_acked = h.last_attempted;
    } else if (step % 17 == 0) {
      h.destroy_attempted = true;
      const absl::Status destroyed = client_->Destroy("shop", id);
      h.destroy_acked = destroyed.ok();
      Count(destroyed, "destroy");
      live.erase(std::find(live.begin(), live.end(), id));
    } else {
      const History before = h;
      absl::StatusOr<SessionData> read = client_->Get("shop", id);
      Count(read.status(), "get+touch");
    if (!read.ok()) read_errors_[phase_.load()].fetch_add(1);
      if (!read.ok() && absl::IsUnavailable(read.status())) {
        if (failing_since == 0) failing_since = NowMs();
        const int64_t outage = NowMs() - failing_since;
        int64_t longest = longest_outage_.load();
        while (outage > longest &&
               !longest_outage_.compare_exchange_weak(longest, outage)) {
        }
        continue;
      }
      failing_since = 0;
      if (!read.ok()) {
        Violation(absl::StrCat(id.substr(0, 8), ": read failed ",
                               read.status().ToString()));
        continue;
      }
      int64_t n = -1;
      auto it = read->attributes.find("n");
      if (it == read->attributes.end() || !absl::SimpleAtoi(it->second, &n)) {
        Violation(absl::StrCat(id.substr(0, 8), ": no counter"));
      } else if (n < before.last_acked) {
        Violation(absl::StrCat(id.substr(0, 8), ": read ", n,
                               " after update ", before.last_acked,
                               " was acknowledged"));
      } else if (n > before.last_attempted) {
        Violation(
            absl::StrCat(id.substr(0, 8), ": read ", n, ", never written"));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  histories_.insert(mine.begin(), mine.end());
}

// Every session of `histories` read through each node of `ids`, and each
// replica's own copy under the final placement (at least a quorum of them
// must hold every acknowledged write).
void CheckAll(const std::map<int, std::unique_ptr<NodeProcess>>& nodes,
              const std::vector<int>& ids,
              const std::map<std::string, History>& histories,
              std::vector<int> members) {
  std::map<int, NodeProcess*> pointers;
  for (const auto& [i, node] : nodes) pointers[i] = node.get();
  CheckAll(pointers, ids, histories, std::move(members));
}

void CheckAll(const std::map<int, NodeProcess*>& nodes,
              const std::vector<int>& ids,
              const std::map<std::string, History>& histories,
              std::vector<int> members) {
  if (members.empty()) members = ids;
  // Writes a replica missed reach it as hints: wait until none is held
  // (with every member running).
  const bool drained =
      ids.size() < members.size() || PollUntil(30000, 100, [&] {
        for (int i : ids) {
          absl::StatusOr<v1::NodeStatsResponse> stats = NodeStats(*nodes.at(i));
          if (!stats.ok() || stats->hints_queued() != 0) return false;
        }
        return true;
      });
  EXPECT_TRUE(drained) << "hints still held";
  std::vector<std::string> names;
  for (int i : members) names.push_back(absl::StrCat("n", i));
  absl::StatusOr<PlacementMap> placement = PlacementMap::Build(names, 3);
  ASSERT_TRUE(placement.ok());
  int checked = 0;
  for (const auto& [id, h] : histories) {
    for (int i : ids) {
      v1::Session session;
      grpc::Status status;
      // Data is checked here, not availability: a read that cannot be
      // completed yet (UNAVAILABLE) is asked again.
      PollUntil(10000, 100, [&] {
        status = GetThrough(*nodes.at(i), id, &session);
        return status.error_code() != grpc::StatusCode::UNAVAILABLE;
      });
      if (h.destroy_acked) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
            << "n" << i << ": an acknowledged destroy came back: " << id;
        continue;
      }
      if (h.destroy_attempted &&
          status.error_code() == grpc::StatusCode::NOT_FOUND) {
        continue;
      }
      ASSERT_TRUE(status.ok())
          << "n" << i
          << ": acknowledged session lost: " << status.error_message();
      int64_t n = 0;
      ASSERT_TRUE(absl::SimpleAtoi(session.attributes().at("n"), &n));
      EXPECT_GE(n, h.last_acked) << "n" << i << ": acknowledged update lost";
    }
    absl::StatusOr<std::string> raw = DecodeId(id);
    ASSERT_TRUE(raw.ok());
    int current = 0;
    int down = 0;
    for (uint8_t r : placement->Replicas(PartitionOf(*raw))) {
      const int node = members[r];
      if (!nodes.at(node)->running()) {
        ++down;
        continue;
      }
      auto copy = ReadReplica(*nodes.at(node), id);
      ASSERT_TRUE(copy.ok()) << copy.status();
      if (!copy->has_value()) continue;
      const internal::SessionRecord& record = **copy;
      if (h.destroy_acked) {
        current += record.destroyed() ? 1 : 0;
      } else if (record.destroyed()) {
        current += h.destroy_attempted ? 1 : 0;
      } else {
        int64_t n = 0;
        auto it = record.attributes().find("n");
        if (it != record.attributes().end() &&
            absl::SimpleAtoi(it->second.value(), &n) && n >= h.last_acked) {
          ++current;
        }
      }
    }
    // With a replica down, the other two must both hold it.
    EXPECT_GE(current, 2 - down)
        << id.substr(0, 8)
        << ": fewer than a quorum of its replicas hold "
           "every acknowledged write";
    ++checked;
  }
  fprintf(stderr, "checked %d sessions on %zu nodes\n", checked, ids.size());
}

}  // namespace testing
}  // namespace sesh

#include "replication/placement.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

// The cluster sizes the balance and movement sweeps cover (every N).
constexpr int kSweepMinNodes = 3;
constexpr int kSweepMaxNodes = 50;
// Most and least loaded node, relative to the mean.
constexpr double kMaxOverMean = 1.05;
constexpr double kMinOverMean = 0.95;
// Allowed excess of the moved fraction over the ideal 1 / (larger N).
constexpr double kMovementSlack = 0.02;

std::vector<std::string> NodeIds(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat("sesh-", i));
  return ids;
}

std::vector<std::string> Without(std::vector<std::string> ids,
                                 const std::string& gone) {
  ids.erase(std::remove(ids.begin(), ids.end(), gone), ids.end());
  return ids;
}

// For a test that cannot go on without the map (the sweeps): aborts the test
// binary, like a failed CHECK.
PlacementMap MustBuild(std::vector<std::string> ids, int replication_factor) {
  absl::StatusOr<PlacementMap> map =
      PlacementMap::Build(std::move(ids), replication_factor);
  if (!map.ok()) {
    std::cerr << "Build failed: " << map.status() << "\n";
    std::abort();
  }
  return *std::move(map);
}

// Maps each index of map.nodes() to K for an id "sesh-K", so that maps of
// different memberships can be compared.
std::vector<int> GlobalIds(const PlacementMap& map) {
  std::vector<int> global;
  for (const std::string& id : map.nodes()) {
    int k = -1;
    if (!absl::SimpleAtoi(absl::string_view(id).substr(5), &k)) std::abort();
    global.push_back(k);
  }
  return global;
}

struct Load {
  double max_over_mean = 0;
  double min_over_mean = 0;
};

// Load over nodes counting, per partition, the first `ranks` replicas.
Load LoadOf(const PlacementMap& map, int ranks) {
  std::vector<int64_t> count(map.nodes().size());
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    absl::Span<const uint8_t> replicas = map.Replicas(p);
    for (int r = 0; r < ranks; ++r) ++count[replicas[r]];
  }
  const double mean =
      static_cast<double>(kPartitionCount) * ranks / map.nodes().size();
  const auto [min, max] = std::minmax_element(count.begin(), count.end());
  return Load{*max / mean, *min / mean};
}

std::string Fmt(double x) { return absl::StrFormat("%.4f", x); }

TEST(PlacementTest, PartitionOf_FixedRawIds_MatchPinnedValues) {
  std::string zeros(kRawIdSize, '\0');
  std::string counting(kRawIdSize, '\0');
  for (size_t i = 0; i < kRawIdSize; ++i) counting[i] = static_cast<char>(i);
  std::string ones(kRawIdSize, '\xff');

  // Pinned: these decide where stored sessions live. Never update them
  // without a data migration plan.
  EXPECT_EQ(PartitionOf(zeros), 117149u);
  EXPECT_EQ(PartitionOf(counting), 412677u);
  EXPECT_EQ(PartitionOf(ones), 394226u);
}

TEST(PlacementTest, MembershipEpoch_FixedMembership_MatchesPinnedValue) {
  // XXH3_64bits("sesh-0\nsesh-1\nsesh-2\n3").
  EXPECT_EQ(MembershipEpoch({"sesh-2", "sesh-0", "sesh-1"}, 3),
            10772502922501763248u);
}

TEST(PlacementTest, Build_FiveNodesRf3_MatchesPinnedMap) {
  const PlacementMap map = MustBuild(NodeIds(5), 3);
  const std::string& bytes = map.Serialized();
  // Pinned, like PartitionOf: a change here moves stored data on upgrade.
  // The two lists were also checked against a naive implementation of the
  // score formula in placement.cc.
  EXPECT_EQ(XXH3_64bits(bytes.data(), bytes.size()), 8896539801460521890u);
  const absl::Span<const uint8_t> first = map.Replicas(0);
  EXPECT_EQ(std::vector<uint8_t>(first.begin(), first.end()),
            std::vector<uint8_t>({3, 1, 2}));
  const absl::Span<const uint8_t> last = map.Replicas(kPartitionCount - 1);
  EXPECT_EQ(std::vector<uint8_t>(last.begin(), last.end()),
            std::vector<uint8_t>({0, 4, 2}));
}

TEST(PlacementTest, MembershipEpoch_InputOrder_DoesNotMatter) {
  EXPECT_EQ(MembershipEpoch({"b", "a", "c"}, 2),
            MembershipEpoch({"a", "b", "c"}, 2));
}

TEST(PlacementTest, MembershipEpoch_OtherNodesOrReplicationFactor_Differs) {
  const uint64_t base = MembershipEpoch({"a", "b", "c"}, 2);
  EXPECT_NE(MembershipEpoch({"a", "b", "c"}, 3), base);
  EXPECT_NE(MembershipEpoch({"a", "b"}, 2), base);
  EXPECT_NE(MembershipEpoch({"a", "b", "d"}, 2), base);
  EXPECT_NE(base, 0u);
}

TEST(PlacementTest, Build_AnyInputOrder_GivesByteIdenticalMap) {
  const std::vector<std::string> ids = NodeIds(12);
  const PlacementMap reference = MustBuild(ids, 3);

  std::vector<std::vector<std::string>> orders;
  orders.emplace_back(ids.rbegin(), ids.rend());
  std::vector<std::string> rotated = ids;
  std::rotate(rotated.begin(), rotated.begin() + 5, rotated.end());
  orders.push_back(rotated);
  std::mt19937 rng(42);
  std::vector<std::string> shuffled = ids;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  orders.push_back(shuffled);

  for (const std::vector<std::string>& order : orders) {
    const PlacementMap map = MustBuild(order, 3);
    EXPECT_EQ(map.nodes(), reference.nodes());
    EXPECT_EQ(map.epoch(), reference.epoch());
    EXPECT_TRUE(map.Serialized() == reference.Serialized());
  }
  EXPECT_TRUE(
      std::is_sorted(reference.nodes().begin(), reference.nodes().end()));
}

TEST(PlacementTest, Replicas_AnySizeAndFactor_DistinctAndOfLengthMinRfN) {
  for (int n : {1, 2, 3, 5, 8}) {
    for (int rf : {1, 2, 3, 4, 5, 7}) {
      SCOPED_TRACE(absl::StrCat("N=", n, " RF=", rf));
      const PlacementMap map = MustBuild(NodeIds(n), rf);
      const int want = std::min(rf, n);
      ASSERT_EQ(map.replication_factor(), want);
      ASSERT_EQ(map.Serialized().size(), size_t{kPartitionCount} * want);
      EXPECT_EQ(map.epoch(), MembershipEpoch(map.nodes(), want));
      int64_t bad = 0;
      for (uint32_t p = 0; p < kPartitionCount; ++p) {
        absl::Span<const uint8_t> replicas = map.Replicas(p);
        std::vector<uint8_t> sorted(replicas.begin(), replicas.end());
        std::sort(sorted.begin(), sorted.end());
        const bool ok =
            static_cast<int>(replicas.size()) == want &&
            std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() &&
            sorted.back() < n && map.Primary(p) == replicas[0];
        int held = 0;
        for (int node = 0; node < n; ++node) held += map.Holds(node, p);
        if (!ok || held != want) ++bad;
      }
      EXPECT_EQ(bad, 0) << "partitions with a malformed preference list";
    }
  }
}

// Replication factors up to 4 and above 4 take different code paths in
// Build(); both must rank nodes the same way.
TEST(PlacementTest, Replicas_LargerReplicationFactor_ExtendsSmallerOnesList) {
  const int n = 12;
  const PlacementMap full = MustBuild(NodeIds(n), n);
  for (int rf = 1; rf < n; ++rf) {
    SCOPED_TRACE(absl::StrCat("RF=", rf));
    const PlacementMap map = MustBuild(NodeIds(n), rf);
    int64_t mismatched = 0;
    for (uint32_t p = 0; p < kPartitionCount; ++p) {
      if (map.Replicas(p) != full.Replicas(p).subspan(0, rf)) ++mismatched;
    }
    EXPECT_EQ(mismatched, 0);
  }
}

TEST(PlacementTest, Build_InvalidArguments_ReturnInvalidArgument) {
  auto code = [](std::vector<std::string> ids, int rf) {
    return PlacementMap::Build(std::move(ids), rf).status().code();
  };
  EXPECT_EQ(code({}, 3), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "a"}, 3), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "c"}, 0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "c"}, -1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(NodeIds(256), 3), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", ""}, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b\nc"}, 1), absl::StatusCode::kInvalidArgument);
}

TEST(PlacementTest, Build_255Nodes_Succeeds) {
  const PlacementMap map = MustBuild(NodeIds(kMaxNodes), 3);
  EXPECT_EQ(map.nodes().size(), 255u);
  uint8_t highest = 0;
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    for (uint8_t r : map.Replicas(p)) highest = std::max(highest, r);
  }
  EXPECT_EQ(highest, 254);
}

TEST(PlacementTest, Build_ReplicationFactorAboveNodeCount_IsCapped) {
  const PlacementMap map = MustBuild({"b", "a"}, 3);
  EXPECT_EQ(map.replication_factor(), 2);
  EXPECT_EQ(map.epoch(), MembershipEpoch({"a", "b"}, 2));
  EXPECT_EQ(map.Serialized().size(), size_t{kPartitionCount} * 2);
}

TEST(PlacementTest, IndexOf_MemberAndStranger_ReturnIndexOrMinusOne) {
  const PlacementMap map = MustBuild({"c", "a", "b"}, 2);
  EXPECT_EQ(map.IndexOf("a"), 0);
  EXPECT_EQ(map.IndexOf("b"), 1);
  EXPECT_EQ(map.IndexOf("c"), 2);
  EXPECT_EQ(map.IndexOf("d"), -1);
  EXPECT_EQ(map.IndexOf(""), -1);
  EXPECT_FALSE(map.Holds(-1, 0));
  EXPECT_FALSE(map.Holds(3, 0));
}

TEST(PlacementTest, FromSerialized_OfBuiltMap_RoundTrips) {
  const PlacementMap built = MustBuild(NodeIds(7), 3);
  absl::StatusOr<PlacementMap> received = PlacementMap::FromSerialized(
      built.nodes(), built.replication_factor(), built.Serialized());
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->nodes(), built.nodes());
  EXPECT_EQ(received->replication_factor(), built.replication_factor());
  EXPECT_EQ(received->epoch(), built.epoch());
  EXPECT_TRUE(received->Serialized() == built.Serialized());
}

TEST(PlacementTest, FromSerialized_MalformedInput_ReturnsInvalidArgument) {
  const PlacementMap built = MustBuild(NodeIds(7), 3);
  const std::vector<std::string>& nodes = built.nodes();
  const std::string& bytes = built.Serialized();
  auto code = [](std::vector<std::string> ids, int rf, std::string map) {
    return PlacementMap::FromSerialized(std::move(ids), rf, std::move(map))
        .status()
        .code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code(nodes, 3, bytes.substr(1)), kInvalid);
  EXPECT_EQ(code(nodes, 3, bytes + "x"), kInvalid);
  EXPECT_EQ(code(nodes, 3, ""), kInvalid);
  EXPECT_EQ(code(nodes, 2, bytes), kInvalid);  // size of another RF
  EXPECT_EQ(code(nodes, 8, bytes), kInvalid);  // RF above node count
  EXPECT_EQ(code(nodes, 0, ""), kInvalid);
  std::vector<std::string> unsorted = nodes;
  std::swap(unsorted[0], unsorted[1]);
  EXPECT_EQ(code(unsorted, 3, bytes), kInvalid);
  EXPECT_EQ(code({}, 3, bytes), kInvalid);

  std::string out_of_range = bytes;
  out_of_range[3 * 1000 + 1] = 7;
  EXPECT_EQ(code(nodes, 3, out_of_range), kInvalid);
  std::string repeated = bytes;
  repeated[3 * 1000 + 1] = repeated[3 * 1000];
  EXPECT_EQ(code(nodes, 3, repeated), kInvalid);
}

TEST(PlacementTest, Balance_3To50Nodes_WithinFivePercentOfMean) {
  Load worst_rf1, worst_rf3_primary, worst_rf3_any;
  int worst_rf1_n = 0, worst_rf3_primary_n = 0, worst_rf3_any_n = 0;
  double build_ms_50_rf3 = 0;
  for (int n = kSweepMinNodes; n <= kSweepMaxNodes; ++n) {
    SCOPED_TRACE(absl::StrCat("N=", n));
    const Load rf1 = LoadOf(MustBuild(NodeIds(n), 1), 1);

    const auto start = std::chrono::steady_clock::now();
    const PlacementMap map3 = MustBuild(NodeIds(n), 3);
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - start;
    if (n == 50) build_ms_50_rf3 = took.count();
    const Load rf3_primary = LoadOf(map3, 1);
    const Load rf3_any = LoadOf(map3, 3);

    for (const Load& load : {rf1, rf3_primary, rf3_any}) {
      EXPECT_LE(load.max_over_mean, kMaxOverMean);
      EXPECT_GE(load.min_over_mean, kMinOverMean);
    }
    if (rf1.max_over_mean > worst_rf1.max_over_mean) {
      worst_rf1 = rf1;
      worst_rf1_n = n;
    }
    if (rf3_primary.max_over_mean > worst_rf3_primary.max_over_mean) {
      worst_rf3_primary = rf3_primary;
      worst_rf3_primary_n = n;
    }
    if (rf3_any.max_over_mean > worst_rf3_any.max_over_mean) {
      worst_rf3_any = rf3_any;
      worst_rf3_any_n = n;
    }
  }
  RecordProperty("worst_max_over_mean_rf1_primary",
                 Fmt(worst_rf1.max_over_mean));
  RecordProperty("worst_max_over_mean_rf3_primary",
                 Fmt(worst_rf3_primary.max_over_mean));
  RecordProperty("worst_max_over_mean_rf3_any",
                 Fmt(worst_rf3_any.max_over_mean));
  std::cout << "[placement] balance N=3..50, P=2^19: worst max/mean "
            << "RF1 primary " << Fmt(worst_rf1.max_over_mean)
            << " (N=" << worst_rf1_n << "), RF3 primary "
            << Fmt(worst_rf3_primary.max_over_mean)
            << " (N=" << worst_rf3_primary_n << "), RF3 any replica "
            << Fmt(worst_rf3_any.max_over_mean) << " (N=" << worst_rf3_any_n
            << "); Build(50 nodes, RF3) "
            << absl::StrFormat("%.0f", build_ms_50_rf3) << " ms\n";
}

struct Movement {
  // Sum over partitions of max(|old set - new set|, |new set - old set|), over
  // kPartitionCount * (replication factor of the larger cluster).
  double replica_fraction = 0;
  // Partitions whose primary changed, over kPartitionCount.
  double primary_fraction = 0;
  // Partitions where a replica or the primary moved between two nodes that
  // are members both before and after, or where the staying nodes' order
  // changed.
  int64_t violations = 0;
};

// `before` and `after` differ by one node, global id `changed`: added if
// `after` is larger, removed otherwise.
Movement Compare(const PlacementMap& before, const PlacementMap& after,
                 int changed) {
  const bool join = after.nodes().size() > before.nodes().size();
  const PlacementMap& larger = join ? after : before;
  const PlacementMap& smaller = join ? before : after;
  const std::vector<int> larger_ids = GlobalIds(larger);
  const std::vector<int> smaller_ids = GlobalIds(smaller);

  int64_t moved = 0, primaries_moved = 0, violations = 0;
  std::vector<int> big, small, big_without_changed;
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    big.clear();
    small.clear();
    big_without_changed.clear();
    for (uint8_t i : larger.Replicas(p)) big.push_back(larger_ids[i]);
    for (uint8_t i : smaller.Replicas(p)) small.push_back(smaller_ids[i]);
    for (int id : big) {
      if (id != changed) big_without_changed.push_back(id);
    }

    int only_big = 0, only_small = 0;
    bool bad = false;
    for (int id : big) {
      if (std::find(small.begin(), small.end(), id) == small.end()) {
        ++only_big;
        // A replica only the larger cluster has must be on the changed node.
        bad |= id != changed;
      }
    }
    for (int id : small) {
      only_small += std::find(big.begin(), big.end(), id) == big.end();
    }
    // A staying node only gains (leave) or drops (join) a replica in exchange
    // for one the changed node loses or takes.
    bad |= only_small > only_big;
    // Rendezvous ranks the staying nodes the same way in both clusters.
    const size_t common = std::min(small.size(), big_without_changed.size());
    bad |= !std::equal(small.begin(), small.begin() + common,
                       big_without_changed.begin());
    if (big[0] != small[0]) {
      ++primaries_moved;
      bad |= big[0] != changed;
    }
    moved += std::max(only_big, only_small);
    violations += bad;
  }
  return Movement{
      static_cast<double>(moved) /
          (static_cast<double>(kPartitionCount) * larger.replication_factor()),
      static_cast<double>(primaries_moved) / kPartitionCount, violations};
}

// Worst figures of a sweep, as excess over the ideal 1 / (larger N).
struct MovementSummary {
  double worst_replica_excess = -1;
  int worst_replica_n = 0;
  std::string worst_replica_change;
  double worst_primary_excess = -1;
  double worst_replica_ratio = 0;  // replica_fraction * larger N
  int64_t violations = 0;

  void Add(const Movement& m, int larger_n, const std::string& change) {
    const double ideal = 1.0 / larger_n;
    if (m.replica_fraction - ideal > worst_replica_excess) {
      worst_replica_excess = m.replica_fraction - ideal;
      worst_replica_n = larger_n;
      worst_replica_change = change;
    }
    worst_primary_excess =
        std::max(worst_primary_excess, m.primary_fraction - ideal);
    worst_replica_ratio =
        std::max(worst_replica_ratio, m.replica_fraction * larger_n);
    violations += m.violations;
  }
};

// Every N in the sweep: N -> N+1 (join of sesh-N) and N -> N-1 (leave of the
// first, middle and last id).
MovementSummary SweepMovement(int rf) {
  MovementSummary summary;
  std::vector<PlacementMap> window;  // sizes N-1, N, N+1
  window.push_back(MustBuild(NodeIds(kSweepMinNodes - 1), rf));
  window.push_back(MustBuild(NodeIds(kSweepMinNodes), rf));
  for (int n = kSweepMinNodes; n <= kSweepMaxNodes; ++n) {
    SCOPED_TRACE(absl::StrCat("RF=", rf, " N=", n));
    window.push_back(MustBuild(NodeIds(n + 1), rf));
    const PlacementMap& shrunk = window[0];
    const PlacementMap& cur = window[1];
    const PlacementMap& grown = window[2];

    auto check = [&](const Movement& m, int larger_n, const std::string& what) {
      const double bound = 1.0 / larger_n + kMovementSlack;
      EXPECT_LE(m.replica_fraction, bound) << what;
      EXPECT_LE(m.primary_fraction, bound) << what;
      EXPECT_EQ(m.violations, 0) << what;
      summary.Add(m, larger_n, what);
    };
    check(Compare(cur, grown, n), n + 1, absl::StrCat("join sesh-", n));
    check(Compare(cur, shrunk, n - 1), n, absl::StrCat("leave sesh-", n - 1));
    for (int gone : {0, n / 2}) {
      const PlacementMap left =
          MustBuild(Without(NodeIds(n), absl::StrCat("sesh-", gone)), rf);
      check(Compare(cur, left, gone), n, absl::StrCat("leave sesh-", gone));
    }
    window.erase(window.begin());
  }
  return summary;
}

void ReportMovement(int rf, const MovementSummary& s) {
  const std::string prefix = absl::StrCat("rf", rf, "_");
  testing::Test::RecordProperty(prefix + "worst_replica_excess",
                                Fmt(s.worst_replica_excess));
  testing::Test::RecordProperty(prefix + "worst_primary_excess",
                                Fmt(s.worst_primary_excess));
  std::cout << "[placement] movement RF" << rf
            << " N=3..50 (join N->N+1; leave first/middle/last): moved "
               "replica fraction at most 1/N_larger + "
            << Fmt(s.worst_replica_excess)
            << " (worst: " << s.worst_replica_change
            << " at N_larger=" << s.worst_replica_n << "), at most "
            << Fmt(s.worst_replica_ratio)
            << " x 1/N_larger; primaries at most 1/N_larger + "
            << Fmt(s.worst_primary_excess)
            << "; moves between staying nodes: " << s.violations << "\n";
}

TEST(PlacementTest, Movement_Rf1_JoinOrLeaveOfOneNode_MovesOnlyThatNodesShare) {
  const MovementSummary summary = SweepMovement(1);
  EXPECT_EQ(summary.violations, 0);
  ReportMovement(1, summary);
}

TEST(PlacementTest, Movement_Rf3_JoinOrLeaveOfOneNode_MovesOnlyThatNodesShare) {
  const MovementSummary summary = SweepMovement(3);
  EXPECT_EQ(summary.violations, 0);
  ReportMovement(3, summary);
}

TEST(PlacementTest, Holders_OnlyHoldersGetPartitions_SameAsBuildOverThem) {
  absl::StatusOr<PlacementMap> with_joiner =
      PlacementMap::Build({"n1", "n2", "n3", "n4"}, 3, {"n1", "n2", "n3"}, 42);
  ASSERT_TRUE(with_joiner.ok()) << with_joiner.status();
  absl::StatusOr<PlacementMap> three = PlacementMap::Build({"n1", "n2", "n3"}, 3);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(with_joiner->epoch(), 42u);
  EXPECT_EQ(with_joiner->nodes().size(), 4u);
  const int n4 = with_joiner->IndexOf("n4");
  for (uint32_t p = 0; p < kPartitionCount; p += 997) {
    EXPECT_FALSE(with_joiner->Holds(n4, p));
    for (int r = 0; r < 3; ++r) {
      EXPECT_EQ(with_joiner->nodes()[with_joiner->Replicas(p)[r]],
                three->nodes()[three->Replicas(p)[r]]);
    }
  }
  EXPECT_FALSE(
      PlacementMap::Build({"n1", "n2"}, 3, {"n1", "n9"}, 1).ok());
  EXPECT_FALSE(PlacementMap::Build({"n1", "n2"}, 3, {}, 1).ok());
}

}  // namespace
}  // namespace sesh

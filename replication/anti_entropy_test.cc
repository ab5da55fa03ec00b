#include "replication/anti_entropy.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "replication/clock.h"
#include "replication/merge.h"
#include "replication/placement.h"

namespace sesh {
namespace {

using internal::SessionRecord;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kIdle = 60'000;
constexpr int64_t kTtl = 3'600'000;
constexpr uint64_t kStepsPerPass = kPartitionCount / 4096;

// A 32-byte raw id.
std::string RawId(int i) { return absl::StrFormat("%032d", i); }

// Ids of `n` sessions in pairwise different partitions.
std::vector<std::string> IdsInDistinctPartitions(int n) {
  std::vector<std::string> ids;
  std::set<uint32_t> used;
  for (int i = 0; static_cast<int>(ids.size()) < n; ++i) {
    if (used.insert(PartitionOf(RawId(i))).second) ids.push_back(RawId(i));
  }
  return ids;
}

SessionRecord Session(const std::string& id) {
  SessionRecord r;
  r.set_id(id);
  r.set_namespace_("shop");
  r.set_user_id("alice");
  r.set_created_at_ms(kNow - 1000);
  r.set_last_access_ms(kNow - 1000);
  r.set_idle_timeout_ms(kIdle);
  r.set_absolute_deadline_ms(kNow - 1000 + kTtl);
  r.set_version(1 << 16);
  auto& attribute = (*r.mutable_attributes())["cart"];
  attribute.set_value("3 items");
  attribute.set_hlc(1 << 16);
  attribute.set_writer(1);
  return r;
}

SessionRecord Tombstone(const std::string& id) {
  SessionRecord r = Session(id);
  r.clear_attributes();
  r.set_destroyed(true);
  r.set_version(3 << 16);
  return r;
}

// A map-based LocalReplica, keyed by (partition, id) like the real store.
class FakeReplica : public LocalReplica {
 public:
  absl::Status ForEach(
      uint32_t first, uint32_t last,
      const std::function<bool(const SessionRecord&)>& fn) override {
    ++for_each_calls;
    if (fail_reads) return absl::UnavailableError("disk");
    for (auto it = records_.lower_bound({first, ""});
         it != records_.end() && it->first.first <= last; ++it) {
      if (!fn(it->second)) break;
    }
    return absl::OkStatus();
  }

  absl::Status Merge(const SessionRecord& record) override {
    ++merge_calls;
    if (fail_merges) return absl::OutOfRangeError("stamp ahead");
    SessionRecord& slot = records_[{PartitionOf(record.id()), record.id()}];
    slot = ::sesh::Merge(slot, record);
    return absl::OkStatus();
  }

  void Put(const SessionRecord& record) {
    records_[{PartitionOf(record.id()), record.id()}] = record;
  }
  void Erase(const std::string& id) { records_.erase({PartitionOf(id), id}); }
  std::optional<SessionRecord> Get(const std::string& id) const {
    const auto it = records_.find({PartitionOf(id), id});
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const { return records_.size(); }

  int for_each_calls = 0;
  int merge_calls = 0;
  bool fail_reads = false;
  bool fail_merges = false;

 private:
  std::map<std::pair<uint32_t, std::string>, SessionRecord> records_;
};

// The nodes of a test cluster, each with its replica and clock view.
struct FakeCluster {
  explicit FakeCluster(const PlacementMap* placement)
      : placement(placement), replicas(placement->nodes().size()) {}

  const PlacementMap* placement;
  FakeClock clock{kNow};
  std::vector<FakeReplica> replicas;
  // Nodes whose every call fails, and nodes whose Push fails.
  std::set<int> down;
  std::set<int> push_fails;
  int records_calls = 0;
  int push_calls = 0;
};

// ReplicaPeers of node `self`, served by the other FakeReplicas through the
// same functions the node's RPC handlers call.
class FakePeers : public ReplicaPeers {
 public:
  FakePeers(FakeCluster* cluster, int self) : cluster_(cluster), self_(self) {}

  absl::StatusOr<std::map<uint32_t, uint64_t>> Digests(int node, uint32_t first,
                                                       uint32_t last) override {
    ++digest_calls[node];
    if (cluster_->down.count(node)) return absl::UnavailableError("down");
    return DigestPartitions(&cluster_->replicas[node], *cluster_->placement,
                            node, self_, first, last, cluster_->clock.NowMs());
  }
  absl::StatusOr<std::vector<SessionRecord>> Records(
      int node, const std::vector<uint32_t>& partitions) override {
    ++cluster_->records_calls;
    if (cluster_->down.count(node)) return absl::UnavailableError("down");
    return PartitionRecords(&cluster_->replicas[node], *cluster_->placement,
                            node, self_, partitions, cluster_->clock.NowMs());
  }
  absl::Status Push(int node,
                    const std::vector<SessionRecord>& records) override {
    ++cluster_->push_calls;
    if (cluster_->down.count(node) || cluster_->push_fails.count(node)) {
      return absl::UnavailableError("down");
    }
    return MergeRecords(&cluster_->replicas[node], *cluster_->placement, node,
                        self_, records);
  }

  std::map<int, int> digest_calls;

 private:
  FakeCluster* const cluster_;
  const int self_;
};

const PlacementMap& ThreeNodes() {
  static const PlacementMap* map =
      new PlacementMap(*PlacementMap::Build({"n1", "n2", "n3"}, 3));
  return *map;
}

void ExpectProgress(const AntiEntropyProgress& p, uint64_t passes,
                    uint32_t next, uint64_t compared, uint64_t repaired,
                    uint64_t pulled, uint64_t pushed, uint64_t peer_errors) {
  EXPECT_EQ(p.passes_completed, passes);
  EXPECT_EQ(p.next_partition, next);
  EXPECT_EQ(p.partitions_compared, compared);
  EXPECT_EQ(p.partitions_repaired, repaired);
  EXPECT_EQ(p.records_pulled, pulled);
  EXPECT_EQ(p.records_pushed, pushed);
  EXPECT_EQ(p.peer_errors, peer_errors);
  EXPECT_EQ(p.merge_errors, 0u);
}

// Three nodes at RF 3: every node holds every partition.
class AntiEntropyTest : public ::testing::Test {
 protected:
  AntiEntropyTest() : cluster_(&ThreeNodes()) {
    for (int node = 0; node < 3; ++node) {
      peers_.push_back(std::make_unique<FakePeers>(&cluster_, node));
      engines_.push_back(MakeEngine(node, AntiEntropyOptions()));
    }
  }

  std::unique_ptr<AntiEntropy> MakeEngine(int node,
                                          AntiEntropyOptions options) {
    options.self = node;
    return std::make_unique<AntiEntropy>(options, cluster_.placement,
                                         &cluster_.replicas[node],
                                         peers_[node].get(), &cluster_.clock);
  }

  void PutAll(const SessionRecord& record) {
    for (FakeReplica& replica : cluster_.replicas) replica.Put(record);
  }

  // Steps `engine` until its pass count goes up; returns the steps taken.
  static int RunPass(AntiEntropy* engine) {
    const uint64_t passes = engine->progress().passes_completed;
    int steps = 0;
    while (engine->progress().passes_completed == passes) {
      EXPECT_TRUE(engine->Step().ok());
      ++steps;
    }
    return steps;
  }

  FakeCluster cluster_;
  std::vector<std::unique_ptr<FakePeers>> peers_;
  std::vector<std::unique_ptr<AntiEntropy>> engines_;
};

TEST(RecordDigestTest, RecordDigest_LastAccessDiffers_Equal) {
  SessionRecord a = Session(RawId(1));
  SessionRecord b = a;
  b.set_last_access_ms(a.last_access_ms() + 12345);
  EXPECT_EQ(RecordDigest(a), RecordDigest(b));
}

TEST(RecordDigestTest, RecordDigest_AttributeInsertionOrder_Equal) {
  SessionRecord a = Session(RawId(1));
  SessionRecord b = a;
  (*a.mutable_attributes())["x"].set_value("1");
  (*a.mutable_attributes())["y"].set_value("2");
  (*b.mutable_attributes())["y"].set_value("2");
  (*b.mutable_attributes())["x"].set_value("1");
  EXPECT_EQ(RecordDigest(a), RecordDigest(b));
}

TEST(RecordDigestTest, RecordDigest_AnyReplicatedFieldChanged_Differs) {
  const SessionRecord base = Session(RawId(1));
  const std::vector<std::function<void(SessionRecord*)>> changes = {
      [](SessionRecord* r) { r->set_id(RawId(2)); },
      [](SessionRecord* r) { r->set_namespace_("bank"); },
      [](SessionRecord* r) { r->set_user_id("bob"); },
      [](SessionRecord* r) { r->set_created_at_ms(1); },
      [](SessionRecord* r) { r->set_idle_timeout_ms(1); },
      [](SessionRecord* r) { r->set_absolute_deadline_ms(1); },
      [](SessionRecord* r) { r->set_version(r->version() + 1); },
      [](SessionRecord* r) { r->set_destroyed(true); },
      [](SessionRecord* r) {
        (*r->mutable_attributes())["cart"].set_value("4");
      },
      [](SessionRecord* r) { (*r->mutable_attributes())["cart"].set_hlc(7); },
      [](SessionRecord* r) {
        (*r->mutable_attributes())["cart"].set_writer(2);
      },
      [](SessionRecord* r) {
        (*r->mutable_attributes())["cart"].set_removed(true);
      },
      [](SessionRecord* r) { (*r->mutable_attributes())["other"]; },
      [](SessionRecord* r) { r->clear_attributes(); },
      // The same bytes split differently between two fields.
      [](SessionRecord* r) {
        r->set_namespace_("shopa");
        r->set_user_id("lice");
      },
  };
  std::set<uint64_t> seen = {RecordDigest(base)};
  for (size_t i = 0; i < changes.size(); ++i) {
    SessionRecord changed = base;
    changes[i](&changed);
    EXPECT_TRUE(seen.insert(RecordDigest(changed)).second) << "change " << i;
  }
}

TEST(DigestedTest, Digested_SessionUntilExpiryTombstoneUntilDeadline) {
  SessionRecord session = Session(RawId(1));
  const int64_t idle_expiry = session.last_access_ms() + kIdle;
  EXPECT_TRUE(Digested(session, idle_expiry - 1));
  EXPECT_FALSE(Digested(session, idle_expiry));
  session.set_last_access_ms(session.absolute_deadline_ms());
  EXPECT_TRUE(Digested(session, session.absolute_deadline_ms() - 1));
  EXPECT_FALSE(Digested(session, session.absolute_deadline_ms()));

  const SessionRecord tombstone = Tombstone(RawId(1));
  EXPECT_TRUE(Digested(tombstone, idle_expiry + 1));
  EXPECT_TRUE(Digested(tombstone, tombstone.absolute_deadline_ms() - 1));
  EXPECT_FALSE(Digested(tombstone, tombstone.absolute_deadline_ms()));

  SessionRecord lone_touch;
  lone_touch.set_last_access_ms(kNow);
  EXPECT_FALSE(Digested(lone_touch, kNow));
}

TEST(DigestPartitionsTest, DigestPartitions_Range_OneScanNonZeroOnly) {
  const PlacementMap& placement = ThreeNodes();
  FakeReplica replica;
  const std::vector<std::string> ids = IdsInDistinctPartitions(3);
  for (const std::string& id : ids) replica.Put(Session(id));
  SessionRecord lone_touch;
  lone_touch.set_last_access_ms(kNow);
  replica.Put(lone_touch);

  auto digests =
      DigestPartitions(&replica, placement, 0, 1, 0, kPartitionCount - 1, kNow);
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(replica.for_each_calls, 1);
  ASSERT_EQ(digests->size(), 3u);
  for (const std::string& id : ids) {
    EXPECT_EQ(digests->at(PartitionOf(id)), RecordDigest(Session(id)));
  }

  EXPECT_EQ(
      DigestPartitions(&replica, placement, 0, 1, 5, 4, kNow).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DigestPartitions(&replica, placement, 0, 1, 0, kPartitionCount, kNow)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  replica.fail_reads = true;
  EXPECT_EQ(
      DigestPartitions(&replica, placement, 0, 1, 0, 10, kNow).status().code(),
      absl::StatusCode::kUnavailable);
}

TEST(DigestPartitionsTest, DigestPartitions_TwoRecordsInOnePartition_Xor) {
  const PlacementMap& placement = ThreeNodes();
  // Two ids of one partition.
  std::map<uint32_t, std::string> first_of;
  std::string a, b;
  for (int i = 0; b.empty(); ++i) {
    auto [it, fresh] = first_of.emplace(PartitionOf(RawId(i)), RawId(i));
    if (!fresh) {
      a = it->second;
      b = RawId(i);
    }
  }
  FakeReplica replica;
  replica.Put(Session(a));
  replica.Put(Session(b));
  const uint32_t p = PartitionOf(a);
  auto digests = DigestPartitions(&replica, placement, 0, 2, p, p, kNow);
  ASSERT_TRUE(digests.ok());
  ASSERT_EQ(digests->size(), 1u);
  EXPECT_EQ(digests->at(p),
            RecordDigest(Session(a)) ^ RecordDigest(Session(b)));
}

TEST_F(AntiEntropyTest, Step_EqualReplicas_FullPassComparesAllRepairsNothing) {
  for (const std::string& id : IdsInDistinctPartitions(20)) {
    SessionRecord record = Session(id);
    PutAll(record);
    // Touches replicate lazily: a different last access is not divergence.
    record.set_last_access_ms(kNow);
    cluster_.replicas[1].Put(record);
  }
  PutAll(Tombstone(RawId(100000)));

  EXPECT_EQ(RunPass(engines_[0].get()), static_cast<int>(kStepsPerPass));

  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 0, 0, 0, 0);
  // One range scan per step here and on each peer, nothing else.
  EXPECT_EQ(cluster_.replicas[0].for_each_calls,
            static_cast<int>(kStepsPerPass));
  EXPECT_EQ(peers_[0]->digest_calls[1], static_cast<int>(kStepsPerPass));
  EXPECT_EQ(peers_[0]->digest_calls[2], static_cast<int>(kStepsPerPass));
  EXPECT_EQ(cluster_.records_calls, 0);
  EXPECT_EQ(cluster_.push_calls, 0);
  EXPECT_EQ(cluster_.replicas[0].merge_calls, 0);
}

TEST_F(AntiEntropyTest, Step_SecondPass_WrapsAndComparesAgain) {
  RunPass(engines_[0].get());
  RunPass(engines_[0].get());
  ExpectProgress(engines_[0]->progress(), 2, 0, 2 * uint64_t{kPartitionCount},
                 0, 0, 0, 0);
}

TEST_F(AntiEntropyTest, Step_SessionMissingOnOneReplica_PushedToIt) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[0].Put(record);
  cluster_.replicas[1].Put(record);

  RunPass(engines_[0].get());

  ASSERT_TRUE(cluster_.replicas[2].Get(record.id()).has_value());
  EXPECT_TRUE(SameState(*cluster_.replicas[2].Get(record.id()), record));
  // n3's digest was 0: nothing pulled from it; n2 agreed: nothing sent.
  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 1, 0, 1, 0);
  EXPECT_EQ(cluster_.records_calls, 0);
  EXPECT_EQ(cluster_.push_calls, 1);
}

TEST_F(AntiEntropyTest, Step_OnReplicaMissingASession_PullsItPushesNothing) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[0].Put(record);
  cluster_.replicas[1].Put(record);

  RunPass(engines_[2].get());

  ASSERT_TRUE(cluster_.replicas[2].Get(record.id()).has_value());
  EXPECT_TRUE(SameState(*cluster_.replicas[2].Get(record.id()), record));
  // Pulled from both differing peers; the merge equals both, so no push.
  ExpectProgress(engines_[2]->progress(), 1, 0, kPartitionCount, 1, 2, 0, 0);
  EXPECT_EQ(cluster_.push_calls, 0);
}

TEST_F(AntiEntropyTest, Step_TombstoneOnOneReplica_DestroyedOnAllNeverBack) {
  const std::string id = RawId(7);
  cluster_.replicas[0].Put(Tombstone(id));
  // The live copies saw a later touch and an attribute write the tombstone
  // never saw; destroy still wins.
  SessionRecord live = Session(id);
  live.set_last_access_ms(kNow);
  auto& attribute = (*live.mutable_attributes())["late"];
  attribute.set_value("write");
  attribute.set_hlc(2 << 16);
  live.set_version(2 << 16);
  cluster_.replicas[1].Put(live);
  cluster_.replicas[2].Put(live);

  // From a live replica: pull the tombstone from n1, push it to n3.
  RunPass(engines_[1].get());
  ExpectProgress(engines_[1]->progress(), 1, 0, kPartitionCount, 1, 1, 1, 0);
  for (const FakeReplica& replica : cluster_.replicas) {
    ASSERT_TRUE(replica.Get(id).has_value());
    EXPECT_TRUE(replica.Get(id)->destroyed());
    EXPECT_EQ(replica.Get(id)->attributes_size(), 0);
  }

  // Further passes from every node find nothing to do.
  for (auto& engine : engines_) RunPass(engine.get());
  EXPECT_EQ(engines_[0]->progress().partitions_repaired, 0u);
  EXPECT_EQ(engines_[1]->progress().partitions_repaired, 1u);
  EXPECT_EQ(engines_[2]->progress().partitions_repaired, 0u);
  for (const FakeReplica& replica : cluster_.replicas) {
    EXPECT_TRUE(replica.Get(id)->destroyed());
  }
}

TEST_F(AntiEntropyTest, Step_TombstoneFromEveryNode_NoneResurrects) {
  const std::string id = RawId(7);
  for (int start = 0; start < 3; ++start) {
    for (int node = 0; node < 3; ++node) {
      cluster_.replicas[node].Erase(id);
      if (node == start) {
        cluster_.replicas[node].Put(Tombstone(id));
      } else {
        cluster_.replicas[node].Put(Session(id));
      }
    }
    for (int runner = 0; runner < 3; ++runner) {
      RunPass(engines_[runner].get());
    }
    for (const FakeReplica& replica : cluster_.replicas) {
      EXPECT_TRUE(replica.Get(id)->destroyed()) << "tombstone on " << start;
    }
  }
}

TEST_F(AntiEntropyTest, Step_DivergenceAboveRecordBound_RepairedOverSteps) {
  AntiEntropyOptions options;
  options.partitions_per_step = kPartitionCount;
  options.max_records_per_step = 10;
  std::unique_ptr<AntiEntropy> engine = MakeEngine(0, options);
  std::vector<std::string> ids = IdsInDistinctPartitions(25);
  std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) {
    return PartitionOf(a) < PartitionOf(b);
  });
  for (const std::string& id : ids) {
    cluster_.replicas[0].Put(Session(id));
    cluster_.replicas[1].Put(Session(id));
  }

  ASSERT_TRUE(engine->Step().ok());
  AntiEntropyProgress p = engine->progress();
  const uint32_t stop1 = PartitionOf(ids[10]);
  ExpectProgress(p, 0, stop1, stop1, 10, 0, 10, 0);
  EXPECT_EQ(cluster_.replicas[2].size(), 10u);

  ASSERT_TRUE(engine->Step().ok());
  const uint32_t stop2 = PartitionOf(ids[20]);
  ExpectProgress(engine->progress(), 0, stop2, stop2, 20, 0, 20, 0);
  EXPECT_EQ(cluster_.replicas[2].size(), 20u);

  ASSERT_TRUE(engine->Step().ok());
  ExpectProgress(engine->progress(), 1, 0, kPartitionCount, 25, 0, 25, 0);
  EXPECT_EQ(cluster_.replicas[2].size(), 25u);

  ASSERT_TRUE(engine->Step().ok());
  ExpectProgress(engine->progress(), 2, 0, 2 * uint64_t{kPartitionCount}, 25, 0,
                 25, 0);
}

TEST_F(AntiEntropyTest, Step_PeerDown_SkippedAndCountedOthersRepaired) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[0].Put(record);
  cluster_.down = {1};

  RunPass(engines_[0].get());

  EXPECT_TRUE(cluster_.replicas[2].Get(record.id()).has_value());
  EXPECT_FALSE(cluster_.replicas[1].Get(record.id()).has_value());
  // One failed Digests call per step; n3 still compared everywhere.
  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 1, 0, 1,
                 kStepsPerPass);

  cluster_.down.clear();
  RunPass(engines_[0].get());
  EXPECT_TRUE(cluster_.replicas[1].Get(record.id()).has_value());
  ExpectProgress(engines_[0]->progress(), 2, 0, 2 * uint64_t{kPartitionCount},
                 2, 0, 2, kStepsPerPass);
}

TEST_F(AntiEntropyTest, Step_AllPeersDown_ComparesNothing) {
  cluster_.replicas[0].Put(Session(RawId(7)));
  cluster_.down = {1, 2};
  RunPass(engines_[0].get());
  ExpectProgress(engines_[0]->progress(), 1, 0, 0, 0, 0, 0, 2 * kStepsPerPass);
}

TEST_F(AntiEntropyTest, Step_PushFails_CountedOtherPeerStillRepaired) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[0].Put(record);
  cluster_.push_fails = {1};

  RunPass(engines_[0].get());

  EXPECT_FALSE(cluster_.replicas[1].Get(record.id()).has_value());
  EXPECT_TRUE(cluster_.replicas[2].Get(record.id()).has_value());
  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 1, 0, 1, 1);

  cluster_.push_fails.clear();
  RunPass(engines_[0].get());
  EXPECT_TRUE(cluster_.replicas[1].Get(record.id()).has_value());
  EXPECT_EQ(engines_[0]->progress().partitions_repaired, 2u);
}

TEST_F(AntiEntropyTest, Step_ExpiredRecordsSweptOnOneReplica_NotDivergent) {
  SessionRecord idle = Session(RawId(1));
  idle.set_last_access_ms(kNow - kIdle);  // expires exactly now
  SessionRecord past_deadline = Session(RawId(2));
  past_deadline.set_absolute_deadline_ms(kNow - 1);
  SessionRecord old_tombstone = Tombstone(RawId(3));
  old_tombstone.set_absolute_deadline_ms(kNow);
  for (const SessionRecord& r : {idle, past_deadline, old_tombstone}) {
    cluster_.replicas[0].Put(r);
    cluster_.replicas[1].Put(r);
  }
  // n3 swept them all already.

  RunPass(engines_[0].get());
  RunPass(engines_[2].get());

  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 0, 0, 0, 0);
  ExpectProgress(engines_[2]->progress(), 1, 0, kPartitionCount, 0, 0, 0, 0);
  EXPECT_EQ(cluster_.replicas[2].size(), 0u);
  EXPECT_EQ(cluster_.records_calls + cluster_.push_calls, 0);
}

TEST_F(AntiEntropyTest, Step_ExpiredHereLiveElsewhere_PullsTheLaterTouch) {
  SessionRecord touched = Session(RawId(1));
  touched.set_last_access_ms(kNow - 10);
  SessionRecord stale = touched;
  stale.set_last_access_ms(kNow - kIdle - 1);
  cluster_.replicas[0].Put(touched);
  cluster_.replicas[1].Put(touched);
  cluster_.replicas[2].Put(stale);

  RunPass(engines_[2].get());

  EXPECT_EQ(cluster_.replicas[2].Get(touched.id())->last_access_ms(),
            kNow - 10);
  ExpectProgress(engines_[2]->progress(), 1, 0, kPartitionCount, 1, 2, 0, 0);
}

TEST_F(AntiEntropyTest, Step_LocalReadFails_ReturnsErrorAndRetriesThere) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[0].Put(record);
  ASSERT_TRUE(engines_[0]->Step().ok());
  const uint32_t next = engines_[0]->progress().next_partition;
  EXPECT_EQ(next, 4096u);

  cluster_.replicas[0].fail_reads = true;
  EXPECT_EQ(engines_[0]->Step().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(engines_[0]->progress().next_partition, next);

  cluster_.replicas[0].fail_reads = false;
  ASSERT_TRUE(engines_[0]->Step().ok());
  EXPECT_EQ(engines_[0]->progress().next_partition, 2 * next);
}

TEST_F(AntiEntropyTest, Step_LocalMergeFails_CountedAndRetriedNextPass) {
  const SessionRecord record = Session(RawId(7));
  cluster_.replicas[1].Put(record);
  cluster_.replicas[2].Put(record);
  cluster_.replicas[0].fail_merges = true;

  RunPass(engines_[0].get());
  EXPECT_FALSE(cluster_.replicas[0].Get(record.id()).has_value());
  AntiEntropyProgress p = engines_[0]->progress();
  EXPECT_EQ(p.records_pulled, 2u);
  EXPECT_EQ(p.merge_errors, 2u);
  EXPECT_EQ(p.records_pushed, 0u);

  cluster_.replicas[0].fail_merges = false;
  RunPass(engines_[0].get());
  EXPECT_TRUE(cluster_.replicas[0].Get(record.id()).has_value());
  EXPECT_EQ(engines_[0]->progress().merge_errors, 2u);
}

TEST_F(AntiEntropyTest, Progress_ReadDuringSteps_ConsistentSnapshots) {
  cluster_.replicas[0].Put(Session(RawId(7)));
  std::thread stepper([&] { RunPass(engines_[0].get()); });
  uint32_t last_next = 0;
  for (;;) {
    const AntiEntropyProgress p = engines_[0]->progress();
    if (p.passes_completed == 1) break;
    // Within the first pass every partition before the cursor was compared.
    EXPECT_EQ(p.partitions_compared, p.next_partition);
    EXPECT_GE(p.next_partition, last_next);
    last_next = p.next_partition;
  }
  stepper.join();
  ExpectProgress(engines_[0]->progress(), 1, 0, kPartitionCount, 1, 0, 2, 0);
}

// Four nodes at RF 2: a node compares only its own partitions, and only with
// their other replica.
TEST(AntiEntropyRf2Test, Step_PartialPlacement_OnlySharedPartitions) {
  const PlacementMap placement =
      *PlacementMap::Build({"n1", "n2", "n3", "n4"}, 2);
  FakeCluster cluster(&placement);
  FakePeers peers(&cluster, 0);
  AntiEntropyOptions options;
  options.self = 0;
  AntiEntropy engine(options, &placement, &cluster.replicas[0], &peers,
                     &cluster.clock);

  uint64_t held = 0;
  for (uint32_t p = 0; p < kPartitionCount; ++p) held += placement.Holds(0, p);
  // A session of a partition n1 holds, and a stray copy of one it does not.
  std::string mine, stray;
  for (int i = 0; mine.empty() || stray.empty(); ++i) {
    (placement.Holds(0, PartitionOf(RawId(i))) ? mine : stray) = RawId(i);
  }
  cluster.replicas[0].Put(Session(mine));
  cluster.replicas[0].Put(Session(stray));
  int other = -1;
  for (const uint8_t r : placement.Replicas(PartitionOf(mine))) {
    if (r != 0) other = r;
  }

  while (engine.progress().passes_completed == 0) {
    ASSERT_TRUE(engine.Step().ok());
  }

  ExpectProgress(engine.progress(), 1, 0, held, 1, 0, 1, 0);
  for (int node = 1; node < 4; ++node) {
    EXPECT_EQ(cluster.replicas[node].Get(mine).has_value(), node == other);
    EXPECT_FALSE(cluster.replicas[node].Get(stray).has_value());
  }
}

}  // namespace
}  // namespace sesh

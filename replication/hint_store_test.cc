#include "replication/hint_store.h"

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/merge.h"

namespace sesh {
namespace {

using absl::StatusCode;
using internal::SessionRecord;

// A 32-byte raw id whose order follows n.
std::string Id(uint32_t n) {
  std::string id(32, 'x');
  id[28] = static_cast<char>(n >> 24);
  id[29] = static_cast<char>(n >> 16);
  id[30] = static_cast<char>(n >> 8);
  id[31] = static_cast<char>(n);
  return id;
}

SessionRecord Record(uint32_t n, const std::string& key = "role",
                     const std::string& value = "admin", uint64_t hlc = 1) {
  SessionRecord r;
  r.set_id(Id(n));
  r.set_namespace_("shop");
  r.set_user_id("alice");
  r.set_created_at_ms(1000);
  r.set_last_access_ms(1000 + static_cast<int64_t>(hlc));
  r.set_idle_timeout_ms(60000);
  r.set_absolute_deadline_ms(1000000);
  r.set_version(hlc);
  internal::Attribute& attr = (*r.mutable_attributes())[key];
  attr.set_value(value);
  attr.set_hlc(hlc);
  attr.set_writer(7);
  return r;
}

int64_t Size(const SessionRecord& r) {
  return static_cast<int64_t>(r.ByteSizeLong());
}

class HintStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    options_.path = absl::StrCat(
        ::testing::TempDir(), "/hints_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
        counter++);
    Reopen();
  }

  // RocksDB preallocates its files: leave nothing behind.
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(options_.path);
  }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<HintStore>> store =
        HintStore::Open(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  int MustAdd(const std::string& peer,
              const std::vector<SessionRecord>& records) {
    absl::StatusOr<int> dropped = store_->Add(peer, records);
    EXPECT_TRUE(dropped.ok()) << dropped.status();
    return dropped.ok() ? *dropped : -1;
  }

  std::vector<Hint> MustPeek(const std::string& peer, int max = 1000,
                             absl::string_view after_id = {}) {
    absl::StatusOr<std::vector<Hint>> hints =
        store_->Peek(peer, max, after_id);
    EXPECT_TRUE(hints.ok()) << hints.status();
    return hints.ok() ? *std::move(hints) : std::vector<Hint>();
  }

  HintStoreOptions options_;
  std::unique_ptr<HintStore> store_;
};

TEST_F(HintStoreTest, Add_ThenPeek_ReturnsRecordsInIdOrderWithExactCounts) {
  const std::vector<SessionRecord> records = {Record(3), Record(1),
                                              Record(2, "k", "longer value")};
  EXPECT_EQ(MustAdd("b", records), 0);

  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 3u);
  EXPECT_TRUE(SameState(hints[0].record, records[1]));
  EXPECT_TRUE(SameState(hints[1].record, records[2]));
  EXPECT_TRUE(SameState(hints[2].record, records[0]));
  EXPECT_EQ(store_->Count("b"), 3);
  EXPECT_EQ(store_->Bytes("b"),
            Size(records[0]) + Size(records[1]) + Size(records[2]));
  EXPECT_EQ(store_->TotalCount(), 3);
  EXPECT_EQ(store_->Count("c"), 0);
  EXPECT_EQ(store_->Bytes("c"), 0);
  EXPECT_TRUE(MustPeek("c").empty());
  // Peek hands hints out without removing them.
  EXPECT_EQ(MustPeek("b").size(), 3u);
  EXPECT_EQ(store_->Count("b"), 3);
}

TEST_F(HintStoreTest, Add_SameIdTwice_KeepsOneMergedHint) {
  const SessionRecord first = Record(1, "a", "1", /*hlc=*/5);
  const SessionRecord second = Record(1, "b", "2", /*hlc=*/9);
  EXPECT_EQ(MustAdd("b", {first}), 0);
  EXPECT_EQ(MustAdd("b", {second}), 0);

  const SessionRecord merged = Merge(first, second);
  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_TRUE(SameState(hints[0].record, merged));
  EXPECT_EQ(hints[0].record.attributes().at("a").value(), "1");
  EXPECT_EQ(hints[0].record.attributes().at("b").value(), "2");
  EXPECT_EQ(hints[0].record.last_access_ms(), second.last_access_ms());
  EXPECT_EQ(store_->Count("b"), 1);
  EXPECT_EQ(store_->Bytes("b"), Size(merged));
}

TEST_F(HintStoreTest, Add_SameIdTwiceInOneBatch_KeepsOneMergedHint) {
  const SessionRecord first = Record(1, "a", "1", /*hlc=*/5);
  const SessionRecord second = Record(1, "b", "2", /*hlc=*/9);
  EXPECT_EQ(MustAdd("b", {first, second}), 0);

  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_TRUE(SameState(hints[0].record, Merge(first, second)));
  EXPECT_EQ(store_->Count("b"), 1);
  EXPECT_EQ(store_->Bytes("b"), Size(Merge(first, second)));
}

TEST_F(HintStoreTest, Add_DestroyAfterWrite_KeepsDestroyedHintWithoutAttributes) {
  SessionRecord destroy = Record(1, "a", "1", /*hlc=*/3);
  destroy.set_destroyed(true);
  destroy.clear_attributes();
  EXPECT_EQ(MustAdd("b", {destroy}), 0);
  // A later-arriving (older or newer) write does not bring it back.
  EXPECT_EQ(MustAdd("b", {Record(1, "b", "2", /*hlc=*/9)}), 0);

  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_TRUE(hints[0].record.destroyed());
  EXPECT_EQ(hints[0].record.attributes_size(), 0);
  EXPECT_EQ(hints[0].record.version(), 9u);
  EXPECT_EQ(store_->Bytes("b"), Size(hints[0].record));
}

TEST_F(HintStoreTest, Open_AfterReopen_KeepsHintsCountAndBytes) {
  EXPECT_EQ(MustAdd("b", {Record(1), Record(2, "k", "vvvv")}), 0);
  EXPECT_EQ(MustAdd("c", {Record(3)}), 0);
  std::vector<Hint> before = MustPeek("b");
  const int64_t bytes_b = store_->Bytes("b");
  const int64_t bytes_c = store_->Bytes("c");

  Reopen();

  std::vector<Hint> after = MustPeek("b");
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(SameState(after[i].record, before[i].record)) << i;
    EXPECT_EQ(after[i].token, before[i].token) << i;
  }
  EXPECT_EQ(store_->Count("b"), 2);
  EXPECT_EQ(store_->Bytes("b"), bytes_b);
  EXPECT_EQ(store_->Count("c"), 1);
  EXPECT_EQ(store_->Bytes("c"), bytes_c);
  EXPECT_EQ(store_->TotalCount(), 3);
}

TEST_F(HintStoreTest, Remove_HintChangedAfterReopen_KeepsIt) {
  EXPECT_EQ(MustAdd("b", {Record(1), Record(2)}), 0);
  std::vector<Hint> peeked = MustPeek("b");
  Reopen();
  // Tokens issued after a restart never repeat one handed out before it.
  EXPECT_EQ(MustAdd("b", {Record(1, "new", "x", /*hlc=*/9)}), 0);

  ASSERT_TRUE(store_->Remove("b", peeked).ok());

  std::vector<Hint> left = MustPeek("b");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.id(), Id(1));
  EXPECT_EQ(left[0].record.attributes().at("new").value(), "x");
  EXPECT_EQ(store_->Count("b"), 1);
  EXPECT_EQ(store_->Bytes("b"), Size(left[0].record));
}

TEST_F(HintStoreTest, Add_PastMaxBytes_DropsRecordsAndOtherPeerUnaffected) {
  const int64_t one = Size(Record(1));
  ASSERT_EQ(Size(Record(5)), one);
  options_.max_bytes_per_peer = 3 * one + one / 2;
  Reopen();

  std::vector<SessionRecord> five;
  for (uint32_t n = 1; n <= 5; ++n) five.push_back(Record(n));
  EXPECT_EQ(MustAdd("b", five), 2);
  EXPECT_EQ(store_->Count("b"), 3);
  EXPECT_EQ(store_->Bytes("b"), 3 * one);
  EXPECT_EQ(MustAdd("b", {Record(6)}), 1);
  EXPECT_EQ(store_->Bytes("b"), 3 * one);
  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 3u);
  EXPECT_EQ(hints[0].record.id(), Id(1));
  EXPECT_EQ(hints[2].record.id(), Id(3));

  // The bound is per peer.
  EXPECT_EQ(MustAdd("c", {Record(1), Record(2), Record(3)}), 0);
  EXPECT_EQ(store_->Count("c"), 3);
  EXPECT_EQ(store_->Bytes("c"), 3 * one);

  // Removing makes room again.
  ASSERT_TRUE(store_->Remove("b", {hints[0]}).ok());
  EXPECT_EQ(MustAdd("b", {Record(6)}), 0);
  EXPECT_EQ(store_->Count("b"), 3);
  EXPECT_LE(store_->Bytes("b"), options_.max_bytes_per_peer);
}

TEST_F(HintStoreTest, Add_MergeGrowingPastMaxBytes_DroppedAndOldHintKept) {
  const SessionRecord first = Record(1);
  options_.max_bytes_per_peer = Size(first) + 4;
  Reopen();
  EXPECT_EQ(MustAdd("b", {first}), 0);

  EXPECT_EQ(MustAdd("b", {Record(1, "big", std::string(100, 'v'), 9)}), 1);

  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_TRUE(SameState(hints[0].record, first));
  EXPECT_EQ(store_->Bytes("b"), Size(first));
}

TEST_F(HintStoreTest, Remove_AfterPeek_RemovesHints) {
  EXPECT_EQ(MustAdd("b", {Record(1), Record(2), Record(3)}), 0);
  std::vector<Hint> hints = MustPeek("b", /*max=*/2);
  ASSERT_EQ(hints.size(), 2u);

  ASSERT_TRUE(store_->Remove("b", hints).ok());

  std::vector<Hint> left = MustPeek("b");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.id(), Id(3));
  EXPECT_EQ(store_->Count("b"), 1);
  EXPECT_EQ(store_->Bytes("b"), Size(Record(3)));
  // Removing again, or for a peer without hints, changes nothing.
  ASSERT_TRUE(store_->Remove("b", hints).ok());
  ASSERT_TRUE(store_->Remove("nobody", hints).ok());
  EXPECT_EQ(store_->Count("b"), 1);
  EXPECT_EQ(store_->TotalCount(), 1);

  Reopen();
  EXPECT_EQ(MustPeek("b").size(), 1u);
  EXPECT_EQ(store_->Count("b"), 1);
}

TEST_F(HintStoreTest, Remove_HintMergedWithNewerAfterPeek_KeepsMergedHint) {
  const SessionRecord first = Record(1, "a", "1", /*hlc=*/5);
  const SessionRecord newer = Record(1, "a", "2", /*hlc=*/9);
  EXPECT_EQ(MustAdd("b", {first, Record(2)}), 0);
  std::vector<Hint> peeked = MustPeek("b");
  ASSERT_EQ(peeked.size(), 2u);
  EXPECT_EQ(MustAdd("b", {newer}), 0);

  ASSERT_TRUE(store_->Remove("b", peeked).ok());

  std::vector<Hint> left = MustPeek("b");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(SameState(left[0].record, Merge(first, newer)));
  EXPECT_EQ(left[0].record.attributes().at("a").value(), "2");
  EXPECT_NE(left[0].token, peeked[0].token);
  EXPECT_EQ(store_->Count("b"), 1);
  // Delivered in its new state, it goes.
  ASSERT_TRUE(store_->Remove("b", left).ok());
  EXPECT_EQ(store_->Count("b"), 0);
  EXPECT_EQ(store_->Bytes("b"), 0);
  EXPECT_TRUE(MustPeek("b").empty());
}

TEST_F(HintStoreTest, Remove_SameStateAddedAgainAfterPeek_RemovesHint) {
  EXPECT_EQ(MustAdd("b", {Record(1)}), 0);
  std::vector<Hint> peeked = MustPeek("b");
  // A write the hint already holds changes nothing the peer lacks.
  EXPECT_EQ(MustAdd("b", {Record(1)}), 0);

  ASSERT_TRUE(store_->Remove("b", peeked).ok());

  EXPECT_EQ(store_->Count("b"), 0);
  EXPECT_TRUE(MustPeek("b").empty());
}

TEST_F(HintStoreTest, Peek_AfterIdAndMax_ReturnsTheNextPage) {
  std::vector<SessionRecord> records;
  for (uint32_t n = 1; n <= 5; ++n) records.push_back(Record(n));
  EXPECT_EQ(MustAdd("b", records), 0);

  std::vector<Hint> page = MustPeek("b", /*max=*/2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[1].record.id(), Id(2));
  page = MustPeek("b", /*max=*/2, /*after_id=*/Id(2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].record.id(), Id(3));
  EXPECT_EQ(page[1].record.id(), Id(4));
  page = MustPeek("b", /*max=*/2, /*after_id=*/Id(4));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].record.id(), Id(5));
  EXPECT_TRUE(MustPeek("b", /*max=*/2, /*after_id=*/Id(5)).empty());
  EXPECT_TRUE(MustPeek("b", /*max=*/0).empty());
  EXPECT_EQ(store_->Peek("b", -1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(HintStoreTest, Peek_PeerIsPrefixOfAnother_ReturnsOnlyItsOwn) {
  EXPECT_EQ(MustAdd("node1", {Record(1)}), 0);
  EXPECT_EQ(MustAdd("node10", {Record(2)}), 0);

  std::vector<Hint> hints = MustPeek("node1");
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_EQ(hints[0].record.id(), Id(1));
  ASSERT_TRUE(store_->Clear("node1").ok());
  EXPECT_EQ(MustPeek("node10").size(), 1u);
  EXPECT_EQ(store_->Count("node10"), 1);
}

TEST_F(HintStoreTest, Clear_DropsOnlyThatPeersHints) {
  EXPECT_EQ(MustAdd("b", {Record(1), Record(2)}), 0);
  EXPECT_EQ(MustAdd("c", {Record(1)}), 0);

  ASSERT_TRUE(store_->Clear("b").ok());

  EXPECT_EQ(store_->Count("b"), 0);
  EXPECT_EQ(store_->Bytes("b"), 0);
  EXPECT_TRUE(MustPeek("b").empty());
  EXPECT_EQ(store_->Count("c"), 1);
  EXPECT_EQ(store_->TotalCount(), 1);
  ASSERT_TRUE(store_->Clear("nobody").ok());
  Reopen();
  EXPECT_TRUE(MustPeek("b").empty());
  EXPECT_EQ(store_->Count("b"), 0);
  EXPECT_EQ(store_->Count("c"), 1);
  // The peer can get hints again.
  EXPECT_EQ(MustAdd("b", {Record(3)}), 0);
  EXPECT_EQ(store_->Count("b"), 1);
}

TEST_F(HintStoreTest, Add_InvalidId_ReturnsInvalidArgumentAndStoresNothing) {
  SessionRecord bad = Record(2);
  bad.set_id("short");
  SessionRecord empty;

  EXPECT_EQ(store_->Add("b", {Record(1), bad}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Add("b", {empty}).status().code(),
            StatusCode::kInvalidArgument);

  EXPECT_EQ(store_->Count("b"), 0);
  EXPECT_EQ(store_->Bytes("b"), 0);
  EXPECT_TRUE(MustPeek("b").empty());
  Reopen();
  EXPECT_EQ(store_->TotalCount(), 0);
}

TEST_F(HintStoreTest, Calls_InvalidPeer_ReturnInvalidArgument) {
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(store_->Add("", {Record(1)}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Add(with_nul, {Record(1)}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Peek("", 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Remove(with_nul, {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Clear("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->TotalCount(), 0);
}

TEST_F(HintStoreTest, Add_FourThreadsDistinctIds_LosesNothing) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint32_t n = static_cast<uint32_t>(t * kPerThread + i);
        absl::StatusOr<int> dropped = store_->Add("b", {Record(n)});
        EXPECT_TRUE(dropped.ok() && *dropped == 0) << dropped.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const int64_t one = Size(Record(0));
  EXPECT_EQ(store_->Count("b"), kThreads * kPerThread);
  EXPECT_EQ(store_->Bytes("b"), kThreads * kPerThread * one);
  EXPECT_EQ(MustPeek("b", 10000).size(),
            static_cast<size_t>(kThreads * kPerThread));
  Reopen();
  EXPECT_EQ(store_->Count("b"), kThreads * kPerThread);
  EXPECT_EQ(store_->Bytes("b"), kThreads * kPerThread * one);
}

TEST_F(HintStoreTest, Add_FourThreadsSameIds_MergesEveryWrite) {
  constexpr int kThreads = 4;
  constexpr uint32_t kIds = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (uint32_t n = 0; n < kIds; ++n) {
        absl::StatusOr<int> dropped =
            store_->Add("b", {Record(n, absl::StrCat("t", t), "v", t + 1)});
        EXPECT_TRUE(dropped.ok() && *dropped == 0) << dropped.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<Hint> hints = MustPeek("b");
  ASSERT_EQ(hints.size(), kIds);
  int64_t bytes = 0;
  for (const Hint& hint : hints) {
    EXPECT_EQ(hint.record.attributes_size(), kThreads);
    bytes += Size(hint.record);
  }
  EXPECT_EQ(store_->Count("b"), kIds);
  EXPECT_EQ(store_->Bytes("b"), bytes);
}

}  // namespace
}  // namespace sesh

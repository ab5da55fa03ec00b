#include "node/record_merge_operator.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/session_store.h"
#include "replication/clock.h"
#include "replication/hlc.h"
#include "replication/merge.h"
#include "replication/session_id.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kIdle = 60'000;

Record Session(const std::string& raw, int64_t version) {
  Record r;
  r.set_id(raw);
  r.set_namespace_("shop");
  r.set_user_id("alice");
  r.set_created_at_ms(kStart);
  r.set_last_access_ms(kStart);
  r.set_idle_timeout_ms(kIdle);
  r.set_absolute_deadline_ms(kStart + 10 * kIdle);
  r.set_version(static_cast<uint64_t>(version));
  return r;
}

void Set(Record* r, const std::string& key, const std::string& value,
         uint64_t hlc) {
  internal::Attribute& a = (*r->mutable_attributes())[key];
  a.set_value(value);
  a.set_hlc(hlc);
}

std::string Bytes(const Record& r) { return r.SerializeAsString(); }

TEST(RecordMergeOperatorTest, FullMerge_FoldsRecordsAndLegacyTouches) {
  auto op = NewRecordMergeOperator();
  const std::string raw = NewRawId();
  Record stored = Session(raw, 10);
  Set(&stored, "cart", "1", 10);
  Record newer = Session(raw, 20);
  Set(&newer, "cart", "2", 20);
  const std::string access = std::string("\0\0\x01\x8b\xcf\xe5\x68\x00", 8);
  std::vector<rocksdb::Slice> operands;
  const std::string newer_bytes = Bytes(newer);
  operands.emplace_back(newer_bytes);
  operands.emplace_back(access);
  const std::string stored_bytes = Bytes(stored);
  rocksdb::Slice existing(stored_bytes);
  rocksdb::Slice key("k");
  std::string out_value;
  rocksdb::Slice out_operand;
  rocksdb::MergeOperator::MergeOperationOutput out(out_value, out_operand);
  ASSERT_TRUE(op->FullMergeV2(
      rocksdb::MergeOperator::MergeOperationInput(key, &existing, operands,
                                                  nullptr),
      &out));
  Record merged;
  ASSERT_TRUE(merged.ParseFromString(out_value));
  EXPECT_EQ(merged.attributes().at("cart").value(), "2");
  EXPECT_EQ(merged.version(), 20u);
  EXPECT_EQ(merged.last_access_ms(), 0x018bcfe56800);  // the legacy touch
}

TEST(RecordMergeOperatorTest, PartialMerge_TwoRecords_IsTheirMerge) {
  auto op = NewRecordMergeOperator();
  const std::string raw = NewRawId();
  Record a = Session(raw, 10);
  Set(&a, "x", "a", 10);
  Record b = Session(raw, 20);
  b.set_destroyed(true);
  std::string out;
  ASSERT_TRUE(op->PartialMerge("k", Bytes(a), Bytes(b), &out, nullptr));
  Record merged;
  ASSERT_TRUE(merged.ParseFromString(out));
  EXPECT_TRUE(SameState(merged, Merge(a, b)));
  EXPECT_TRUE(merged.destroyed());
  // A legacy 8-byte operand stays apart.
  EXPECT_FALSE(op->PartialMerge("k", Bytes(a), std::string(8, '\0'), &out,
                                nullptr));
}

// The store applying replicated states blind: in any order, and across a
// restart, reads see their merge; a destroy stays final.
class BlindMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/blind_",
                        ::testing::UnitTest::GetInstance()
                            ->current_test_info()
                            ->name());
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    StoreOptions options;
    options.path = dir_;
    options.blind_replica_merges = true;
    auto store = SessionStore::Open(options, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  FakeClock clock_{kStart};
  std::string dir_;
  std::unique_ptr<SessionStore> store_;
};

TEST_F(BlindMergeTest, OutOfOrderStates_ReadAsTheirMerge) {
  const std::string raw = NewRawId();
  Record first = Session(raw, 10);
  Set(&first, "cart", "1", 10);
  Set(&first, "role", "user", 10);
  Record second = Session(raw, 20);
  Set(&second, "cart", "2", 20);
  // The newer state arrives first.
  ASSERT_THAT(store_->Merge(second), IsOk());
  ASSERT_THAT(store_->Merge(first), IsOk());
  ASSERT_THAT(store_->Merge(first), IsOk());  // and again
  absl::StatusOr<Record> got = store_->Get("shop", raw, /*touch=*/false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "2");
  EXPECT_EQ(got->attributes().at("role").value(), "user");
  EXPECT_EQ(got->version(), 20u);
  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "alice");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);

  Reopen();
  got = store_->Get("shop", raw, /*touch=*/false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "2");
}

TEST_F(BlindMergeTest, TombstoneThenOlderLiveState_StaysDestroyed) {
  const std::string raw = NewRawId();
  Record live = Session(raw, 10);
  Set(&live, "role", "admin", 10);
  Record tombstone = Session(raw, 30);
  tombstone.set_destroyed(true);
  ASSERT_THAT(store_->Merge(tombstone), IsOk());
  ASSERT_THAT(store_->Merge(live), IsOk());  // a late, older copy
  EXPECT_THAT(store_->Get("shop", raw, false), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::optional<Record>> raw_copy = store_->ReadRaw(raw);
  ASSERT_THAT(raw_copy, IsOk());
  ASSERT_TRUE(raw_copy->has_value());
  EXPECT_TRUE((*raw_copy)->destroyed());
  EXPECT_EQ((*raw_copy)->attributes_size(), 0);
  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "alice");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
  Reopen();
  EXPECT_THAT(store_->Get("shop", raw, false), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BlindMergeTest, LocalUpdateAfterBlindMerge_SeesIt) {
  CreateArgs args;
  args.ns = "shop";
  args.user_id = "alice";
  args.idle_timeout_ms = kIdle;
  const std::string raw = NewRawId();
  absl::StatusOr<Record> created = store_->Create(raw, args);
  ASSERT_THAT(created, IsOk());
  Record remote = *created;
  Set(&remote, "theme", "dark", created->version() + 5);
  remote.set_version(created->version() + 5);
  ASSERT_THAT(store_->Merge(remote), IsOk());
  UpdateArgs update;
  update.set = {{"cart", "3"}};
  absl::StatusOr<Record> updated = store_->Update("shop", raw, update);
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->attributes().at("theme").value(), "dark");
  EXPECT_GT(updated->version(), remote.version());
  absl::StatusOr<Record> got = store_->Get("shop", raw, false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("theme").value(), "dark");
  EXPECT_EQ(got->attributes().at("cart").value(), "3");
}

TEST_F(BlindMergeTest, MergeAll_RefusesBadRecordsAlone_StoresTheRest) {
  const std::string a = NewRawId();
  const std::string b = NewRawId();
  CreateArgs args;
  args.ns = "shop";
  args.user_id = "bob";
  args.idle_timeout_ms = kIdle;
  absl::StatusOr<Record> indexed = store_->Create(b, args);
  ASSERT_THAT(indexed, IsOk());
  Record live = Session(a, 10);
  Set(&live, "cart", "1", 10);
  Record bad_id = Session("short", 10);
  Record ahead = Session(NewRawId(), 0);
  ahead.set_version(HybridClock::StampOf(kStart + 3'600'000));  // an hour
  // A tombstone naming no user still drops bob's index entry.
  Record tombstone;
  tombstone.set_id(b);
  tombstone.set_namespace_("shop");
  tombstone.set_destroyed(true);
  tombstone.set_version(indexed->version() + 1);

  std::vector<absl::StatusOr<Record>> results =
      store_->MergeAll({&live, &bad_id, &ahead, &tombstone});

  ASSERT_EQ(results.size(), 4u);
  EXPECT_THAT(results[0], IsOk());
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(results[3], IsOk());
  absl::StatusOr<Record> got = store_->Get("shop", a, false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "1");
  absl::StatusOr<std::optional<Record>> refused = store_->ReadRaw(ahead.id());
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->has_value());
  EXPECT_THAT(store_->Get("shop", b, false),
              StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<Record>> bobs = store_->ListByUser("shop", "bob");
  ASSERT_THAT(bobs, IsOk());
  EXPECT_TRUE(bobs->empty());
  EXPECT_EQ(store_->CountUserIndexForTesting(), 1);  // alice's, of `live`
}

}  // namespace
}  // namespace sesh

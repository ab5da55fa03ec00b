#include "node/session_store.h"

#include <filesystem>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/merge.h"
#include "replication/session_id.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

using absl::StatusCode;

constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kIdle = 30 * 60 * 1000;  // 30 minutes
constexpr int64_t kTtl = 8 * 3600 * 1000;  // 8 hours

class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(StoreOptions()); }
  // RocksDB preallocates its files: leave nothing behind.
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open(StoreOptions options) {
    store_.reset();
    static int counter = 0;
    if (dir_.empty()) {
      dir_ = absl::StrCat(::testing::TempDir(), "/store_",
                          ::testing::UnitTest::GetInstance()
                              ->current_test_info()
                              ->name(),
                          "_", counter++);
    }
    options.path = dir_;
    options_ = options;
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  Record MustCreate(const std::string& user = "alice",
                    std::map<std::string, std::string> attributes = {
                        {"role", "admin"}}) {
    CreateArgs args;
    args.ns = "shop";
    args.user_id = user;
    args.attributes = std::move(attributes);
    args.idle_timeout_ms = kIdle;
    args.absolute_ttl_ms = kTtl;
    absl::StatusOr<Record> r = store_->Create(NewRawId(), args);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  // For a session created at kStart and touched (in memory) at
  // kStart + kIdle - 1: past its created expiry plus the grace, the sweep
  // keeps it and reads see the touch.
  void ExpectSweepKeepsTouched(const Record& created) {
    clock_.AdvanceMs(StoreOptions().expired_grace_ms + 2);
    absl::StatusOr<int64_t> swept = store_->Sweep();
    ASSERT_THAT(swept, IsOk());
    EXPECT_EQ(*swept, 0);
    absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->last_access_ms(), kStart + kIdle - 1);
  }

  FakeClock clock_{kStart};
  std::string dir_;
  StoreOptions options_;
  std::unique_ptr<SessionStore> store_;
};

TEST_F(SessionStoreTest, Create_ThenGet_ReturnsData) {
  Record created = MustCreate();
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->user_id(), "alice");
  EXPECT_EQ(got->attributes().at("role").value(), "admin");
  EXPECT_EQ(got->created_at_ms(), kStart);
  EXPECT_EQ(got->last_access_ms(), kStart);
  EXPECT_EQ(got->absolute_deadline_ms(), kStart + kTtl);
  EXPECT_EQ(ExpiresAtMs(*got), kStart + kIdle);
  EXPECT_GT(got->version(), 0u);
}

TEST_F(SessionStoreTest, Get_OtherNamespace_ReturnsNotFound) {
  Record created = MustCreate();
  EXPECT_THAT(store_->Get("blog", created.id(), false),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Get_UnknownId_ReturnsNotFound) {
  EXPECT_THAT(store_->Get("shop", NewRawId(), true),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Get_OneMsBeforeIdleTimeout_IsLive) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  EXPECT_THAT(store_->Get("shop", created.id(), false), IsOk());
}

TEST_F(SessionStoreTest, Get_AtIdleTimeout_ReturnsNotFound) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle);
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Get("shop", created.id(), true),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Touch_BeforeIdleTimeout_SlidesExpiry) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  absl::StatusOr<Record> touched = store_->Touch("shop", created.id());
  ASSERT_THAT(touched, IsOk());
  EXPECT_EQ(touched->last_access_ms(), kStart + kIdle - 1);
  clock_.AdvanceMs(kIdle - 1);
  EXPECT_THAT(store_->Get("shop", created.id(), false), IsOk());
  clock_.AdvanceMs(1);
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, GetWithTouch_SlidesExpiry_GetWithoutTouchDoesNot) {
  Record a = MustCreate();
  Record b = MustCreate();
  clock_.AdvanceMs(kIdle / 2);
  ASSERT_THAT(store_->Get("shop", a.id(), true), IsOk());
  ASSERT_THAT(store_->Get("shop", b.id(), false), IsOk());
  clock_.AdvanceMs(kIdle / 2);
  EXPECT_THAT(store_->Get("shop", a.id(), false), IsOk());
  EXPECT_THAT(store_->Get("shop", b.id(), false),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Touch_AfterIdleTimeout_ReturnsNotFound) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle);
  EXPECT_THAT(store_->Touch("shop", created.id()),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Touch_NeverExtendsPastAbsoluteDeadline) {
  Record created = MustCreate();
  // Keep the session busy until just before its absolute deadline.
  for (int64_t t = kIdle / 2; t < kTtl; t += kIdle / 2) {
    clock_.SetMs(kStart + t);
    ASSERT_THAT(store_->Touch("shop", created.id()), IsOk()) << t;
  }
  clock_.SetMs(kStart + kTtl - 1);
  absl::StatusOr<Record> last = store_->Get("shop", created.id(), true);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(ExpiresAtMs(*last), kStart + kTtl);
  clock_.SetMs(kStart + kTtl);
  EXPECT_THAT(store_->Get("shop", created.id(), true),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Touch_SmallMove_IsNotWrittenButLargeMoveIs) {
  Record created = MustCreate();
  // 1% of 30 minutes is 18 s: a touch 10 s later keeps the stored value.
  clock_.AdvanceMs(10'000);
  absl::StatusOr<Record> small = store_->Get("shop", created.id(), true);
  ASSERT_THAT(small, IsOk());
  EXPECT_EQ(small->last_access_ms(), kStart);
  clock_.AdvanceMs(10'000);
  absl::StatusOr<Record> large = store_->Get("shop", created.id(), true);
  ASSERT_THAT(large, IsOk());
  EXPECT_EQ(large->last_access_ms(), kStart + 20'000);
  absl::StatusOr<std::optional<Record>> raw = store_->ReadRaw(created.id());
  ASSERT_THAT(raw, IsOk());
  EXPECT_EQ((*raw)->last_access_ms(), kStart + 20'000);
}

TEST_F(SessionStoreTest, Create_AbsoluteTtlZero_UsesMaxAbsoluteTtl) {
  CreateArgs args;
  args.ns = "shop";
  args.idle_timeout_ms = kIdle;
  absl::StatusOr<Record> r = store_->Create(NewRawId(), args);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->absolute_deadline_ms(),
            kStart + Limits().max_absolute_ttl_ms);
}

TEST_F(SessionStoreTest, Update_SetsAndRemoves_AndBumpsVersion) {
  Record created = MustCreate("alice", {{"role", "admin"}, {"cart", "3"}});
  clock_.AdvanceMs(5);
  UpdateArgs args;
  args.set = {{"cart", "4"}, {"theme", "dark"}};
  args.remove = {"role", "absent"};
  absl::StatusOr<Record> updated = store_->Update("shop", created.id(), args);
  ASSERT_THAT(updated, IsOk());
  EXPECT_GT(updated->version(), created.version());
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "4");
  EXPECT_EQ(got->attributes().at("theme").value(), "dark");
  EXPECT_TRUE(got->attributes().at("role").removed());
  EXPECT_EQ(got->attributes().count("absent"), 0u);
  EXPECT_EQ(got->version(), updated->version());
}

TEST_F(SessionStoreTest, Update_ExpectedVersionMismatch_ReturnsAbortedAndChangesNothing) {
  Record created = MustCreate();
  UpdateArgs first;
  first.set = {{"cart", "1"}};
  first.expected_version = created.version();
  absl::StatusOr<Record> ok = store_->Update("shop", created.id(), first);
  ASSERT_THAT(ok, IsOk());
  UpdateArgs stale;
  stale.set = {{"cart", "2"}};
  stale.expected_version = created.version();
  EXPECT_THAT(store_->Update("shop", created.id(), stale),
              StatusIs(StatusCode::kAborted));
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "1");
  EXPECT_EQ(got->version(), ok->version());
}

TEST_F(SessionStoreTest, Update_Expired_ReturnsNotFound) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle);
  UpdateArgs args;
  args.set = {{"a", "b"}};
  EXPECT_THAT(store_->Update("shop", created.id(), args),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Update_OverAttributeCount_ReturnsResourceExhaustedAndChangesNothing) {
  StoreOptions options;
  options.limits.max_attributes = 3;
  Open(options);
  Record created = MustCreate("alice", {{"a", "1"}, {"b", "2"}});
  UpdateArgs args;
  args.set = {{"c", "3"}, {"d", "4"}};
  EXPECT_THAT(store_->Update("shop", created.id(), args),
              StatusIs(StatusCode::kResourceExhausted));
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().size(), 2u);
  EXPECT_EQ(got->version(), created.version());
}

TEST_F(SessionStoreTest, Update_OverSessionBytes_ReturnsResourceExhausted) {
  StoreOptions options;
  options.limits.max_session_bytes = 100;
  Open(options);
  Record created = MustCreate("alice", {{"a", "1"}});
  UpdateArgs args;
  args.set = {{"big", std::string(95, 'x')}};
  EXPECT_THAT(store_->Update("shop", created.id(), args),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST_F(SessionStoreTest, Update_OversizedKeyOrValue_ReturnsInvalidArgument) {
  Record created = MustCreate();
  UpdateArgs key;
  key.set = {{std::string(257, 'k'), "v"}};
  EXPECT_THAT(store_->Update("shop", created.id(), key),
              StatusIs(StatusCode::kInvalidArgument));
  UpdateArgs value;
  value.set = {{"k", std::string(32 * 1024 + 1, 'v')}};
  EXPECT_THAT(store_->Update("shop", created.id(), value),
              StatusIs(StatusCode::kInvalidArgument));
  UpdateArgs both;
  both.set = {{"k", "v"}};
  both.remove = {"k"};
  EXPECT_THAT(store_->Update("shop", created.id(), both),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(SessionStoreTest, Create_InvalidArguments_AreRejectedAndStoreNothing) {
  CreateArgs no_ns;
  no_ns.idle_timeout_ms = kIdle;
  EXPECT_THAT(store_->Create(NewRawId(), no_ns),
              StatusIs(StatusCode::kInvalidArgument));
  CreateArgs no_idle;
  no_idle.ns = "shop";
  EXPECT_THAT(store_->Create(NewRawId(), no_idle),
              StatusIs(StatusCode::kInvalidArgument));
  CreateArgs nul_user;
  nul_user.ns = "shop";
  nul_user.idle_timeout_ms = kIdle;
  nul_user.user_id = std::string("a\0b", 3);
  EXPECT_THAT(store_->Create(NewRawId(), nul_user),
              StatusIs(StatusCode::kInvalidArgument));
  CreateArgs too_many;
  too_many.ns = "shop";
  too_many.idle_timeout_ms = kIdle;
  for (int i = 0; i < 65; ++i) too_many.attributes[absl::StrCat("k", i)] = "v";
  EXPECT_THAT(store_->Create(NewRawId(), too_many),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionStoreTest, Create_OverSessionsPerUser_ReturnsResourceExhausted) {
  StoreOptions options;
  options.limits.max_sessions_per_user = 2;
  Open(options);
  MustCreate("bob");
  Record second = MustCreate("bob");
  CreateArgs args;
  args.ns = "shop";
  args.user_id = "bob";
  args.idle_timeout_ms = kIdle;
  EXPECT_THAT(store_->Create(NewRawId(), args),
              StatusIs(StatusCode::kResourceExhausted));
  // Destroying one makes room again.
  ASSERT_THAT(store_->Destroy("shop", second.id()), IsOk());
  EXPECT_THAT(store_->Create(NewRawId(), args), IsOk());
}

TEST_F(SessionStoreTest, Destroy_ThenEveryCall_ReturnsNotFound) {
  Record created = MustCreate();
  absl::StatusOr<std::optional<Record>> tombstone =
      store_->Destroy("shop", created.id());
  ASSERT_THAT(tombstone, IsOk());
  ASSERT_TRUE(tombstone->has_value());
  EXPECT_TRUE((*tombstone)->destroyed());
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Touch("shop", created.id()),
              StatusIs(StatusCode::kNotFound));
  UpdateArgs args;
  args.set = {{"a", "b"}};
  EXPECT_THAT(store_->Update("shop", created.id(), args),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Rotate("shop", created.id(), NewRawId()),
              StatusIs(StatusCode::kNotFound));
  // Again: the stored tombstone, unchanged, for replicas that lack it.
  absl::StatusOr<std::optional<Record>> again =
      store_->Destroy("shop", created.id());
  ASSERT_THAT(again, IsOk());
  ASSERT_TRUE(again->has_value());
  EXPECT_TRUE(SameState(**again, **tombstone));
}

TEST_F(SessionStoreTest, Destroy_NoCopyHere_WritesTombstoneThatWinsEverywhere) {
  const std::string id = NewRawId();
  absl::StatusOr<std::optional<Record>> tombstone = store_->Destroy("shop", id);
  ASSERT_THAT(tombstone, IsOk());
  ASSERT_TRUE(tombstone->has_value());
  EXPECT_TRUE((*tombstone)->destroyed());
  EXPECT_EQ((*tombstone)->id(), id);
  EXPECT_EQ((*tombstone)->namespace_(), "shop");
  EXPECT_EQ((*tombstone)->absolute_deadline_ms(),
            kStart + Limits().max_absolute_ttl_ms);
  absl::StatusOr<std::optional<Record>> stored = store_->ReadRaw(id);
  ASSERT_THAT(stored, IsOk());
  ASSERT_TRUE(stored->has_value());
  EXPECT_TRUE((*stored)->destroyed());

  // A replica holding the session live merges the tombstone: destroyed,
  // with the session's own user and deadline, out of the user index.
  Record live = MustCreate("bob");
  live.set_id(id);
  Record merged = Merge(live, **tombstone);
  EXPECT_TRUE(merged.destroyed());
  EXPECT_EQ(merged.user_id(), "bob");
  EXPECT_EQ(merged.absolute_deadline_ms(), kStart + kTtl);
  ASSERT_THAT(store_->Merge(live), IsOk());
  EXPECT_THAT(store_->Get("shop", id, false), StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Destroy_ExpiredHere_StillWritesTombstone) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle);
  absl::StatusOr<std::optional<Record>> tombstone =
      store_->Destroy("shop", created.id());
  ASSERT_THAT(tombstone, IsOk());
  ASSERT_TRUE(tombstone->has_value());
  // Another replica saw a touch this one missed; the tombstone still wins.
  store_->MergeTouch(created.id(), kStart + kIdle - 1).IgnoreError();
  Record touched = created;
  touched.set_last_access_ms(kStart + kIdle);
  ASSERT_THAT(store_->Merge(touched), IsOk());
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, Destroy_OtherNamespace_WritesNothing) {
  Record created = MustCreate();
  absl::StatusOr<std::optional<Record>> none =
      store_->Destroy("other", created.id());
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  EXPECT_THAT(store_->Get("shop", created.id(), false), IsOk());
}

TEST_F(SessionStoreTest, Destroy_MergedIntoIndexedCopy_DropsIndexEntry) {
  Record created = MustCreate("carol");
  Record blind;
  blind.set_id(created.id());
  blind.set_namespace_("shop");
  blind.set_created_at_ms(0);  // creation fields that win the merge
  blind.set_absolute_deadline_ms(kStart + kTtl);
  blind.set_destroyed(true);
  blind.set_version(created.version() + 1);
  ASSERT_THAT(store_->Merge(blind), IsOk());
  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "carol");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(store_->CountUserIndexForTesting(), 0);
}

TEST_F(SessionStoreTest, Reopen_ClockSetBack_NewStampsStayAboveStoredOnes) {
  Record first = MustCreate();
  UpdateArgs args;
  args.set = {{"cart", "1"}};
  absl::StatusOr<Record> updated = store_->Update("shop", first.id(), args);
  ASSERT_THAT(updated, IsOk());
  Open(options_);  // the close persists the clock
  clock_.SetMs(kStart - 3'600'000);
  // Another session: above the persisted stamp.
  CreateArgs create;
  create.ns = "shop";
  create.idle_timeout_ms = 10 * kIdle;
  absl::StatusOr<Record> second = store_->Create(NewRawId(), create);
  ASSERT_THAT(second, IsOk());
  EXPECT_GT(second->version(), updated->version());
  // The same session: the new write wins over the one before the restart.
  args.set = {{"cart", "2"}};
  absl::StatusOr<Record> again = store_->Update("shop", first.id(), args);
  ASSERT_THAT(again, IsOk());
  EXPECT_GT(again->version(), updated->version());
  EXPECT_EQ(Merge(*updated, *again).attributes().at("cart").value(), "2");
}

TEST_F(SessionStoreTest, Merge_StampFarAhead_RefusedAndNothingStored) {
  Record incoming = MustCreate();
  incoming.set_id(NewRawId());
  incoming.set_version(HybridClock::StampOf(
      kStart + StoreOptions().max_clock_ahead_ms + 1));
  EXPECT_THAT(store_->Merge(incoming), StatusIs(StatusCode::kOutOfRange));
  absl::StatusOr<std::optional<Record>> stored = store_->ReadRaw(incoming.id());
  ASSERT_THAT(stored, IsOk());
  EXPECT_FALSE(stored->has_value());
  // Later stamps stay at this node's own time.
  Record next = MustCreate();
  EXPECT_EQ(HybridClock::PhysicalMs(next.version()), kStart);
}

TEST_F(SessionStoreTest, Destroy_ThenStaleReplicaWrite_StaysDestroyed) {
  Record created = MustCreate();
  UpdateArgs args;
  args.set = {{"cart", "9"}};
  absl::StatusOr<Record> later = store_->Update("shop", created.id(), args);
  ASSERT_THAT(later, IsOk());
  ASSERT_THAT(store_->Destroy("shop", created.id()), IsOk());
  // A replica that missed the destroy sends its older states back.
  ASSERT_THAT(store_->Merge(created), IsOk());
  ASSERT_THAT(store_->Merge(*later), IsOk());
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "alice");
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
}

TEST_F(SessionStoreTest, Rotate_MovesDataAndOldIdStopsWorking) {
  Record created = MustCreate("alice", {{"role", "admin"}});
  std::string new_id = NewRawId();
  absl::StatusOr<std::pair<Record, Record>> rotated =
      store_->Rotate("shop", created.id(), new_id);
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->first.id(), new_id);
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
  absl::StatusOr<Record> got = store_->Get("shop", new_id, false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("role").value(), "admin");
  EXPECT_EQ(got->user_id(), "alice");
  EXPECT_EQ(got->absolute_deadline_ms(), created.absolute_deadline_ms());
  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "alice");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id(), new_id);
}

TEST_F(SessionStoreTest, ListByUser_ReturnsOnlyLiveSessionsOfThatUser) {
  Record a1 = MustCreate("alice");
  clock_.AdvanceMs(1);
  Record a2 = MustCreate("alice");
  MustCreate("bob");
  CreateArgs other_ns;
  other_ns.ns = "blog";
  other_ns.user_id = "alice";
  other_ns.idle_timeout_ms = kIdle;
  ASSERT_THAT(store_->Create(NewRawId(), other_ns), IsOk());
  // A short-lived session of alice that expires.
  CreateArgs short_lived;
  short_lived.ns = "shop";
  short_lived.user_id = "alice";
  short_lived.idle_timeout_ms = 10;
  ASSERT_THAT(store_->Create(NewRawId(), short_lived), IsOk());
  clock_.AdvanceMs(10);

  absl::StatusOr<std::vector<Record>> listed =
      store_->ListByUser("shop", "alice");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id(), a1.id());
  EXPECT_EQ((*listed)[1].id(), a2.id());
}

TEST_F(SessionStoreTest, DestroyByUser_KeepsExceptedSessionOnly) {
  Record keep = MustCreate("alice");
  Record gone1 = MustCreate("alice");
  Record gone2 = MustCreate("alice");
  Record bob = MustCreate("bob");
  absl::StatusOr<std::vector<Record>> tombstones =
      store_->DestroyByUser("shop", "alice", keep.id());
  ASSERT_THAT(tombstones, IsOk());
  EXPECT_EQ(tombstones->size(), 2u);
  EXPECT_THAT(store_->Get("shop", keep.id(), false), IsOk());
  EXPECT_THAT(store_->Get("shop", gone1.id(), false),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Get("shop", gone2.id(), false),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Get("shop", bob.id(), false), IsOk());
}

TEST_F(SessionStoreTest, Sweep_ReclaimsExpiredAndOldTombstones) {
  for (int i = 0; i < 10; ++i) MustCreate(absl::StrCat("user", i));
  Record destroyed = MustCreate("victim");
  ASSERT_THAT(store_->Destroy("shop", destroyed.id()), IsOk());
  EXPECT_EQ(store_->CountStoredForTesting(), 11);

  // Expired, but inside the grace period: kept.
  clock_.AdvanceMs(kIdle);
  ASSERT_THAT(store_->Sweep(), IsOk());
  EXPECT_EQ(store_->CountStoredForTesting(), 11);

  // Past the grace period: the 10 expired sessions go; the tombstone stays
  // until its absolute deadline plus the margin.
  clock_.AdvanceMs(StoreOptions().expired_grace_ms);
  absl::StatusOr<int64_t> swept = store_->Sweep();
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(*swept, 10);
  EXPECT_EQ(store_->CountStoredForTesting(), 1);

  clock_.SetMs(destroyed.absolute_deadline_ms() +
               StoreOptions().tombstone_margin_ms - 1);
  ASSERT_THAT(store_->Sweep(), IsOk());
  EXPECT_EQ(store_->CountStoredForTesting(), 1);
  clock_.AdvanceMs(1);
  swept = store_->Sweep();
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionStoreTest, Reopen_KeepsEverySession) {
  std::vector<Record> created;
  for (int i = 0; i < 20; ++i) created.push_back(MustCreate());
  Open(options_);
  for (const Record& r : created) {
    absl::StatusOr<Record> got = store_->Get("shop", r.id(), false);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->attributes().at("role").value(), "admin");
  }
}

TEST_F(SessionStoreTest, ConcurrentUpdatesOfDifferentAttributes_LoseNothing) {
  StoreOptions options;
  options.limits.max_attributes = 1000;
  Open(options);
  Record created = MustCreate("alice", {});
  constexpr int kThreads = 8;
  constexpr int kUpdates = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kUpdates; ++i) {
        UpdateArgs args;
        args.set = {{absl::StrCat("t", t, "_", i), absl::StrCat(i)}};
        ASSERT_THAT(store_->Update("shop", created.id(), args), IsOk());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes_size(), kThreads * kUpdates);
}

TEST_F(SessionStoreTest, Merge_IncomingNewerAttribute_Wins) {
  Record created = MustCreate("alice", {{"cart", "1"}});
  Record remote = created;
  internal::Attribute& cart = (*remote.mutable_attributes())["cart"];
  cart.set_value("2");
  cart.set_hlc(created.version() + 10);
  remote.set_version(created.version() + 10);
  absl::StatusOr<Record> merged = store_->Merge(remote);
  ASSERT_THAT(merged, IsOk());
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "2");
  // A later local write is stamped after what the node has seen.
  UpdateArgs args;
  args.set = {{"x", "y"}};
  absl::StatusOr<Record> updated = store_->Update("shop", created.id(), args);
  ASSERT_THAT(updated, IsOk());
  EXPECT_GT(updated->version(), created.version() + 10);
}

}  // namespace
}  // namespace sesh

namespace sesh {
namespace {

TEST_F(SessionStoreTest, GetMany_ResultsInOrder_MixedOutcomes) {
  Record a = MustCreate();
  Record b = MustCreate();
  Record gone = MustCreate();
  ASSERT_THAT(store_->Destroy("shop", gone.id()), IsOk());
  clock_.AdvanceMs(kIdle / 2);
  std::vector<absl::StatusOr<Record>> got = store_->GetMany(
      "shop", {a.id(), NewRawId(), gone.id(), b.id()}, /*touch=*/true);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_THAT(got[0], IsOk());
  EXPECT_EQ(got[0]->id(), a.id());
  EXPECT_EQ(got[0]->last_access_ms(), kStart + kIdle / 2);
  EXPECT_THAT(got[1], StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(got[2], StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(got[3], IsOk());
  EXPECT_EQ(got[3]->id(), b.id());
  // The touch was written.
  clock_.AdvanceMs(kIdle / 2 + 1);
  EXPECT_THAT(store_->Get("shop", a.id(), false), IsOk());
}

}  // namespace
}  // namespace sesh

namespace sesh {
namespace {

TEST_F(SessionStoreTest, MergeTouch_OnlyEverMovesLastAccessForward) {
  Record created = MustCreate();
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 5000), IsOk());
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 1000), IsOk());
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart + 5000);
  EXPECT_EQ(got->attributes().at("role").value(), "admin");
  EXPECT_THAT(store_->MergeTouch("short", kStart),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(SessionStoreTest, MergeTouch_OfDestroyedSession_DoesNotBringItBack) {
  Record created = MustCreate();
  ASSERT_THAT(store_->Destroy("shop", created.id()), IsOk());
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 1000), IsOk());
  EXPECT_THAT(store_->Get("shop", created.id(), false),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SessionStoreTest, MergeTouch_WithoutSession_IsAbsentAndSweptAfterGrace) {
  std::string raw = NewRawId();
  ASSERT_THAT(store_->MergeTouch(raw, kStart), IsOk());
  EXPECT_THAT(store_->Get("shop", raw, false), StatusIs(StatusCode::kNotFound));
  absl::StatusOr<std::optional<Record>> stored = store_->ReadRaw(raw);
  ASSERT_THAT(stored, IsOk());
  EXPECT_FALSE(stored->has_value());
  EXPECT_EQ(store_->CountStoredForTesting(), 0);  // in memory only
  absl::StatusOr<int64_t> persisted = store_->PersistTouches();
  ASSERT_THAT(persisted, IsOk());
  EXPECT_EQ(*persisted, 1);
  EXPECT_EQ(store_->CountStoredForTesting(), 1);
  clock_.AdvanceMs(StoreOptions().expired_grace_ms - 1);
  ASSERT_THAT(store_->Sweep(), IsOk());
  EXPECT_EQ(store_->CountStoredForTesting(), 1);
  clock_.AdvanceMs(1);
  absl::StatusOr<int64_t> swept = store_->Sweep();
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
  // The session's full state arriving later is stored normally.
  Record late;
  late.set_id(raw);
  late.set_namespace_("shop");
  late.set_created_at_ms(clock_.NowMs());
  late.set_last_access_ms(clock_.NowMs());
  late.set_idle_timeout_ms(kIdle);
  late.set_absolute_deadline_ms(clock_.NowMs() + kTtl);
  late.set_version(1);
  ASSERT_THAT(store_->Merge(late), IsOk());
  EXPECT_THAT(store_->Get("shop", raw, false), IsOk());
}

TEST_F(SessionStoreTest, MergeTouch_WrittenOnlyWhenNeitherRecordNorLastAccessIsKnown) {
  Record created = MustCreate();
  // This process wrote the record, so the sweep sees the key: a replicated
  // touch (persisted by the replica that made it) stays in memory, and
  // every read folds it in.
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 1000), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 0);
  absl::StatusOr<int64_t> persisted = store_->PersistTouches();
  ASSERT_THAT(persisted, IsOk());
  EXPECT_EQ(*persisted, 0);
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart + 1000);
  // A restart loses it (a node gets it back from its peers when it catches
  // up) and forgets which records it holds: the next replicated touch is
  // written, as one that arrived before its session must be.
  Open(options_);
  got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart);
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 2000), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 1);
  persisted = store_->PersistTouches();
  ASSERT_THAT(persisted, IsOk());
  EXPECT_EQ(*persisted, 1);
  // Then the key has a persisted last access: later ones stay in memory.
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + 3000), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 0);
  Open(options_);
  got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart + 2000);
  // This node's own touches are still written.
  clock_.AdvanceMs(kIdle / 2);
  ASSERT_THAT(store_->Touch("shop", created.id()), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 1);
}

TEST_F(SessionStoreTest, MergeTouch_HeldOnlyInMemory_KeepsTheSessionFromTheSweep) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  ASSERT_THAT(store_->MergeTouch(created.id(), clock_.NowMs()), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 0);
  ExpectSweepKeepsTouched(created);
  // Once the touch's idle expiry and grace have passed, it is reclaimed.
  clock_.AdvanceMs(kIdle);
  absl::StatusOr<int64_t> swept = store_->Sweep();
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionStoreTest, Touch_IsHeldInMemoryUntilPersisted) {
  Record created = MustCreate();
  const int64_t stored_before = store_->CountStoredForTesting();
  clock_.AdvanceMs(kIdle / 2);
  ASSERT_THAT(store_->Touch("shop", created.id()), IsOk());
  ASSERT_THAT(store_->MergeTouch(created.id(), kStart + kIdle / 4), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 1);
  absl::StatusOr<Record> got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart + kIdle / 2);

  absl::StatusOr<int64_t> persisted = store_->PersistTouches();
  ASSERT_THAT(persisted, IsOk());
  EXPECT_EQ(*persisted, 1);
  EXPECT_EQ(store_->PendingTouches(), 0);
  EXPECT_EQ(store_->CountStoredForTesting(), stored_before);
  got = store_->Get("shop", created.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->last_access_ms(), kStart + kIdle / 2);
  persisted = store_->PersistTouches();
  ASSERT_THAT(persisted, IsOk());
  EXPECT_EQ(*persisted, 0);
}

TEST_F(SessionStoreTest, PersistTouches_ConcurrentWithTouches_LosesNone) {
  constexpr int kSessions = 20;
  constexpr int kThreads = 4;
  constexpr int kRaises = 500;
  StoreOptions options;
  options.touch_write_fraction = 0;  // every touch that moves by 1 ms counts
  Open(options);
  std::vector<std::string> ids;
  for (int i = 0; i < kSessions; ++i) ids.push_back(MustCreate().id());
  std::atomic<bool> done{false};
  std::thread persister([&] {
    while (!done.load()) {
      absl::StatusOr<int64_t> persisted = store_->PersistTouches();
      EXPECT_THAT(persisted, IsOk());
    }
  });
  // Each pass of each thread moves the clock 1 ms, then touches every
  // session. The thread whose pass moves it last touches them all at the
  // final time, which is therefore every session's last access.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRaises; ++r) {
        clock_.AdvanceMs(1);
        for (const std::string& id : ids) {
          ASSERT_THAT(store_->Get("shop", id, /*touch=*/true), IsOk());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done.store(true);
  persister.join();
  const int64_t want = kStart + kThreads * kRaises;
  ASSERT_EQ(clock_.NowMs(), want);
  for (const std::string& id : ids) {
    absl::StatusOr<Record> got = store_->Get("shop", id, false);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->last_access_ms(), want);
  }
  // And once everything is on disk, without the table.
  ASSERT_THAT(store_->PersistTouches(), IsOk());
  EXPECT_EQ(store_->PendingTouches(), 0);
  Open(options_);
  for (const std::string& id : ids) {
    absl::StatusOr<Record> got = store_->Get("shop", id, false);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->last_access_ms(), want);
  }
}

TEST_F(SessionStoreTest, Sweep_KeepsSessionTouchedOnlyInMemory) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  ASSERT_THAT(store_->Touch("shop", created.id()), IsOk());
  ExpectSweepKeepsTouched(created);
}

TEST_F(SessionStoreTest, GetMany_TouchIsSeenBySingleReads) {
  Record a = MustCreate();
  Record b = MustCreate();
  clock_.AdvanceMs(kIdle / 2);
  std::vector<absl::StatusOr<Record>> got =
      store_->GetMany("shop", {a.id(), b.id()}, /*touch=*/true);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_THAT(got[0], IsOk());
  EXPECT_EQ(got[0]->last_access_ms(), kStart + kIdle / 2);
  clock_.AdvanceMs(kIdle / 2 + 1);  // past the creation's idle expiry
  EXPECT_THAT(store_->Get("shop", a.id(), false), IsOk());
  EXPECT_THAT(store_->Get("shop", b.id(), false), IsOk());
}

TEST_F(SessionStoreTest, Touch_PersistsAcrossReopen) {
  Record created = MustCreate();
  clock_.AdvanceMs(kIdle / 2);
  ASSERT_THAT(store_->Touch("shop", created.id()), IsOk());
  Open(options_);
  clock_.AdvanceMs(kIdle / 2 + 1);
  EXPECT_THAT(store_->Get("shop", created.id(), false), IsOk());
}

}  // namespace
}  // namespace sesh

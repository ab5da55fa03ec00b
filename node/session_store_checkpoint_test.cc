// SessionStore::Checkpoint: the copy opens as a store holding what was
// stored when it was taken, touches included, and nothing written later.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/session_store.h"
#include "replication/session_id.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

using absl::StatusCode;

constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kIdle = 30 * 60 * 1000;
constexpr int64_t kTtl = 8 * 3600 * 1000;

class SessionStoreCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/checkpoint_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = MustOpen(dir_ + "/store");
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SessionStore> MustOpen(const std::string& path) {
    StoreOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options, &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  Record MustCreate(const std::string& cart) {
    CreateArgs args;
    args.ns = "shop";
    args.user_id = "alice";
    args.attributes = {{"cart", cart}};
    args.idle_timeout_ms = kIdle;
    args.absolute_ttl_ms = kTtl;
    absl::StatusOr<Record> r = store_->Create(NewRawId(), args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Record();
  }

  FakeClock clock_{kStart};
  std::string dir_;
  std::unique_ptr<SessionStore> store_;
};

TEST_F(SessionStoreCheckpointTest,
       Checkpoint_OfLiveAndDestroyed_OpensWithTheSameSessions) {
  const Record kept = MustCreate("3 books");
  const Record touched = MustCreate("1 lamp");
  const Record destroyed = MustCreate("empty");
  ASSERT_THAT(store_->Destroy("shop", destroyed.id()), IsOk());
  clock_.AdvanceMs(kIdle / 2);
  // A touch lives in the touch table until persisted: the checkpoint must
  // persist it first.
  ASSERT_THAT(store_->Touch("shop", touched.id()), IsOk());
  ASSERT_GT(store_->PendingTouches(), 0);

  const std::string copy = dir_ + "/copy";
  absl::StatusOr<int64_t> records = store_->Checkpoint(copy);
  ASSERT_THAT(records, IsOk());
  EXPECT_EQ(*records, 3);  // two sessions and a tombstone
  EXPECT_EQ(store_->PendingTouches(), 0);

  std::unique_ptr<SessionStore> restored = MustOpen(copy);
  ASSERT_NE(restored, nullptr);
  absl::StatusOr<Record> got = restored->Get("shop", kept.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "3 books");
  EXPECT_EQ(got->last_access_ms(), kStart);
  got = restored->Get("shop", touched.id(), false);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->attributes().at("cart").value(), "1 lamp");
  EXPECT_EQ(got->last_access_ms(), kStart + kIdle / 2);
  EXPECT_THAT(restored->Get("shop", destroyed.id(), false),
              StatusIs(StatusCode::kNotFound));
  absl::StatusOr<std::optional<Record>> tombstone =
      restored->ReadRaw(destroyed.id());
  ASSERT_THAT(tombstone, IsOk());
  ASSERT_TRUE(tombstone->has_value());
  EXPECT_TRUE((*tombstone)->destroyed());
  EXPECT_EQ(restored->CountStoredForTesting(), 3);
}

TEST_F(SessionStoreCheckpointTest, Checkpoint_WritesAfterIt_AreNotInTheCopy) {
  const Record before = MustCreate("before");
  const std::string copy = dir_ + "/copy";
  ASSERT_THAT(store_->Checkpoint(copy), IsOk());
  const Record after = MustCreate("after");
  ASSERT_THAT(store_->Destroy("shop", before.id()), IsOk());

  std::unique_ptr<SessionStore> restored = MustOpen(copy);
  ASSERT_NE(restored, nullptr);
  EXPECT_THAT(restored->Get("shop", before.id(), false), IsOk());
  EXPECT_THAT(restored->Get("shop", after.id(), false),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(restored->CountStoredForTesting(), 1);
}

TEST_F(SessionStoreCheckpointTest, Checkpoint_PathExists_AlreadyExistsNothingWritten) {
  MustCreate("x");
  const std::string copy = dir_ + "/copy";
  ASSERT_TRUE(std::filesystem::create_directories(copy));
  EXPECT_THAT(store_->Checkpoint(copy), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_TRUE(std::filesystem::is_empty(copy));
}

TEST_F(SessionStoreCheckpointTest, Checkpoint_OfEmptyStore_ReturnsZeroRecords) {
  const std::string copy = dir_ + "/copy";
  absl::StatusOr<int64_t> records = store_->Checkpoint(copy);
  ASSERT_THAT(records, IsOk());
  EXPECT_EQ(*records, 0);
  EXPECT_NE(MustOpen(copy), nullptr);
}

}  // namespace
}  // namespace sesh

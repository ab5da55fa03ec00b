#include "auth/token_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "auth/token_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

std::string Bearer(absl::string_view token) {
  return absl::StrCat("Bearer ", token);
}

std::string Grant(absl::string_view ns, absl::string_view token) {
  return absl::StrCat(ns, " ", Sha256Hex(token), "\n");
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = absl::StrCat(::testing::TempDir(), "/tokens_", info->name());
  }

  // Replaces the file as operators should: write a temporary file, rename it.
  // Each version gets its own mtime, since two writes within one kernel clock
  // tick (and a reused inode) could otherwise look identical.
  void Write(const std::string& text) {
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      ASSERT_TRUE(out.good());
    }
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = 1000000000 + ++version_;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, tmp.c_str(), times, 0), 0);
    ASSERT_EQ(::rename(tmp.c_str(), path_.c_str()), 0);
  }

  std::string path_;
  int version_ = 0;
};

TEST_F(TokenStoreTest, Open_GoodFile_Authorizes) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->Authorize(Bearer("t1"), "demo"), IsOk());
  EXPECT_THAT((*store)->Authorize(Bearer("t1"), "other"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*store)->AuthorizeAny(Bearer("t1")), IsOk());
  EXPECT_THAT((*store)->AuthorizeAdmin(Bearer("t1")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT((*store)->AuthorizeAny(Bearer("t2")),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenStoreTest, Open_MissingFile_ReturnsNotFound) {
  EXPECT_THAT(TokenStore::Open(path_), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(TokenStoreTest, Open_InvalidFile_ReturnsInvalidArgument) {
  Write("demo not-a-hash\n");
  EXPECT_THAT(TokenStore::Open(path_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TokenStoreTest, Open_OversizedFile_ReturnsInvalidArgument) {
  Write(std::string(kMaxTokenFileBytes + 1, '\n'));
  EXPECT_THAT(TokenStore::Open(path_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TokenStoreTest, ReloadIfChanged_Unchanged_ReturnsFalse) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());
  absl::StatusOr<bool> reloaded = (*store)->ReloadIfChanged();
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_FALSE(*reloaded);
}

TEST_F(TokenStoreTest, ReloadIfChanged_NewToken_ReplacesTable) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());

  Write(Grant("demo", "t2"));
  absl::StatusOr<bool> reloaded = (*store)->ReloadIfChanged();
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_TRUE(*reloaded);
  EXPECT_THAT((*store)->Authorize(Bearer("t1"), "demo"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT((*store)->Authorize(Bearer("t2"), "demo"), IsOk());
}

TEST_F(TokenStoreTest, ReloadIfChanged_InPlaceRewrite_ReplacesTable) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());
  {
    // Same inode; a second grant makes the size differ.
    std::ofstream out(path_, std::ios::trunc);
    out << Grant("demo", "t2") << Grant("other", "t3");
  }
  absl::StatusOr<bool> reloaded = (*store)->ReloadIfChanged();
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_TRUE(*reloaded);
  EXPECT_THAT((*store)->Authorize(Bearer("t3"), "other"), IsOk());
}

TEST_F(TokenStoreTest, ReloadIfChanged_BrokenFile_KeepsOldTable) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());

  Write(Grant("demo", "t2") + "demo\n");
  EXPECT_THAT((*store)->ReloadIfChanged(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->Authorize(Bearer("t1"), "demo"), IsOk());
  EXPECT_THAT((*store)->Authorize(Bearer("t2"), "demo"),
              StatusIs(absl::StatusCode::kUnauthenticated));

  // The same broken file is not parsed (nor reported) again...
  absl::StatusOr<bool> reloaded = (*store)->ReloadIfChanged();
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_FALSE(*reloaded);

  // ...but its repair is picked up.
  Write(Grant("demo", "t2"));
  reloaded = (*store)->ReloadIfChanged();
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_TRUE(*reloaded);
  EXPECT_THAT((*store)->Authorize(Bearer("t2"), "demo"), IsOk());
}

TEST_F(TokenStoreTest, ReloadIfChanged_FileRemoved_KeepsOldTable) {
  Write(Grant("demo", "t1"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  EXPECT_THAT((*store)->ReloadIfChanged(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT((*store)->Authorize(Bearer("t1"), "demo"), IsOk());
}

TEST_F(TokenStoreTest, Authorize_DuringReloads_SeesOneTableOrTheOther) {
  Write(Grant("demo", "t1") + Grant("other", "t2"));
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(path_);
  ASSERT_THAT(store, IsOk());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      // t2 is in every version of the file.
      EXPECT_THAT((*store)->Authorize(Bearer("t2"), "other"), IsOk());
    }
  });
  for (int i = 0; i < 50; ++i) {
    Write(Grant("demo", absl::StrCat("t1-", i)) + Grant("other", "t2"));
    EXPECT_THAT((*store)->ReloadIfChanged(), IsOk());
  }
  done.store(true);
  reader.join();
}

}  // namespace
}  // namespace sesh

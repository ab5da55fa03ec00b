#include "examples/webapp/users.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace sesh {
namespace webapp {
namespace {

TEST(HashPasswordTest, Rfc7914Vector_Matches) {
  // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64); the
  // first 32 bytes.
  EXPECT_EQ(absl::BytesToHexString(HashPassword("passwd", "salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(CheckPasswordTest, DemoUsers_TheirPasswordsAreAccepted) {
  absl::StatusOr<User> alice = CheckPassword("alice", "alice-demo-pw");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->id, "alice");
  EXPECT_EQ(alice->display_name, "Alice Liddell");
  absl::StatusOr<User> bob = CheckPassword("bob", "bob-demo-pw");
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(bob->display_name, "Bob Builder");
}

TEST(CheckPasswordTest, WrongPasswordOrUnknownUser_IsUnauthenticated) {
  EXPECT_EQ(CheckPassword("alice", "bob-demo-pw").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckPassword("alice", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckPassword("mallory", "alice-demo-pw").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckPassword("", "").status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace webapp
}  // namespace sesh

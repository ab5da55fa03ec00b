#include "client/sesh/cookies.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/internal/fake_node.h"
#include "client/sesh/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kName[] = "__Host-sesh";
// A well-formed (43-character base64url) session id.
constexpr char kId[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

absl::StatusCode CodeOf(const absl::StatusOr<std::string>& s) {
  return s.status().code();
}

TEST(BuildSetCookieTest, Defaults_AreHostOnlySecureHttpOnlyLaxSessionCookie) {
  absl::StatusOr<std::string> h = BuildSetCookie(kName, "abc", CookieOptions());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, "__Host-sesh=abc; Path=/; Secure; HttpOnly; SameSite=Lax");
}

TEST(BuildSetCookieTest, MaxAgeAndStrict_AreWritten) {
  CookieOptions o;
  o.max_age_seconds = 3600;
  o.same_site = SameSite::kStrict;
  o.http_only = false;
  absl::StatusOr<std::string> h = BuildSetCookie("theme", "dark", o);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, "theme=dark; Path=/; Max-Age=3600; Secure; SameSite=Strict");
}

TEST(BuildSetCookieTest, DomainOnPlainName_IsWritten) {
  CookieOptions o;
  o.domain = "example.com";
  o.path = "/app";
  absl::StatusOr<std::string> h = BuildSetCookie("sid", "x", o);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h,
            "sid=x; Domain=example.com; Path=/app; Secure; HttpOnly; "
            "SameSite=Lax");
}

TEST(BuildSetCookieTest, SameSiteNoneWithoutSecure_IsInvalidArgument) {
  CookieOptions o;
  o.secure = false;
  o.same_site = SameSite::kNone;
  EXPECT_EQ(CodeOf(BuildSetCookie("sid", "x", o)),
            absl::StatusCode::kInvalidArgument);
  o.secure = true;
  EXPECT_EQ(CodeOf(BuildSetCookie("sid", "x", o)), absl::StatusCode::kOk);
}

TEST(BuildSetCookieTest, HostPrefixWithDomain_IsInvalidArgument) {
  CookieOptions o;
  o.domain = "example.com";
  EXPECT_EQ(CodeOf(BuildSetCookie(kName, "x", o)),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildSetCookieTest, HostPrefixWithOtherPath_IsInvalidArgument) {
  CookieOptions o;
  o.path = "/app";
  EXPECT_EQ(CodeOf(BuildSetCookie(kName, "x", o)),
            absl::StatusCode::kInvalidArgument);
  o.path = "";
  EXPECT_EQ(CodeOf(BuildSetCookie(kName, "x", o)),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildSetCookieTest, PrefixedNameWithoutSecure_IsInvalidArgument) {
  CookieOptions o;
  o.secure = false;
  EXPECT_EQ(CodeOf(BuildSetCookie(kName, "x", o)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(BuildSetCookie("__Secure-a", "x", o)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(BuildSetCookie("plain", "x", o)), absl::StatusCode::kOk);
}

TEST(BuildSetCookieTest, IllegalNameCharacters_AreInvalidArgument) {
  for (const char* name : {"", "a b", "a=b", "a;b", "a,b", "a\"b", "a(b",
                           "a\tb", "caf\xc3\xa9"}) {
    EXPECT_EQ(CodeOf(BuildSetCookie(name, "x", CookieOptions())),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(CodeOf(BuildSetCookie(std::string(kMaxCookieNameBytes + 1, 'a'),
                                  "x", CookieOptions())),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildSetCookieTest, IllegalValueCharacters_AreInvalidArgument) {
  for (const char* value : {"a b", "a;b", "a,b", "a\"b", "a\\b", "a\nb",
                            "a\x7f", "\xff"}) {
    EXPECT_EQ(CodeOf(BuildSetCookie("n", value, CookieOptions())),
              absl::StatusCode::kInvalidArgument)
        << value;
  }
  EXPECT_EQ(CodeOf(BuildSetCookie(
                "n", std::string(kMaxCookieValueBytes + 1, 'a'),
                CookieOptions())),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildSetCookieTest, AttributeInjection_IsInvalidArgument) {
  CookieOptions o;
  o.domain = "example.com; Max-Age=99";
  EXPECT_EQ(CodeOf(BuildSetCookie("n", "x", o)),
            absl::StatusCode::kInvalidArgument);
  CookieOptions p;
  p.path = "relative";
  EXPECT_EQ(CodeOf(BuildSetCookie("n", "x", p)),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClearCookieTest, Default_HasEmptyValueAndMaxAgeZero) {
  absl::StatusOr<std::string> h = ClearCookie(kName, CookieOptions());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, "__Host-sesh=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
}

SessionData SessionWithDeadline(absl::Time deadline) {
  SessionData s;
  s.id = kId;
  s.absolute_deadline_ms = absl::ToUnixMillis(deadline);
  return s;
}

TEST(SessionSetCookieTest, NotRemembered_IsSessionCookieWhateverMaxAge) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  CookieOptions o;
  o.max_age_seconds = 500;
  absl::StatusOr<std::string> h = SessionSetCookie(
      kName, SessionWithDeadline(now + absl::Hours(8)), false, o, now);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, std::string(kName) + "=" + kId +
                    "; Path=/; Secure; HttpOnly; SameSite=Lax");
}

TEST(SessionSetCookieTest, Remembered_MaxAgeIsCappedByAbsoluteDeadline) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  CookieOptions o;
  o.max_age_seconds = 30 * 86400;
  absl::StatusOr<std::string> h = SessionSetCookie(
      kName, SessionWithDeadline(now + absl::Seconds(7200.9)), true, o, now);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, std::string(kName) + "=" + kId +
                    "; Path=/; Max-Age=7200; Secure; HttpOnly; SameSite=Lax");
}

TEST(SessionSetCookieTest, Remembered_ShorterMaxAgeIsKept) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  CookieOptions o;
  o.max_age_seconds = 60;
  absl::StatusOr<std::string> h = SessionSetCookie(
      kName, SessionWithDeadline(now + absl::Hours(1)), true, o, now);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, std::string(kName) + "=" + kId +
                    "; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax");
}

TEST(SessionSetCookieTest, RememberedWithoutMaxAge_RunsToDeadline) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<std::string> h = SessionSetCookie(
      kName, SessionWithDeadline(now + absl::Seconds(90)), true,
      CookieOptions(), now);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, std::string(kName) + "=" + kId +
                    "; Path=/; Max-Age=90; Secure; HttpOnly; SameSite=Lax");
}

TEST(SessionSetCookieTest, RememberedPastDeadline_IsFailedPrecondition) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(CodeOf(SessionSetCookie(kName,
                                    SessionWithDeadline(now + absl::Milliseconds(999)),
                                    true, CookieOptions(), now)),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(SessionSetCookie(kName,
                                    SessionWithDeadline(now - absl::Hours(1)),
                                    true, CookieOptions(), now)),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ParseCookieHeaderTest, SeveralCookies_InOrderWithDuplicates) {
  EXPECT_THAT(ParseCookieHeader("a=1; b=2; a=3"),
              ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("a", "3")));
}

TEST(ParseCookieHeaderTest, WhitespaceAndQuotes_AreStripped) {
  EXPECT_THAT(ParseCookieHeader(" \ta = 1 ;b=\"two\";\tc=  ;d=\"\""),
              ElementsAre(Pair("a", "1"), Pair("b", "two"), Pair("c", ""),
                          Pair("d", "")));
}

TEST(ParseCookieHeaderTest, Garbage_IsSkipped) {
  EXPECT_THAT(ParseCookieHeader(
                  ";;noequals; =v; a b=1; ok=yes; bad=x y; q=\"; "
                  "c=\"x\"y\"; \xff=1; v=\xc3\xa9; last=1;"),
              ElementsAre(Pair("ok", "yes"), Pair("last", "1")));
}

TEST(ParseCookieHeaderTest, ValueKeepsEqualsSigns) {
  EXPECT_THAT(ParseCookieHeader("p=v1.abc==.def"),
              ElementsAre(Pair("p", "v1.abc==.def")));
}

TEST(ParseCookieHeaderTest, Empty_GivesNothing) {
  EXPECT_THAT(ParseCookieHeader(""), IsEmpty());
  EXPECT_THAT(ParseCookieHeader(";  ; "), IsEmpty());
  EXPECT_THAT(ParseCookieHeader("="), IsEmpty());
  EXPECT_THAT(ParseCookieHeader("\""), IsEmpty());
}

TEST(ParseCookieHeaderTest, ManyCookies_StopAtLimit) {
  std::string header;
  for (size_t i = 0; i < kMaxCookies + 10; ++i) header += "c=1; ";
  EXPECT_EQ(ParseCookieHeader(header).size(), kMaxCookies);
}

TEST(ParseCookieHeaderTest, EmbeddedNul_IsSkippedWithoutReadingPastIt) {
  const std::string header("a=1; b=\0x; c=3", 14);
  EXPECT_THAT(ParseCookieHeader(header),
              ElementsAre(Pair("a", "1"), Pair("c", "3")));
}

TEST(FindCookieTest, FirstOfDuplicates_IsReturned) {
  absl::StatusOr<std::string> v = FindCookie("x=0; a=1; a=2", "a");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "1");
}

TEST(FindCookieTest, AbsentOrOtherCase_IsNotFound) {
  EXPECT_EQ(FindCookie("A=1", "a").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FindCookie("", "a").status().code(), absl::StatusCode::kNotFound);
}

TEST(SessionFromCookieHeaderTest, LiveSession_IsReturned) {
  testing::TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  const std::string id = testing::TestId(7);
  absl::StatusOr<SessionData> s = SessionFromCookieHeader(
      *client, testing::kNs, "theme=dark; " + std::string(kName) + "=" + id,
      kName);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, id);
  EXPECT_EQ(tc.node(0).gets.load() + tc.node(0).batch_gets.load(), 1);
}

TEST(SessionFromCookieHeaderTest, MissingOrMalformed_IsNotFoundWithoutRpc) {
  testing::TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  for (const std::string& header :
       {std::string(""), std::string("other=1"),
        std::string(kName) + "=short", std::string(kName) + "=" + kId + "x"}) {
    EXPECT_EQ(SessionFromCookieHeader(*client, testing::kNs, header, kName)
                  .status()
                  .code(),
              absl::StatusCode::kNotFound)
        << header;
  }
  EXPECT_EQ(tc.node(0).received().size(), 0u);
}

TEST(SessionFromCookieHeaderTest, UnknownSession_IsNotFound) {
  testing::TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  const std::string id = testing::TestId(8);
  tc.node(0).AddMissing(id);
  EXPECT_EQ(SessionFromCookieHeader(*client, testing::kNs,
                                    std::string(kName) + "=" + id, kName)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(tc.node(0).received(), std::vector<std::string>{id});
}

TEST(SessionFromCookieHeaderTest, EmptyNamespace_IsInvalidArgument) {
  testing::TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(SessionFromCookieHeader(*client, "",
                                    std::string(kName) + "=" + kId, kName)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sesh

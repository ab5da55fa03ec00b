#include "auth/token_table.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kDemoToken = "demo-secret-token";
const std::string kOtherToken = "other-secret-token";
const std::string kAdminToken = "admin-secret-token";

std::string Bearer(absl::string_view token) {
  return absl::StrCat("Bearer ", token);
}

// demo and other each have a token; admin has every namespace and scope admin.
TokenTable DemoTable() {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(absl::StrCat(
      "# tokens for the tests\n", "\n", "demo ", Sha256Hex(kDemoToken), "\n",
      "other\t", absl::AsciiStrToUpper(Sha256Hex(kOtherToken)), "\n",
      "  * ", Sha256Hex(kAdminToken), " admin\n"));
  EXPECT_THAT(table, IsOk());
  return *std::move(table);
}

TEST(Sha256HexTest, KnownVector_MatchesFips180) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenTableTest, Parse_GoodFile_SkipsCommentsAndBlankLines) {
  EXPECT_EQ(DemoTable().size(), 3u);
}

TEST(TokenTableTest, Parse_EmptyFile_AuthorizesNothing) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("");
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(table->size(), 0u);
  EXPECT_THAT(table->AuthorizeAny(Bearer(kDemoToken)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokenTableTest, Parse_CrLfLines_Accepted) {
  EXPECT_THAT(TokenTable::Parse(
                  absl::StrCat("# c\r\ndemo ", Sha256Hex("t"), "\r\n")),
              IsOk());
}

TEST(TokenTableTest, Parse_BadLine_ReturnsInvalidArgumentWithLineNumber) {
  const std::string hash = Sha256Hex("t");
  const std::string bad_lines[] = {
      "demo",                                     // no hash
      absl::StrCat("demo ", hash, " admin x"),    // too many fields
      absl::StrCat("demo ", hash.substr(1)),      // 63 digits
      absl::StrCat("demo ", hash, "0"),           // 65 digits
      absl::StrCat("demo ", hash.substr(1), "g"), // not hex
      absl::StrCat("demo ", hash, " read"),       // unknown scope
      absl::StrCat("demo ", hash, " ADMIN"),      // scope is case-sensitive
  };
  for (const std::string& bad : bad_lines) {
    // The bad line is line 3, after a comment and a good line.
    absl::StatusOr<TokenTable> table = TokenTable::Parse(absl::StrCat(
        "# header\n", "other ", Sha256Hex("u"), "\n", bad, "\n"));
    ASSERT_THAT(table, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(table.status().message(), HasSubstr("line 3:")) << bad;
    EXPECT_THAT(table.status().message(), Not(HasSubstr(hash.substr(1, 16))));
  }
}

TEST(TokenTableTest, Parse_DuplicateHash_ReturnsInvalidArgument) {
  const std::string hash = Sha256Hex("t");
  absl::StatusOr<TokenTable> table = TokenTable::Parse(absl::StrCat(
      "demo ", hash, "\n", "other ", absl::AsciiStrToUpper(hash), "\n"));
  ASSERT_THAT(table, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(table.status().message(), HasSubstr("line 2:"));
  EXPECT_THAT(table.status().message(), HasSubstr("line 1"));
  EXPECT_THAT(absl::AsciiStrToLower(table.status().message()),
              Not(HasSubstr(hash.substr(0, 16))));
}

TEST(TokenTableTest, Parse_OverBounds_ReturnsInvalidArgument) {
  std::string many;
  for (size_t i = 0; i <= kMaxTokenFileLines; ++i) many += "#\n";
  EXPECT_THAT(TokenTable::Parse(many),
              StatusIs(absl::StatusCode::kInvalidArgument));
  many.resize(many.size() - 2);  // exactly kMaxTokenFileLines lines
  EXPECT_THAT(TokenTable::Parse(many), IsOk());
  EXPECT_THAT(TokenTable::Parse(std::string(kMaxTokenFileBytes + 1, ' ')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenTableTest, Authorize_OwnNamespace_Ok) {
  TokenTable table = DemoTable();
  EXPECT_THAT(table.Authorize(Bearer(kDemoToken), "demo"), IsOk());
  // The file held this hash in upper case.
  EXPECT_THAT(table.Authorize(Bearer(kOtherToken), "other"), IsOk());
}

TEST(TokenTableTest, Authorize_OtherNamespace_ReturnsPermissionDenied) {
  TokenTable table = DemoTable();
  EXPECT_THAT(table.Authorize(Bearer(kDemoToken), "other"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(table.Authorize(Bearer(kDemoToken), ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(table.Authorize(Bearer(kDemoToken), "*"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(TokenTableTest, Authorize_StarNamespace_GrantsEveryNamespace) {
  TokenTable table = DemoTable();
  EXPECT_THAT(table.Authorize(Bearer(kAdminToken), "demo"), IsOk());
  EXPECT_THAT(table.Authorize(Bearer(kAdminToken), "anything"), IsOk());
}

TEST(TokenTableTest, Authorize_MissingOrGarbledHeader_ReturnsUnauthenticated) {
  TokenTable table = DemoTable();
  const std::string headers[] = {
      "",
      "Bearer ",
      "Bearer",
      kDemoToken,
      absl::StrCat("Basic ", kDemoToken),
      absl::StrCat("bearer ", kDemoToken),
      absl::StrCat("Bearer  ", kDemoToken),
      absl::StrCat("Bearer ", kDemoToken, " "),
      absl::StrCat("Bearer ", Sha256Hex(kDemoToken)),  // the hash is no token
  };
  for (const std::string& header : headers) {
    EXPECT_THAT(table.Authorize(header, "demo"),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << header;
    EXPECT_THAT(table.AuthorizeAny(header),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << header;
    EXPECT_THAT(table.AuthorizeAdmin(header),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << header;
  }
}

TEST(TokenTableTest, AuthorizeAny_AnyKnownToken_Ok) {
  TokenTable table = DemoTable();
  EXPECT_THAT(table.AuthorizeAny(Bearer(kDemoToken)), IsOk());
  EXPECT_THAT(table.AuthorizeAny(Bearer(kOtherToken)), IsOk());
  EXPECT_THAT(table.AuthorizeAny(Bearer(kAdminToken)), IsOk());
}

TEST(TokenTableTest, AuthorizeAdmin_DependsOnScope) {
  TokenTable table = DemoTable();
  EXPECT_THAT(table.AuthorizeAdmin(Bearer(kAdminToken)), IsOk());
  EXPECT_THAT(table.AuthorizeAdmin(Bearer(kDemoToken)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(TokenTableTest, AuthorizeAdmin_ScopeOnNamedNamespace_Ok) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(
      absl::StrCat("demo ", Sha256Hex(kDemoToken), " admin\n"));
  ASSERT_THAT(table, IsOk());
  EXPECT_THAT(table->AuthorizeAdmin(Bearer(kDemoToken)), IsOk());
  EXPECT_THAT(table->Authorize(Bearer(kDemoToken), "other"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(TokenTableTest, Errors_NeverContainTokenOrHash) {
  TokenTable table = DemoTable();
  const std::string hash = Sha256Hex(kDemoToken);
  const absl::Status errors[] = {
      table.Authorize(Bearer(kDemoToken), "other"),
      table.Authorize(Bearer("not-" + kDemoToken), "demo"),
      table.Authorize(kDemoToken, "demo"),
      table.AuthorizeAdmin(Bearer(kDemoToken)),
      table.AuthorizeAny(Bearer("x" + kDemoToken)),
  };
  for (const absl::Status& error : errors) {
    ASSERT_FALSE(error.ok());
    EXPECT_THAT(error.message(), Not(HasSubstr(kDemoToken)));
    EXPECT_THAT(error.message(), Not(HasSubstr(hash.substr(0, 8))));
  }
}

}  // namespace
}  // namespace sesh

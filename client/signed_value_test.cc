#include "client/sesh/signed_value.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

struct Rfc4231Case {
  std::string key;
  std::string data;
  std::string hex;  // expected HMAC-SHA-256 (case 5: its first 16 bytes)
};

std::vector<Rfc4231Case> Rfc4231Cases() {
  const std::string aa131(131, '\xaa');
  return {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {absl::HexStringToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(20, '\x0c'), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {aa131, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {aa131,
       "This is a test using a larger than block-size key and a larger than "
       "block-size data. The key needs to be hashed before being used by the "
       "HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(HmacSha256Test, Rfc4231Vectors_Match) {
  int n = 0;
  for (const Rfc4231Case& c : Rfc4231Cases()) {
    ++n;
    const std::string mac = HmacSha256(c.key, c.data);
    ASSERT_EQ(mac.size(), 32u);
    EXPECT_EQ(Hex(mac).substr(0, c.hex.size()), c.hex) << "RFC 4231 case " << n;
  }
  EXPECT_EQ(n, 7);
}

TEST(HmacSha256Test, EmptyKeyAndData_IsDefined) {
  EXPECT_EQ(Hex(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

const std::string kKeyA(32, 'a');
const std::string kKeyB(40, 'b');
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

SignedValues Make(std::vector<std::string> keys) {
  absl::StatusOr<SignedValues> v = SignedValues::Create(std::move(keys));
  EXPECT_TRUE(v.ok()) << v.status();
  return *std::move(v);
}

std::string SignOk(const SignedValues& v, const std::string& purpose,
                   const std::string& value,
                   std::optional<absl::Time> expires = std::nullopt) {
  absl::StatusOr<std::string> s = v.Sign(purpose, value, expires);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(SignedValuesTest, Create_BadKeys_AreInvalidArgument) {
  EXPECT_EQ(SignedValues::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignedValues::Create({std::string(31, 'k')}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignedValues::Create({kKeyA, "short"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignedValues::Create(std::vector<std::string>(
                                     SignedValues::kMaxKeys + 1, kKeyA))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignedValuesTest, SignThenVerify_ReturnsValue) {
  const SignedValues v = Make({kKeyA});
  for (const std::string& value :
       {std::string(""), std::string("dark"), std::string("a\0b", 3)}) {
    const std::string s = SignOk(v, "prefs", value);
    EXPECT_EQ(s.rfind("v1.", 0), 0u);
    absl::StatusOr<std::string> got = v.Verify("prefs", s, kNow);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, value);
  }
}

TEST(SignedValuesTest, Sign_IsCookieSafeAndDeterministic) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "theme=dark; x", kNow + absl::Hours(1));
  EXPECT_EQ(s, SignOk(v, "prefs", "theme=dark; x", kNow + absl::Hours(1)));
  for (char c : s) {
    EXPECT_TRUE(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.')
        << s;
  }
}

TEST(SignedValuesTest, KeyRotation_FirstKeySignsAllVerify) {
  const SignedValues old_only = Make({kKeyA});
  const SignedValues rotated = Make({kKeyB, kKeyA});
  const std::string by_old = SignOk(old_only, "prefs", "dark");
  const std::string by_new = SignOk(rotated, "prefs", "dark");
  EXPECT_NE(by_old, by_new);
  EXPECT_EQ(*rotated.Verify("prefs", by_old, kNow), "dark");
  EXPECT_EQ(*rotated.Verify("prefs", by_new, kNow), "dark");
  // Signed by the new key only: the old key alone refuses it.
  EXPECT_EQ(old_only.Verify("prefs", by_new, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  // The old key dropped: its values stop verifying.
  EXPECT_EQ(Make({kKeyB}).Verify("prefs", by_old, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedValuesTest, OtherPurpose_IsUnauthenticated) {
  const SignedValues v = Make({kKeyA});
  EXPECT_EQ(v.Verify("lang", SignOk(v, "prefs", "dark"), kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedValuesTest, EveryFlippedCharacter_IsRejected) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "theme=dark", kNow + absl::Hours(1));
  for (size_t i = 0; i < s.size(); ++i) {
    std::string t = s;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    const absl::StatusCode code = v.Verify("prefs", t, kNow).status().code();
    EXPECT_TRUE(code == absl::StatusCode::kUnauthenticated ||
                code == absl::StatusCode::kInvalidArgument)
        << "position " << i << ": " << code;
  }
}

TEST(SignedValuesTest, TamperedPayload_IsUnauthenticated) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "light");
  const size_t dot = s.rfind('.');
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(s.substr(3, dot - 3), &payload));
  payload.replace(8, 5, "dark!");
  const std::string forged =
      "v1." + absl::WebSafeBase64Escape(payload) + s.substr(dot);
  EXPECT_EQ(v.Verify("prefs", forged, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignedValuesTest, Truncated_IsInvalidArgument) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "dark");
  for (size_t len : {size_t{0}, size_t{2}, size_t{3}, size_t{10}, s.rfind('.'),
                     s.rfind('.') + 1, s.size() - 4}) {
    EXPECT_EQ(v.Verify("prefs", s.substr(0, len), kNow).status().code(),
              absl::StatusCode::kInvalidArgument)
        << len;
  }
}

TEST(SignedValuesTest, Garbage_IsInvalidArgument) {
  const SignedValues v = Make({kKeyA});
  for (const std::string& text :
       {std::string("dark"), std::string("v2.AAAA.AAAA"), std::string("v1.."),
        std::string("v1.AAAAAAAAAAA=.x"), std::string("v1.!!!.???"),
        std::string(SignedValues::kMaxSignedBytes + 1, 'v')}) {
    EXPECT_EQ(v.Verify("prefs", text, kNow).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text.substr(0, 40);
  }
}

TEST(SignedValuesTest, Expired_IsNotFound) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "dark", kNow + absl::Seconds(10));
  EXPECT_EQ(*v.Verify("prefs", s, kNow + absl::Milliseconds(9999)), "dark");
  EXPECT_EQ(v.Verify("prefs", s, kNow + absl::Seconds(10)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(v.Verify("prefs", s, kNow + absl::Hours(1)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SignedValuesTest, NoExpiry_NeverExpires) {
  const SignedValues v = Make({kKeyA});
  const std::string s = SignOk(v, "prefs", "dark");
  EXPECT_EQ(*v.Verify("prefs", s, absl::FromUnixSeconds(int64_t{1} << 40)),
            "dark");
}

TEST(SignedValuesTest, TooLongValue_IsInvalidArgument) {
  const SignedValues v = Make({kKeyA});
  EXPECT_EQ(v.Sign("prefs", std::string(SignedValues::kMaxSignedBytes, 'x'),
                   std::nullopt)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // The longest value that fits verifies.
  std::string value(2900, 'x');
  while (v.Sign("prefs", value + "x", std::nullopt).ok()) value += "x";
  const std::string s = SignOk(v, "prefs", value);
  EXPECT_LE(s.size(), SignedValues::kMaxSignedBytes);
  EXPECT_EQ(*v.Verify("prefs", s, kNow), value);
}

}  // namespace
}  // namespace sesh

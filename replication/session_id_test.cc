#include "replication/session_id.h"

#include <set>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

TEST(SessionIdTest, EncodeDecode_RoundTrip_Is43CharsAndExact) {
  for (int i = 0; i < 100; ++i) {
    std::string raw = NewRawId();
    ASSERT_EQ(raw.size(), kIdBytes);
    std::string text = EncodeId(raw);
    EXPECT_EQ(text.size(), kIdChars);
    absl::StatusOr<std::string> back = DecodeId(text);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, raw);
  }
}

TEST(SessionIdTest, Encode_KnownBytes_GivesKnownText) {
  EXPECT_EQ(EncodeId(std::string(32, '\0')),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(EncodeId(std::string(32, '\xff')),
            "__________________________________________8");
}

TEST(SessionIdTest, NewRawId_IsNotRepeated) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewRawId());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SessionIdTest, Decode_Malformed_ReturnsInvalidArgument) {
  std::string good = EncodeId(NewRawId());
  const std::string bad[] = {
      "",
      good.substr(0, 42),
      good + "A",
      std::string(42, 'A') + "=",
      std::string(42, 'A') + "+",
      std::string(42, 'A') + "/",
      std::string(42, 'A') + "B",  // low bits set: not canonical
      std::string(42, 'A') + std::string(1, '\0'),
      std::string(43, ' '),
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(DecodeId(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "input size " << text.size();
  }
}

TEST(SessionIdTest, IdTagForLog_IsShortAndStable) {
  std::string raw(32, '\0');
  EXPECT_EQ(IdTagForLog(raw), IdTagForLog(raw));
  EXPECT_EQ(IdTagForLog(raw).size(), 8u);
  EXPECT_NE(IdTagForLog(raw), IdTagForLog(std::string(32, '\1')));
}

}  // namespace
}  // namespace sesh

#include "auth/session_handle.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replication/session_id.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

TEST(SessionHandleTest, SessionHandle_SameId_SameHandleOf22Chars) {
  std::string raw = NewRawId();
  std::string handle = SessionHandle(raw);
  EXPECT_EQ(handle.size(), kHandleChars);
  EXPECT_EQ(SessionHandle(raw), handle);
  EXPECT_TRUE(LooksLikeHandle(handle));
}

TEST(SessionHandleTest, SessionHandle_KnownId_GivesKnownHandle) {
  // Computed apart from this code: { printf 'sesh-handle\0'; head -c32
  // /dev/zero; } | openssl dgst -sha256 -binary | head -c16 | base64 (then
  // '+/' to '-_', no '=').
  EXPECT_EQ(SessionHandle(std::string(kIdBytes, '\0')),
            "KibQ7x19CYTNQB8q8jCOow");
}

TEST(SessionHandleTest, SessionHandle_DifferentIds_DifferentHandles) {
  std::set<std::string> handles;
  for (int i = 0; i < 1000; ++i) handles.insert(SessionHandle(NewRawId()));
  EXPECT_EQ(handles.size(), 1000u);
  // The label is part of the input: a handle is not a plain SHA-256 prefix.
  EXPECT_NE(SessionHandle(""), SessionHandle(std::string(1, '\0')));
}

TEST(SessionHandleTest, LooksLikeHandle_Malformed_ReturnsFalse) {
  const std::string good = SessionHandle(NewRawId());
  const std::string bad[] = {
      "",
      good.substr(0, 21),
      good + "A",
      std::string(21, 'A') + "B",  // bits beyond the 128
      "AAAAAAAAAAAAAAAAAAAA+A",    // base64, not base64url
      "AAAAAAAAAAAAAAAAAAAA/A",
      "AAAAAAAAAAAAAAAAAAAA=A",
      "AAAAAAAAAAAAAAAAAAAAAA==",
      EncodeId(NewRawId()),  // a session ID is not a handle
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(LooksLikeHandle(text)) << text;
  }
  EXPECT_TRUE(LooksLikeHandle(std::string(22, 'A')));
  EXPECT_TRUE(LooksLikeHandle("-_-_-_-_-_-_-_-_-_-_-w"));
}

TEST(SessionHandleTest, DecodeId_Handle_ReturnsInvalidArgument) {
  for (int i = 0; i < 100; ++i) {
    EXPECT_THAT(DecodeId(SessionHandle(NewRawId())),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace sesh

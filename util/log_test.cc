#include "util/log.h"

#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

const absl::Time kTime = absl::FromUnixMicros(1796300000123456);  // 2026-12-03

TEST(LogTest, FormatLogLine_Text_TimeLevelComponentNodeMessage) {
  LogOptions options;
  options.node_id = "n1";
  EXPECT_EQ(FormatLogLine(options, kTime, LogLevel::kWarning, "membership",
                          "epoch 7\ninstalled"),
            "2026-12-03T12:13:20.123456Z WARNING membership n1: epoch 7 "
            "installed");
}

TEST(LogTest, FormatLogLine_Json_EscapesEveryStringField) {
  LogOptions options;
  options.json = true;
  options.node_id = "n\"1";
  EXPECT_EQ(FormatLogLine(options, kTime, LogLevel::kInfo, "store",
                          "a\\b \"c\"\n\x01"),
            "{\"ts\":\"2026-12-03T12:13:20.123456Z\",\"level\":\"info\","
            "\"component\":\"store\",\"node\":\"n\\\"1\","
            "\"msg\":\"a\\\\b \\\"c\\\"\\n\\u0001\"}");
}

TEST(LogTest, FormatLogLine_NoNodeId_LeavesTheFieldOut) {
  LogOptions options;
  EXPECT_EQ(FormatLogLine(options, kTime, LogLevel::kError, "main", "x"),
            "2026-12-03T12:13:20.123456Z ERROR main: x");
  options.json = true;
  EXPECT_EQ(FormatLogLine(options, kTime, LogLevel::kDebug, "main", "x"),
            "{\"ts\":\"2026-12-03T12:13:20.123456Z\",\"level\":\"debug\","
            "\"component\":\"main\",\"msg\":\"x\"}");
}

TEST(LogTest, Log_BelowMinimumLevel_WritesNothing) {
  FILE* sink = tmpfile();
  ASSERT_NE(sink, nullptr);
  LogOptions options;
  options.sink = sink;
  options.min_level = LogLevel::kWarning;
  ConfigureLogging(options);
  LogInfo("main", "dropped %d", 1);
  LogWarning("main", "kept %d", 2);
  LogError("main", "kept %s", "3");
  ConfigureLogging(LogOptions());
  rewind(sink);
  char buffer[256];
  std::string all;
  while (fgets(buffer, sizeof(buffer), sink) != nullptr) all += buffer;
  fclose(sink);
  EXPECT_EQ(all.find("dropped"), std::string::npos);
  EXPECT_NE(all.find(" WARNING main: kept 2\n"), std::string::npos) << all;
  EXPECT_NE(all.find(" ERROR main: kept 3\n"), std::string::npos) << all;
}

TEST(LogTest, ParseLogLevel_KnownNamesAnyCase_OthersRefused) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("WARNING", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
}

TEST(LogTest, RedactedId_KeepsSixCharactersAndTheLength) {
  EXPECT_EQ(RedactedId("AbC12xSECRETSECRETSECRET"), "AbC12x...(24)");
  EXPECT_EQ(RedactedId("ab"), "ab...(2)");
}

}  // namespace
}  // namespace sesh

#include "replication/hlc.h"

#include "gtest/gtest.h"

namespace sesh {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;

TEST(HybridClockTest, Now_ClockSetBack_NeverGoesBackwards) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock);
  const uint64_t first = hlc.Now();
  EXPECT_EQ(first, HybridClock::StampOf(kStart));
  clock.SetMs(kStart - 3'600'000);
  const uint64_t second = hlc.Now();
  EXPECT_EQ(second, first + 1);
  clock.SetMs(kStart + 5);
  EXPECT_EQ(hlc.Now(), HybridClock::StampOf(kStart + 5));
}

TEST(HybridClockTest, Observe_WithinBound_LaterStampsPassIt) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, /*max_ahead_ms=*/10'000);
  const uint64_t peer = HybridClock::StampOf(kStart + 10'000) + 7;
  ASSERT_TRUE(hlc.Observe(peer).ok());
  EXPECT_EQ(hlc.Now(), peer + 1);
}

TEST(HybridClockTest, Observe_FarAhead_RefusedAndClockUnchanged) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, /*max_ahead_ms=*/10'000);
  absl::Status s = hlc.Observe(HybridClock::StampOf(kStart + 10'001));
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(hlc.Observe(~uint64_t{0}).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(hlc.Last(), 0u);
  EXPECT_EQ(hlc.Now(), HybridClock::StampOf(kStart));
}

TEST(HybridClockTest, Seed_BeyondBound_IsKeptAndNowPassesIt) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, /*max_ahead_ms=*/10);
  const uint64_t persisted = HybridClock::StampOf(kStart + 60'000);
  hlc.Seed(persisted);
  hlc.Seed(persisted - 1);  // a lower seed moves nothing
  EXPECT_EQ(hlc.Last(), persisted);
  EXPECT_EQ(hlc.Now(), persisted + 1);
}

}  // namespace
}  // namespace sesh

#include "replication/merge.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sesh {
namespace {

using internal::SessionRecord;

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

SessionRecord Base() {
  SessionRecord r;
  r.set_id(kId);
  r.set_namespace_("shop");
  r.set_user_id("alice");
  r.set_created_at_ms(1000);
  r.set_last_access_ms(1000);
  r.set_idle_timeout_ms(60000);
  r.set_absolute_deadline_ms(100000);
  r.set_version(1 << 16);
  return r;
}

// A random mutation of the session as one replica could have made it: an
// attribute set or removal, a touch, or a destroy, stamped by one of three
// writers with HLC stamps that may collide.
SessionRecord RandomMutation(std::mt19937_64& rng) {
  SessionRecord r = Base();
  const char* keys[] = {"a", "b", "c", "d"};
  uint64_t stamp = (1 + rng() % 20) << 16;
  uint32_t writer = static_cast<uint32_t>(rng() % 3);
  switch (rng() % 10) {
    case 0:
      r.set_destroyed(true);
      r.set_version(stamp);
      break;
    case 1:
    case 2:
      r.set_last_access_ms(1000 + static_cast<int64_t>(rng() % 5000));
      break;
    default: {
      auto& attr = (*r.mutable_attributes())[keys[rng() % 4]];
      attr.set_hlc(stamp);
      attr.set_writer(writer);
      if (rng() % 4 == 0) {
        attr.set_removed(true);
      } else {
        attr.set_value(std::to_string(rng() % 100));
      }
      r.set_version(stamp);
    }
  }
  return r;
}

TEST(MergeTest, Merge_IsCommutativeAssociativeAndIdempotent_OnGeneratedStates) {
  std::mt19937_64 rng(20261128);
  for (int i = 0; i < 5000; ++i) {
    // States are themselves merges of a few mutations.
    SessionRecord x = RandomMutation(rng), y = RandomMutation(rng),
                  z = RandomMutation(rng);
    x = Merge(x, RandomMutation(rng));
    y = Merge(y, RandomMutation(rng));
    ASSERT_TRUE(SameState(Merge(x, y), Merge(y, x))) << i;
    ASSERT_TRUE(SameState(Merge(Merge(x, y), z), Merge(x, Merge(y, z)))) << i;
    ASSERT_TRUE(SameState(Merge(x, x), x)) << i;
    ASSERT_TRUE(SameState(Merge(Merge(x, y), y), Merge(x, y))) << i;
  }
}

TEST(MergeTest, Replicas_SeeingSameMutationsInAnyOrderWithDuplicates_Converge) {
  std::mt19937_64 rng(7);
  for (int history = 0; history < 500; ++history) {
    std::vector<SessionRecord> mutations;
    for (int i = 0; i < 12; ++i) mutations.push_back(RandomMutation(rng));
    SessionRecord reference;
    for (const SessionRecord& m : mutations) reference = Merge(reference, m);
    for (int replica = 0; replica < 4; ++replica) {
      std::vector<SessionRecord> delivery = mutations;
      // Redeliver some mutations, as retries and hint replays do.
      for (int d = 0; d < 4; ++d) {
        delivery.push_back(mutations[rng() % mutations.size()]);
      }
      std::shuffle(delivery.begin(), delivery.end(), rng);
      SessionRecord state;
      for (const SessionRecord& m : delivery) state = Merge(state, m);
      ASSERT_TRUE(SameState(state, reference)) << history << "/" << replica;
    }
  }
}

TEST(MergeTest, Destroy_WinsOverLaterWrites) {
  SessionRecord destroyed = Base();
  destroyed.set_destroyed(true);
  SessionRecord later = Base();
  auto& attr = (*later.mutable_attributes())["cart"];
  attr.set_value("9");
  attr.set_hlc(uint64_t{50} << 16);
  later.set_version(uint64_t{50} << 16);
  SessionRecord merged = Merge(later, destroyed);
  EXPECT_TRUE(merged.destroyed());
  EXPECT_EQ(merged.attributes_size(), 0);
}

TEST(MergeTest, LastAccess_MergesByMax_SoALateTouchNeverShortens) {
  SessionRecord fresh = Base();
  fresh.set_last_access_ms(9000);
  SessionRecord stale = Base();
  stale.set_last_access_ms(2000);
  EXPECT_EQ(Merge(fresh, stale).last_access_ms(), 9000);
  EXPECT_EQ(Merge(stale, fresh).last_access_ms(), 9000);
}

TEST(MergeTest, Attribute_LaterStampWins_TieBrokenByWriter) {
  SessionRecord a = Base(), b = Base();
  auto& x = (*a.mutable_attributes())["k"];
  x.set_value("from-a");
  x.set_hlc(uint64_t{5} << 16);
  x.set_writer(1);
  auto& y = (*b.mutable_attributes())["k"];
  y.set_value("from-b");
  y.set_hlc(uint64_t{5} << 16);
  y.set_writer(2);
  EXPECT_EQ(Merge(a, b).attributes().at("k").value(), "from-b");
  EXPECT_EQ(Merge(b, a).attributes().at("k").value(), "from-b");
  y.set_hlc(uint64_t{4} << 16);
  EXPECT_EQ(Merge(a, b).attributes().at("k").value(), "from-a");
}

TEST(MergeTest, EmptyRecord_IsIdentity) {
  SessionRecord a = Base();
  EXPECT_TRUE(SameState(Merge(SessionRecord(), a), a));
  EXPECT_TRUE(SameState(Merge(a, SessionRecord()), a));
}

}  // namespace
}  // namespace sesh

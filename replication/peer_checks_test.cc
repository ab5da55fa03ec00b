#include "replication/peer_checks.h"

#include <string>

#include "gtest/gtest.h"
#include "replication/placement.h"

namespace sesh {
namespace {

// Five nodes, three replicas: node 0 holds some partitions and not others.
class PeerChecksTest : public ::testing::Test {
 protected:
  PeerChecksTest()
      : placement_(*PlacementMap::Build({"n1", "n2", "n3", "n4", "n5"}, 3)) {
    for (int i = 0; held_.empty() || foreign_.empty(); ++i) {
      std::string id(32, '\0');
      id[0] = static_cast<char>(i);
      id[1] = static_cast<char>(i >> 8);
      (placement_.Holds(0, PartitionOf(id)) ? held_ : foreign_) = id;
    }
  }

  internal::SessionRecord Record(const std::string& id) const {
    internal::SessionRecord r;
    r.set_id(id);
    r.set_namespace_("ns");
    r.set_user_id("u");
    r.set_idle_timeout_ms(1000);
    (*r.mutable_attributes())["k"].set_value("v");
    return r;
  }

  PlacementMap placement_;
  PeerLimits limits_;
  std::string held_;
  std::string foreign_;
};

TEST_F(PeerChecksTest, HeldPartition_Accepted) {
  EXPECT_TRUE(CheckReplicatedRecord(Record(held_), placement_, 0, limits_).ok());
}

TEST_F(PeerChecksTest, PartitionNotHeld_Refused) {
  absl::Status s = CheckReplicatedRecord(Record(foreign_), placement_, 0, limits_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("not replicated by this node"),
            absl::string_view::npos)
      << s;
}

TEST_F(PeerChecksTest, BadIdOrSizes_Refused) {
  EXPECT_FALSE(CheckReplicatedRecord(Record("short"), placement_, 0, limits_).ok());
  internal::SessionRecord big_value = Record(held_);
  (*big_value.mutable_attributes())["k"].set_value(
      std::string(limits_.max_value_bytes + 1, 'x'));
  EXPECT_FALSE(CheckReplicatedRecord(big_value, placement_, 0, limits_).ok());
  internal::SessionRecord big_key = Record(held_);
  (*big_key.mutable_attributes())[std::string(limits_.max_key_bytes + 1, 'k')];
  EXPECT_FALSE(CheckReplicatedRecord(big_key, placement_, 0, limits_).ok());
  internal::SessionRecord big_ns = Record(held_);
  big_ns.set_namespace_(std::string(limits_.max_namespace_bytes + 1, 'n'));
  EXPECT_FALSE(CheckReplicatedRecord(big_ns, placement_, 0, limits_).ok());
  internal::SessionRecord tombstone = Record(held_);
  tombstone.set_destroyed(true);  // still holding "k"
  EXPECT_FALSE(CheckReplicatedRecord(tombstone, placement_, 0, limits_).ok());
  tombstone.clear_attributes();
  EXPECT_TRUE(CheckReplicatedRecord(tombstone, placement_, 0, limits_).ok());
  internal::SessionRecord negative = Record(held_);
  negative.set_idle_timeout_ms(-1);
  EXPECT_FALSE(CheckReplicatedRecord(negative, placement_, 0, limits_).ok());
}

TEST_F(PeerChecksTest, TouchAheadOfClock_Refused) {
  internal::Touch touch;
  touch.set_id(held_);
  touch.set_last_access_ms(1000000 + limits_.max_clock_ahead_ms);
  EXPECT_TRUE(CheckReplicatedTouch(touch, placement_, 0, 1000000, limits_).ok());
  touch.set_last_access_ms(1000000 + limits_.max_clock_ahead_ms + 1);
  EXPECT_FALSE(
      CheckReplicatedTouch(touch, placement_, 0, 1000000, limits_).ok());
  touch.set_id(foreign_);
  touch.set_last_access_ms(1000000);
  EXPECT_FALSE(
      CheckReplicatedTouch(touch, placement_, 0, 1000000, limits_).ok());
}

TEST_F(PeerChecksTest, ApplyWithOneBadRecord_RefusedWhole) {
  internal::ApplyRequest request;
  *request.add_records() = Record(held_);
  EXPECT_TRUE(CheckApply(request, placement_, 0, 0, limits_).ok());
  *request.add_records() = Record(foreign_);
  EXPECT_EQ(CheckApply(request, placement_, 0, 0, limits_).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PeerChecksTest, ApplyOverCount_Refused) {
  PeerLimits small = limits_;
  small.max_records_per_call = 1;
  internal::ApplyRequest request;
  *request.add_records() = Record(held_);
  *request.add_records() = Record(held_);
  EXPECT_EQ(CheckApply(request, placement_, 0, 0, small).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sesh

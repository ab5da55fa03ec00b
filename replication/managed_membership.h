// Managed membership: the member list kept in etcd and the changes a join
// or a leave makes to it (docs/scaling.md). Pure functions of the record;
// node/etcd_membership stores it.
//
// A change moves the record through two steps, each an etcd transaction:
//   join:  X added as JOINING  ->  X NORMAL          (Settled)
//   leave: X marked LEAVING    ->  X removed         (Settled)
// Between them, reads and acknowledged writes use the map over the holders
// (NORMAL and LEAVING members), and writes also go to the replicas of the
// map over the pending holders (JOINING and NORMAL); the nodes that gain
// partitions fetch them, and the step to Settled waits for all of them.
// At most one change is under way at a time.

#ifndef SESH_REPLICATION_MANAGED_MEMBERSHIP_H_
#define SESH_REPLICATION_MANAGED_MEMBERSHIP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replication/membership.h"
#include "replication/placement.h"
#include "sesh/internal/membership.pb.h"

namespace sesh {

// A membership record as read from etcd at `epoch` (its mod_revision).
struct Membership {
  uint64_t epoch = 0;
  internal::MembershipRecord record;
};

// Every member, for the transport and heartbeats.
std::vector<PeerSpec> MemberPeers(const internal::MembershipRecord& record);
// Members that hold data now: NORMAL and LEAVING.
std::vector<std::string> Holders(const internal::MembershipRecord& record);
// Members that will hold data once the change under way settles (JOINING
// and NORMAL); empty when no change is under way.
std::vector<std::string> PendingHolders(
    const internal::MembershipRecord& record);
// A member is JOINING or LEAVING.
bool InTransition(const internal::MembershipRecord& record);
// The member `id`, or null.
const internal::MemberRecord* FindMember(
    const internal::MembershipRecord& record, const std::string& id);

// The first member of a new cluster: `self`, NORMAL.
internal::MembershipRecord Founded(const PeerSpec& self,
                                   int replication_factor);
// `self` added as JOINING. FAILED_PRECONDITION while another change is
// under way (retry once it settles); ALREADY_EXISTS if the id is a member.
absl::StatusOr<internal::MembershipRecord> WithJoining(
    const internal::MembershipRecord& record, const PeerSpec& self);
// Member `id` marked LEAVING. NOT_FOUND for an unknown id,
// FAILED_PRECONDITION while another change is under way or if it is the
// last member holding data.
absl::StatusOr<internal::MembershipRecord> WithLeaving(
    const internal::MembershipRecord& record, const std::string& id);
// The change under way completed: JOINING members NORMAL, LEAVING ones
// removed.
internal::MembershipRecord Settled(const internal::MembershipRecord& record);
// The change under way rolled back: JOINING member `id` removed, LEAVING
// members NORMAL again.
internal::MembershipRecord RolledBack(const internal::MembershipRecord& record,
                                      const std::string& id);

// Node indexes (of `now`'s nodes(); both maps share them) that hold a
// partition in `next` they do not hold in `now`, sorted.
std::vector<int> Gainers(const PlacementMap& now, const PlacementMap& next);
// The partitions `node` holds in `next` and not in `now`, ascending.
std::vector<uint32_t> GainedPartitions(const PlacementMap& now,
                                       const PlacementMap& next, int node);

}  // namespace sesh

#endif  // SESH_REPLICATION_MANAGED_MEMBERSHIP_H_

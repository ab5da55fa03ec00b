#include "replication/managed_membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

using internal::MemberRecord;
using internal::MembershipRecord;

void SortMembers(MembershipRecord* record) {
  std::sort(record->mutable_members()->begin(),
            record->mutable_members()->end(),
            [](const MemberRecord& a, const MemberRecord& b) {
              return a.id() < b.id();
            });
}

}  // namespace

std::vector<PeerSpec> MemberPeers(const MembershipRecord& record) {
  std::vector<PeerSpec> peers;
  for (const MemberRecord& m : record.members()) {
    peers.push_back({m.id(), m.address(), m.peer_address()});
  }
  return peers;
}

std::vector<std::string> Holders(const MembershipRecord& record) {
  std::vector<std::string> ids;
  for (const MemberRecord& m : record.members()) {
    if (m.state() == internal::NORMAL || m.state() == internal::LEAVING) {
      ids.push_back(m.id());
    }
  }
  return ids;
}

std::vector<std::string> PendingHolders(const MembershipRecord& record) {
  if (!InTransition(record)) return {};
  std::vector<std::string> ids;
  for (const MemberRecord& m : record.members()) {
    if (m.state() == internal::NORMAL || m.state() == internal::JOINING) {
      ids.push_back(m.id());
    }
  }
  return ids;
}

bool InTransition(const MembershipRecord& record) {
  for (const MemberRecord& m : record.members()) {
    if (m.state() == internal::JOINING || m.state() == internal::LEAVING) {
      return true;
    }
  }
  return false;
}

const MemberRecord* FindMember(const MembershipRecord& record,
                               const std::string& id) {
  for (const MemberRecord& m : record.members()) {
    if (m.id() == id) return &m;
  }
  return nullptr;
}

MembershipRecord Founded(const PeerSpec& self, int replication_factor) {
  MembershipRecord record;
  record.set_replication_factor(replication_factor);
  MemberRecord* m = record.add_members();
  m->set_id(self.id);
  m->set_address(self.address);
  m->set_peer_address(self.peer_address);
  m->set_state(internal::NORMAL);
  return record;
}

absl::StatusOr<MembershipRecord> WithJoining(const MembershipRecord& record,
                                             const PeerSpec& self) {
  if (FindMember(record, self.id) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat(self.id, " is already a member"));
  }
  if (InTransition(record)) {
    return absl::FailedPreconditionError(
        "another membership change is under way");
  }
  if (record.members_size() >= kMaxNodes) {
    return absl::FailedPreconditionError(
        absl::StrCat("the cluster has ", kMaxNodes, " members, the most"));
  }
  MembershipRecord next = record;
  MemberRecord* m = next.add_members();
  m->set_id(self.id);
  m->set_address(self.address);
  m->set_peer_address(self.peer_address);
  m->set_state(internal::JOINING);
  SortMembers(&next);
  return next;
}

absl::StatusOr<MembershipRecord> WithLeaving(const MembershipRecord& record,
                                             const std::string& id) {
  const MemberRecord* member = FindMember(record, id);
  if (member == nullptr) {
    return absl::NotFoundError(absl::StrCat(id, " is not a member"));
  }
  if (InTransition(record)) {
    return absl::FailedPreconditionError(
        "another membership change is under way");
  }
  if (Holders(record).size() <= 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(id, " is the last member holding data"));
  }
  MembershipRecord next = record;
  for (MemberRecord& m : *next.mutable_members()) {
    if (m.id() == id) m.set_state(internal::LEAVING);
  }
  return next;
}

MembershipRecord Settled(const MembershipRecord& record) {
  MembershipRecord next;
  next.set_replication_factor(record.replication_factor());
  for (const MemberRecord& m : record.members()) {
    if (m.state() == internal::LEAVING) continue;
    MemberRecord* kept = next.add_members();
    *kept = m;
    kept->set_state(internal::NORMAL);
  }
  return next;
}

MembershipRecord RolledBack(const MembershipRecord& record,
                            const std::string& id) {
  MembershipRecord next;
  next.set_replication_factor(record.replication_factor());
  for (const MemberRecord& m : record.members()) {
    if (m.id() == id && m.state() == internal::JOINING) continue;
    MemberRecord* kept = next.add_members();
    *kept = m;
    if (m.state() == internal::LEAVING) kept->set_state(internal::NORMAL);
  }
  return next;
}

std::vector<int> Gainers(const PlacementMap& now, const PlacementMap& next) {
  std::vector<bool> gains(now.nodes().size(), false);
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    for (uint8_t node : next.Replicas(p)) {
      if (!gains[node] && !now.Holds(node, p)) gains[node] = true;
    }
  }
  std::vector<int> nodes;
  for (size_t i = 0; i < gains.size(); ++i) {
    if (gains[i]) nodes.push_back(static_cast<int>(i));
  }
  return nodes;
}

std::vector<uint32_t> GainedPartitions(const PlacementMap& now,
                                       const PlacementMap& next, int node) {
  std::vector<uint32_t> partitions;
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    if (next.Holds(node, p) && !now.Holds(node, p)) partitions.push_back(p);
  }
  return partitions;
}

}  // namespace sesh

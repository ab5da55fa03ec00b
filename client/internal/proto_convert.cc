#include "client/internal/proto_convert.h"

namespace sesh {
namespace client_internal {

v1::Durability ToProto(Durability d) {
  switch (d) {
    case Durability::kOne:
      return v1::ONE;
    case Durability::kQuorum:
      return v1::QUORUM;
    case Durability::kAll:
      return v1::ALL;
    case Durability::kDefault:
      break;
  }
  return v1::DURABILITY_DEFAULT;
}

SessionData FromProto(const v1::Session& s) {
  SessionData d;
  d.id = s.id();
  d.handle = s.handle();
  d.namespace_ = s.namespace_();
  d.user_id = s.user_id();
  for (const auto& [key, value] : s.attributes()) d.attributes[key] = value;
  d.created_at_ms = s.created_at_ms();
  d.last_access_ms = s.last_access_ms();
  d.idle_timeout_ms = s.idle_timeout_ms();
  d.absolute_deadline_ms = s.absolute_deadline_ms();
  d.expires_at_ms = s.expires_at_ms();
  d.version = s.version();
  return d;
}

TopologyInfo FromProto(const v1::TopologyResponse& r) {
  TopologyInfo info;
  info.epoch = r.epoch();
  info.replication_factor = static_cast<int>(r.replication_factor());
  info.partition_count = r.partition_count();
  info.answered_by = r.self_id();
  for (const v1::Node& n : r.nodes()) {
    info.nodes.push_back(NodeInfo{n.id(), n.address(), n.up()});
  }
  return info;
}

NodeStatsInfo FromProto(const v1::NodeStatsResponse& r) {
  NodeStatsInfo info;
  info.node_id = r.node_id();
  info.requests_served = r.requests_served();
  info.requests_forwarded = r.requests_forwarded();
  info.stored_sessions = r.stored_sessions();
  info.serving = r.serving();
  info.membership_error = r.membership_error();
  info.batch_get_calls = r.batch_get_calls();
  info.repair_reads = r.repair_reads();
  info.pending_touches = r.pending_touches();
  info.storage_busy = r.storage_busy();
  info.hints_queued = r.hints_queued();
  info.touches_requested = r.touches_requested();
  info.touches_written = r.touches_written();
  info.anti_entropy_passes = r.anti_entropy().passes_completed();
  info.anti_entropy_next_partition = r.anti_entropy().next_partition();
  info.anti_entropy_compared = r.anti_entropy().partitions_compared();
  info.anti_entropy_repaired = r.anti_entropy().partitions_repaired();
  info.anti_entropy_records =
      r.anti_entropy().records_pulled() + r.anti_entropy().records_pushed();
  info.managed = r.membership().managed();
  info.epoch = r.membership().epoch();
  for (const v1::MemberStatus& m : r.membership().members()) {
    info.members.emplace_back(m.id(), m.state());
  }
  const v1::HandoffStats& h = r.membership().handoff();
  info.handoff.epoch = h.epoch();
  info.handoff.partitions_total = h.partitions_total();
  info.handoff.partitions_done = h.partitions_done();
  info.handoff.records = h.records_received();
  info.handoff.bytes = h.bytes_received();
  info.handoff.eta_seconds = h.eta_seconds();
  info.handoff.done = h.done();
  info.etcd_error = r.membership().etcd_error();
  return info;
}

}  // namespace client_internal
}  // namespace sesh

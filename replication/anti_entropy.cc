#include "replication/anti_entropy.h"

#include <xxhash.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace sesh {
namespace {

using internal::Attribute;
using internal::SessionRecord;

void PutFixed64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>(value >> (8 * i)));
  }
}

// Length-prefixed, so that no two field sequences encode the same bytes.
void PutBytes(std::string* out, absl::string_view bytes) {
  PutFixed64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// Digest of partition p in a DigestPartitions map (0: nothing digested).
uint64_t DigestOf(const std::map<uint32_t, uint64_t>& digests, uint32_t p) {
  const auto it = digests.find(p);
  return it == digests.end() ? 0 : it->second;
}

bool BothHold(const PlacementMap& placement, int a, int b, uint32_t p) {
  return placement.Holds(a, p) && placement.Holds(b, p);
}

AntiEntropyOptions Sanitize(AntiEntropyOptions options) {
  options.partitions_per_step =
      std::clamp<uint32_t>(options.partitions_per_step, 1, kPartitionCount);
  options.max_records_per_step =
      std::max<int64_t>(options.max_records_per_step, 1);
  return options;
}

}  // namespace

// Every node must encode alike: nodes that digest differently see every
// partition differ and exchange all their records once per pass.
uint64_t RecordDigest(const SessionRecord& record) {
  std::string buf;
  buf.reserve(128 + record.ByteSizeLong());
  PutBytes(&buf, record.id());
  PutBytes(&buf, record.namespace_());
  PutBytes(&buf, record.user_id());
  PutFixed64(&buf, static_cast<uint64_t>(record.created_at_ms()));
  PutFixed64(&buf, static_cast<uint64_t>(record.idle_timeout_ms()));
  PutFixed64(&buf, static_cast<uint64_t>(record.absolute_deadline_ms()));
  PutFixed64(&buf, record.version());
  buf.push_back(record.destroyed() ? 1 : 0);
  // Protobuf map iteration order is unspecified.
  std::vector<std::pair<const std::string*, const Attribute*>> attributes;
  attributes.reserve(record.attributes_size());
  for (const auto& [key, attribute] : record.attributes()) {
    attributes.emplace_back(&key, &attribute);
  }
  std::sort(attributes.begin(), attributes.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  PutFixed64(&buf, attributes.size());
  for (const auto& [key, attribute] : attributes) {
    PutBytes(&buf, *key);
    PutBytes(&buf, attribute->value());
    PutFixed64(&buf, attribute->hlc());
    PutFixed64(&buf, attribute->writer());
    buf.push_back(attribute->removed() ? 1 : 0);
  }
  return XXH3_64bits(buf.data(), buf.size());
}

bool Digested(const SessionRecord& record, int64_t now_ms) {
  if (record.id().empty()) return false;
  if (record.destroyed()) return now_ms < record.absolute_deadline_ms();
  return now_ms < record.last_access_ms() + record.idle_timeout_ms() &&
         now_ms < record.absolute_deadline_ms();
}

absl::StatusOr<std::map<uint32_t, uint64_t>> DigestPartitions(
    LocalReplica* local, const PlacementMap& placement, int self, int for_node,
    uint32_t first, uint32_t last, int64_t now_ms) {
  if (first > last || last >= kPartitionCount) {
    return absl::InvalidArgumentError("bad partition range");
  }
  std::map<uint32_t, uint64_t> digests;
  absl::Status s = local->ForEach(first, last, [&](const SessionRecord& r) {
    if (!Digested(r, now_ms)) return true;
    const uint32_t p = PartitionOf(r.id());
    if (p >= first && p <= last && BothHold(placement, self, for_node, p)) {
      digests[p] ^= RecordDigest(r);
    }
    return true;
  });
  if (!s.ok()) return s;
  for (auto it = digests.begin(); it != digests.end();) {
    it = it->second == 0 ? digests.erase(it) : std::next(it);
  }
  return digests;
}

absl::StatusOr<std::vector<SessionRecord>> PartitionRecords(
    LocalReplica* local, const PlacementMap& placement, int self, int for_node,
    const std::vector<uint32_t>& partitions, int64_t now_ms) {
  std::vector<uint32_t> sorted = partitions;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  if (!sorted.empty() && sorted.back() >= kPartitionCount) {
    return absl::InvalidArgumentError("partition out of range");
  }
  std::vector<SessionRecord> records;
  for (const uint32_t p : sorted) {
    if (!BothHold(placement, self, for_node, p)) continue;
    absl::Status s = local->ForEach(p, p, [&](const SessionRecord& r) {
      if (Digested(r, now_ms) && PartitionOf(r.id()) == p) {
        records.push_back(r);
      }
      return true;
    });
    if (!s.ok()) return s;
  }
  return records;
}

absl::Status MergeRecords(LocalReplica* local, const PlacementMap& placement,
                          int self, int from_node,
                          const std::vector<SessionRecord>& records) {
  absl::Status first_error;
  for (const SessionRecord& r : records) {
    if (r.id().empty() ||
        !BothHold(placement, self, from_node, PartitionOf(r.id()))) {
      continue;
    }
    absl::Status s = local->Merge(r);
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  }
  return first_error;
}

AntiEntropy::AntiEntropy(const AntiEntropyOptions& options,
                         const PlacementMap* placement, LocalReplica* local,
                         ReplicaPeers* peers, Clock* clock)
    : options_(Sanitize(options)),
      placement_(placement),
      local_(local),
      peers_(peers),
      clock_(clock) {}

AntiEntropyProgress AntiEntropy::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

absl::Status AntiEntropy::Step() {
  absl::MutexLock step_lock(&step_mu_);
  uint32_t first;
  {
    absl::MutexLock lock(&mu_);
    first = progress_.next_partition;
  }
  const uint32_t last = static_cast<uint32_t>(
      std::min<uint64_t>(uint64_t{first} + options_.partitions_per_step,
                         kPartitionCount) -
      1);
  StepCounts counts;
  uint32_t next = first;
  const absl::Status status =
      RunStep(first, last, clock_->NowMs(), &counts, &next);

  absl::MutexLock lock(&mu_);
  progress_.partitions_compared += counts.compared;
  progress_.partitions_repaired += counts.repaired;
  progress_.records_pulled += counts.pulled;
  progress_.records_pushed += counts.pushed;
  progress_.peer_errors += counts.peer_errors;
  progress_.merge_errors += counts.merge_errors;
  if (next >= kPartitionCount) {
    next = 0;
    ++progress_.passes_completed;
  }
  progress_.next_partition = next;
  return status;
}

absl::Status AntiEntropy::RunStep(uint32_t first, uint32_t last, int64_t now_ms,
                                  StepCounts* counts, uint32_t* next) {
  const int self = options_.self;
  const PlacementMap& placement = *placement_;
  const int node_count = static_cast<int>(placement.nodes().size());
  *next = first;

  // The nodes sharing a partition of the range with this one.
  std::vector<bool> shares(node_count, false);
  bool any = false;
  for (uint32_t p = first; p <= last; ++p) {
    if (!placement.Holds(self, p)) continue;
    for (const uint8_t r : placement.Replicas(p)) {
      if (r != self) shares[r] = any = true;
    }
  }
  if (!any) {
    *next = last + 1;
    return absl::OkStatus();
  }

  absl::StatusOr<std::map<uint32_t, uint64_t>> local =
      DigestPartitions(local_, placement, self, self, first, last, now_ms);
  if (!local.ok()) return local.status();
  PeerDigests peer_digests(node_count);
  for (int q = 0; q < node_count; ++q) {
    if (!shares[q]) continue;
    absl::StatusOr<std::map<uint32_t, uint64_t>> d =
        peers_->Digests(q, first, last);
    if (d.ok()) {
      peer_digests[q] = std::move(*d);
    } else {
      ++counts->peer_errors;
    }
  }

  std::vector<int> others;
  for (uint32_t p = first; p <= last; ++p) {
    if (!placement.Holds(self, p)) continue;
    const uint64_t mine = DigestOf(*local, p);
    others.clear();
    bool differs = false;
    for (const uint8_t r : placement.Replicas(p)) {
      if (r == self || !peer_digests[r].has_value()) continue;
      others.push_back(r);
      differs = differs || DigestOf(*peer_digests[r], p) != mine;
    }
    if (others.empty()) continue;
    if (differs) {
      if (counts->exchanged >= options_.max_records_per_step) {
        *next = p;
        return absl::OkStatus();
      }
      absl::Status s = Repair(p, mine, others, now_ms, &peer_digests, counts);
      if (!s.ok()) {
        *next = p;
        return s;
      }
    }
    ++counts->compared;
  }
  *next = last + 1;
  return absl::OkStatus();
}

absl::Status AntiEntropy::Repair(uint32_t p, uint64_t local_digest,
                                 const std::vector<int>& others, int64_t now_ms,
                                 PeerDigests* peer_digests,
                                 StepCounts* counts) {
  bool exchanged = false;
  // A peer with digest 0 holds nothing that matters: nothing to pull.
  for (const int q : others) {
    const uint64_t theirs = DigestOf(*(*peer_digests)[q], p);
    if (theirs == local_digest || theirs == 0) continue;
    absl::StatusOr<std::vector<SessionRecord>> records =
        peers_->Records(q, {p});
    if (!records.ok()) {
      ++counts->peer_errors;
      (*peer_digests)[q].reset();
      continue;
    }
    for (const SessionRecord& r : *records) {
      if (r.id().empty() || PartitionOf(r.id()) != p) continue;
      ++counts->pulled;
      ++counts->exchanged;
      exchanged = true;
      if (!local_->Merge(r).ok()) ++counts->merge_errors;
    }
  }

  std::vector<SessionRecord> merged;
  uint64_t merged_digest = 0;
  absl::Status s = local_->ForEach(p, p, [&](const SessionRecord& r) {
    if (Digested(r, now_ms) && PartitionOf(r.id()) == p) {
      merged_digest ^= RecordDigest(r);
      merged.push_back(r);
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!merged.empty()) {
    for (const int q : others) {
      std::optional<std::map<uint32_t, uint64_t>>& theirs = (*peer_digests)[q];
      if (!theirs.has_value() || DigestOf(*theirs, p) == merged_digest) {
        continue;
      }
      s = peers_->Push(q, merged);
      if (!s.ok()) {
        ++counts->peer_errors;
        theirs.reset();
        continue;
      }
      counts->pushed += merged.size();
      counts->exchanged += static_cast<int64_t>(merged.size());
      exchanged = true;
    }
  }
  if (exchanged) ++counts->repaired;
  return absl::OkStatus();
}

}  // namespace sesh

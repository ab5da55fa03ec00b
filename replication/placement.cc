#include "replication/placement.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sesh {
namespace {

// The placement function below is part of Sesh's persistent contract: data
// on disk is where it computes. Changing any constant here moves partitions
// on upgrade (placement_test pins a golden map).
//
//   node_hash(n)     = XXH3_64bits(node id, seed 0)
//   partition_key(p) = Mix64(kGolden * (p + 1))  (splitmix64's p-th output)
//   score(n, p)      = Mix64(node_hash(n) ^ partition_key(p))
//
// Nodes are ranked by score's upper 56 bits, descending; a tie goes to the
// node with the smaller id. Which of two ids is smaller does not depend on
// the other members, so the ranking of any two nodes for a partition is a
// function of those two nodes alone: that is what keeps membership changes
// from moving partitions between nodes that stay.

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15;

// splitmix64's finalizer: a bijection on 64 bits with full avalanche.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

inline uint64_t PartitionKey(uint32_t partition) {
  return Mix64(kGolden * (uint64_t{partition} + 1));
}

// A rank key holds score's upper 56 bits and, in the low byte,
// kMaxNodes - index. Comparing keys as integers therefore ranks by score and
// breaks ties towards the smaller index (= smaller id, nodes are sorted).
// Keys of distinct indexes differ, and every key is > 0 because
// index < kMaxNodes, so 0 marks an empty slot.
inline uint64_t RankKey(uint64_t node_hash, uint64_t partition_key, int index) {
  return (Mix64(node_hash ^ partition_key) & ~uint64_t{0xFF}) |
         static_cast<uint64_t>(kMaxNodes - index);
}

inline char IndexOfKey(uint64_t key) {
  return static_cast<char>(kMaxNodes - static_cast<int>(key & 0xFF));
}

// Inserts `key` into `top` (descending) and drops the smallest entry. No
// branches: which slot a key lands in is random, so branches would mispredict
// on most insertions.
template <int K, int I = 0>
inline void InsertTopK(uint64_t (&top)[K], uint64_t key) {
  if constexpr (I == K - 1) {
    top[I] = std::max(top[I], key);
  } else {
    const uint64_t demoted = std::min(top[I], key);
    top[I] = std::max(top[I], key);
    InsertTopK<K, I + 1>(top, demoted);
  }
}

// Writes each partition's K best nodes to `out` (kPartitionCount * K bytes)
// keeping a running top-K; K <= node_hashes.size().
template <int K>
void FillTopK(absl::Span<const uint64_t> node_hashes, char* out) {
  const int node_count = static_cast<int>(node_hashes.size());
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    const uint64_t partition_key = PartitionKey(p);
    uint64_t top[K] = {};
    for (int n = 0; n < node_count; ++n) {
      InsertTopK(top, RankKey(node_hashes[n], partition_key, n));
    }
    for (int r = 0; r < K; ++r) *out++ = IndexOfKey(top[r]);
  }
}

// Same result as FillTopK<replication_factor>, for any replication factor.
void FillTopAny(absl::Span<const uint64_t> node_hashes, int replication_factor,
                char* out) {
  const int node_count = static_cast<int>(node_hashes.size());
  std::vector<uint64_t> keys(node_count);
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    const uint64_t partition_key = PartitionKey(p);
    for (int n = 0; n < node_count; ++n) {
      keys[n] = RankKey(node_hashes[n], partition_key, n);
    }
    std::partial_sort(keys.begin(), keys.begin() + replication_factor,
                      keys.end(), std::greater<uint64_t>());
    for (int r = 0; r < replication_factor; ++r) *out++ = IndexOfKey(keys[r]);
  }
}

// Build()'s rules on ids, for a list that must already be sorted ascending.
absl::Status ValidateSortedNodeIds(const std::vector<std::string>& ids) {
  if (ids.empty()) {
    return absl::InvalidArgumentError("placement needs at least one node");
  }
  if (ids.size() > static_cast<size_t>(kMaxNodes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        ids.size(), " nodes; placement supports at most ", kMaxNodes));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError("empty node id");
    }
    if (ids[i].find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("node id contains a newline: ", ids[i]));
    }
    if (i > 0 && ids[i] == ids[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate node id ", ids[i]));
    }
    if (i > 0 && ids[i] < ids[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ids not sorted: ", ids[i - 1], " before ", ids[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t PartitionOf(absl::string_view raw_id) {
  return static_cast<uint32_t>(XXH3_64bits(raw_id.data(), raw_id.size()) %
                               kPartitionCount);
}

uint64_t MembershipEpoch(const std::vector<std::string>& node_ids,
                         int replication_factor) {
  std::vector<absl::string_view> sorted(node_ids.begin(), node_ids.end());
  std::sort(sorted.begin(), sorted.end());
  const std::string text =
      absl::StrCat(absl::StrJoin(sorted, "\n"), "\n", replication_factor);
  const uint64_t hash = XXH3_64bits(text.data(), text.size());
  return hash == 0 ? 1 : hash;
}

PlacementMap::PlacementMap(std::vector<std::string> nodes,
                           int replication_factor, std::string map,
                           uint64_t epoch)
    : nodes_(std::move(nodes)),
      replication_factor_(replication_factor),
      epoch_(epoch != 0 ? epoch : MembershipEpoch(nodes_, replication_factor)),
      map_(std::move(map)) {}

absl::StatusOr<PlacementMap> PlacementMap::Build(
    std::vector<std::string> node_ids, int replication_factor,
    const std::vector<std::string>& holders, uint64_t epoch) {
  std::sort(node_ids.begin(), node_ids.end());
  if (absl::Status status = ValidateSortedNodeIds(node_ids); !status.ok()) {
    return status;
  }
  if (holders.empty()) {
    return absl::InvalidArgumentError("placement needs at least one holder");
  }
  // Place over the holders alone, then renumber into node_ids.
  absl::StatusOr<PlacementMap> over_holders =
      Build(holders, replication_factor);
  if (!over_holders.ok()) return over_holders.status();
  std::vector<uint8_t> renumber;
  for (const std::string& id : over_holders->nodes()) {
    const auto it = std::lower_bound(node_ids.begin(), node_ids.end(), id);
    if (it == node_ids.end() || *it != id) {
      return absl::InvalidArgumentError(
          absl::StrCat("holder ", id, " is not a node"));
    }
    renumber.push_back(static_cast<uint8_t>(it - node_ids.begin()));
  }
  std::string map = over_holders->map_;
  for (char& entry : map) {
    entry = static_cast<char>(renumber[static_cast<uint8_t>(entry)]);
  }
  return PlacementMap(std::move(node_ids), over_holders->replication_factor(),
                      std::move(map), epoch);
}

absl::StatusOr<PlacementMap> PlacementMap::Build(
    std::vector<std::string> node_ids, int replication_factor) {
  std::sort(node_ids.begin(), node_ids.end());
  if (absl::Status status = ValidateSortedNodeIds(node_ids); !status.ok()) {
    return status;
  }
  if (replication_factor < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("replication factor ", replication_factor, " < 1"));
  }
  const int rf =
      std::min(replication_factor, static_cast<int>(node_ids.size()));

  std::vector<uint64_t> node_hashes;
  node_hashes.reserve(node_ids.size());
  for (const std::string& id : node_ids) {
    node_hashes.push_back(XXH3_64bits(id.data(), id.size()));
  }
  std::string map(size_t{kPartitionCount} * rf, '\0');
  char* out = &map[0];
  switch (rf) {
    case 1:
      FillTopK<1>(node_hashes, out);
      break;
    case 2:
      FillTopK<2>(node_hashes, out);
      break;
    case 3:
      FillTopK<3>(node_hashes, out);
      break;
    case 4:
      FillTopK<4>(node_hashes, out);
      break;
    default:
      FillTopAny(node_hashes, rf, out);
      break;
  }
  return PlacementMap(std::move(node_ids), rf, std::move(map));
}

absl::StatusOr<PlacementMap> PlacementMap::FromSerialized(
    std::vector<std::string> sorted_node_ids, int replication_factor,
    std::string map) {
  if (absl::Status status = ValidateSortedNodeIds(sorted_node_ids);
      !status.ok()) {
    return status;
  }
  const int node_count = static_cast<int>(sorted_node_ids.size());
  if (replication_factor < 1 || replication_factor > node_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("replication factor ", replication_factor, " outside [1, ",
                     node_count, "]"));
  }
  const size_t rf = static_cast<size_t>(replication_factor);
  if (map.size() != kPartitionCount * rf) {
    return absl::InvalidArgumentError(absl::StrCat("partition map has ",
                                                   map.size(), " bytes, want ",
                                                   kPartitionCount * rf));
  }
  const auto* entries = reinterpret_cast<const uint8_t*>(map.data());
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    uint64_t seen[4] = {};  // one bit per possible index (0..255)
    for (size_t r = 0; r < rf; ++r) {
      const uint8_t index = entries[p * rf + r];
      if (index >= node_count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "partition ", p, " names node index ", index, " of ", node_count));
      }
      uint64_t& word = seen[index / 64];
      const uint64_t bit = uint64_t{1} << (index % 64);
      if (word & bit) {
        return absl::InvalidArgumentError(absl::StrCat(
            "partition ", p, " lists node index ", index, " twice"));
      }
      word |= bit;
    }
  }
  return PlacementMap(std::move(sorted_node_ids), replication_factor,
                      std::move(map));
}

absl::Span<const uint8_t> PlacementMap::Replicas(uint32_t partition) const {
  assert(partition < kPartitionCount);
  const size_t rf = static_cast<size_t>(replication_factor_);
  return absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(map_.data()) + partition * rf, rf);
}

uint8_t PlacementMap::Primary(uint32_t partition) const {
  return Replicas(partition)[0];
}

int PlacementMap::IndexOf(absl::string_view node_id) const {
  const auto it =
      std::lower_bound(nodes_.begin(), nodes_.end(), node_id,
                       [](const std::string& a, absl::string_view b) {
                         return absl::string_view(a) < b;
                       });
  if (it == nodes_.end() || absl::string_view(*it) != node_id) return -1;
  return static_cast<int>(it - nodes_.begin());
}

bool PlacementMap::Holds(int node, uint32_t partition) const {
  if (node < 0 || node >= static_cast<int>(nodes_.size())) return false;
  for (const uint8_t replica : Replicas(partition)) {
    if (replica == node) return true;
  }
  return false;
}

}  // namespace sesh

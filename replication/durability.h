#ifndef SESH_REPLICATION_DURABILITY_H_
#define SESH_REPLICATION_DURABILITY_H_

namespace sesh {

// How many replicas must hold a write before it is acknowledged.
enum class Durability {
  kOne,     // one replica that may vouch for it (docs/architecture.md)
  kQuorum,  // a majority: survives the crash of any single node
  kAll,     // every replica
};

// Acknowledgements (the coordinator's own write included) a write to a
// partition with `replicas` replicas needs.
inline int AcksNeeded(int replicas, Durability durability) {
  switch (durability) {
    case Durability::kOne:
      return 1;
    case Durability::kAll:
      return replicas;
    case Durability::kQuorum:
      break;
  }
  return replicas / 2 + 1;
}

}  // namespace sesh

#endif  // SESH_REPLICATION_DURABILITY_H_

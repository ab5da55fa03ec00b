#ifndef SESH_REPLICATION_MERGE_H_
#define SESH_REPLICATION_MERGE_H_

#include "sesh/internal/record.pb.h"

namespace sesh {

// Merges two replicas' states of the same session into the state that holds
// every mutation either has seen. The rules (docs/architecture.md, "Data
// model and merge"):
// - each attribute is a last-writer-wins register ordered by (hlc, writer);
//   a removal is a register value too, so it wins over older sets;
// - last_access_ms and version merge by max, so a late touch never shortens
//   a session;
// - destroyed is sticky: a destroyed session stays destroyed, with no
//   attributes, whatever else is merged into it.
// Merge is commutative, associative and idempotent, so replicas that received
// the same mutations in any order, any number of times, hold the same state.
// An empty record (no id) is the identity.
internal::SessionRecord Merge(const internal::SessionRecord& a,
                              const internal::SessionRecord& b);

// True if a and b hold the same state (attribute maps compared as maps).
bool SameState(const internal::SessionRecord& a,
               const internal::SessionRecord& b);

}  // namespace sesh

#endif  // SESH_REPLICATION_MERGE_H_

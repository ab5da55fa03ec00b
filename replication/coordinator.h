#ifndef SESH_REPLICATION_COORDINATOR_H_
#define SESH_REPLICATION_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replication/cluster.h"
#include "replication/durability.h"
#include "replication/replica_store.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

// The coordinator side of a call on one session: where it runs, whether
// this node's copy may answer it, and how a write is made durable
// (docs/architecture.md, "Coordinating a call"). Transport-free: it talks
// to peers through the Cluster, to storage through a ReplicaStore, and
// reports absl::Status.
//
// Invariants it keeps:
// - A read is answered from this node's copy alone only if this node is
//   the partition's primary and holds its read lease after the read;
//   otherwise the copy is first merged with the other replicas' (read
//   repair), and if too few answer the read is UNAVAILABLE.
// - A write that needs a current copy (Rotate, compare-and-set) is refused
//   with nothing applied when read repair could not complete.
// - A write is acknowledged only when enough replicas that may vouch for it
//   hold it (Leases); otherwise UNAVAILABLE saying it was applied and may
//   become visible.
//
// Thread-safe; callbacks run on the caller's thread or the transport's.
class Coordinator {
 public:
  enum class Needs {
    // The write merges on every replica whatever the copy missed (Create,
    // Update without a version, Destroy, which always writes a tombstone).
    kAnyCopy,
    // A copy known to hold every acknowledged write.
    kCurrentCopy,
  };
  enum class Where { kLocal, kForward, kUnavailable };
  struct Route {
    Where where;
    int node;  // for kForward
  };
  using ReadFn = std::function<absl::StatusOr<internal::SessionRecord>()>;
  using WriteFn =
      std::function<absl::StatusOr<std::vector<internal::SessionRecord>>()>;
  // Runs work that touches storage off the caller's thread (the node's
  // worker pool); null runs it in place.
  using Offload = std::function<void(std::function<void()>)>;

  // `cluster` and `store` outlive the coordinator. Read repair's merge and
  // what follows it run through `offload`: they would otherwise write to
  // storage on the transport's callback thread.
  Coordinator(Cluster* cluster, ReplicaStore* store, Offload offload = nullptr)
      : cluster_(cluster), store_(store), offload_(std::move(offload)) {}

  // Where a call on `partition` runs: here if this node is the first up
  // replica, else forwarded to that node; a call that was itself forwarded
  // runs here if this node holds the partition (one hop at most). With no
  // replica up, a caught-up holder serves from its own copy.
  Route RouteFor(uint32_t partition, bool forwarded) const;

  // Runs `read` (a read of this node's copy, which may touch it) and
  // answers with its result, after read repair unless this node is the
  // primary and still holds its lease once `read` returned. UNAVAILABLE if
  // read repair could not confirm the copy.
  void Read(uint32_t partition, const std::string& raw_id, ReadFn read,
            std::function<void(absl::StatusOr<internal::SessionRecord>)> done);

  // Runs `write` (stores a change here and returns the records to
  // replicate), after read repair unless this node holds the read lease,
  // then replicates the records and answers once `durability` is met.
  // UNAVAILABLE with nothing applied when too few replicas are up, or when
  // `needs` a current copy and read repair could not confirm it.
  void Mutate(uint32_t partition, const std::string& raw_id,
              Durability durability, Needs needs, WriteFn write,
              std::function<void(absl::Status)> done);

  // Calls served here (reads and writes), and those that first asked the
  // other replicas.
  uint64_t served() const { return served_.load(); }
  uint64_t repair_reads() const { return repair_reads_.load(); }
  void CountServed(uint64_t n) {
    served_.fetch_add(n, std::memory_order_relaxed);
  }

 private:
  // Runs fn(current) after read repair unless this node holds the
  // partition's read lease; current is false if the copy, merged with what
  // the other replicas answered, may still miss an acknowledged write.
  void WithRepair(uint32_t partition, const std::string& raw_id,
                  std::function<void(bool current)> fn);
  void ReplicateAndAnswer(std::vector<internal::SessionRecord> records,
                          Durability durability,
                          std::function<void(absl::Status)> done);

  Cluster* const cluster_;
  ReplicaStore* const store_;
  const Offload offload_;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> repair_reads_{0};
};

}  // namespace sesh

#endif  // SESH_REPLICATION_COORDINATOR_H_

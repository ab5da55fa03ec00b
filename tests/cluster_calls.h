#ifndef SESH_TESTS_CLUSTER_CALLS_H_
#define SESH_TESTS_CLUSTER_CALLS_H_

// Calls the multi-process tests make on one node directly (no client
// library, no routing of their own), in namespace "shop".

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "sesh/internal/peer.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"
#include "tests/node_process.h"

namespace sesh {
namespace testing {

// Idle timeout of the sessions these helpers create: one hour.
inline constexpr int64_t kTestIdleMs = 3600 * 1000;

std::chrono::system_clock::time_point Deadline(int ms = 3000);
// Monotonic milliseconds.
int64_t NowMs();

// A node's own stored copy of a session (peer Read: no routing, no repair).
absl::StatusOr<std::optional<internal::SessionRecord>> ReadReplica(
    NodeProcess& node, const std::string& id);
// Sends records to a node as a peer would (Peer/Apply from `from_node`).
grpc::Status ApplyTo(NodeProcess& node, const std::string& from_node,
                     const internal::SessionRecord& record);

grpc::Status GetThrough(NodeProcess& node, const std::string& id,
                        v1::Session* out);
// Creates a session through `node` at ALL; a node mints IDs of partitions it
// is the primary of. The ID, or empty on failure.
std::string CreateThrough(NodeProcess& node);
// Destroys a session at QUORUM through `node`.
grpc::Status DestroyThrough(NodeProcess& node, const std::string& id);

// Polls done() every interval_ms until it holds or timeout_ms passed.
bool PollUntil(int64_t timeout_ms, int64_t interval_ms,
               const std::function<bool()>& done);
// True if observer's Topology shows each named node up (true) or down.
bool SeesAsUp(NodeProcess& observer,
              const std::map<std::string, bool>& expect_up);

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_CLUSTER_CALLS_H_

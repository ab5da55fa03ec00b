// sesh-load's Sesh target: callers drive a Sesh cluster through
// sesh::Client's asynchronous calls; TouchCounters reads the nodes' touch
// counters. See sesh_load.cc.
#ifndef SESH_BENCH_SESH_DRIVER_H_
#define SESH_BENCH_SESH_DRIVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/load_driver.h"
#include "client/sesh/client.h"

namespace sesh {
namespace load {

// The flags the Sesh target reads (sesh_load.cc), under the flags' names.
struct SeshFlags {
  int64_t sesh_deadline_ms = 2000;
  bool sesh_coalesce_gets = true;
  int sesh_max_batch = 64;
  bool sesh_stream_gets = true;
  bool sesh_stream_writes = true;
  int64_t sesh_max_batch_wait_us = 1000;
  int sesh_batches_in_flight = 1;
  bool insecure = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string token_file;
  std::string session_namespace = "bench";
  int64_t idle_timeout_s = 1800;
  std::string durability = "DEFAULT";
  int preload_inflight = 128;
  bool progress = true;
};

// Client options from the flags, with the token of token_file (none if
// empty).
absl::StatusOr<ClientOptions> SeshClientOptions(const SeshFlags& flags,
                                                const std::string& addrs,
                                                const std::string& token_file);

// The nodes' touch counters (NodeStats), summed over the cluster, through a
// client of its own that holds the admin token. Main thread only.
class TouchCounters {
 public:
  struct Sample {
    uint64_t requested = 0;
    uint64_t written = 0;
  };

  // Fails if the topology or a node's NodeStats cannot be read (e.g.
  // PERMISSION_DENIED: not an admin token).
  static absl::StatusOr<std::unique_ptr<TouchCounters>> Connect(
      const SeshFlags& flags, const std::string& addrs,
      const std::string& token_file);

  absl::StatusOr<Sample> Read();

 private:
  TouchCounters() = default;

  std::unique_ptr<Client> client_;
  std::vector<std::string> node_ids_;
};

// A target driving the cluster at `addrs` (comma-separated seeds) through
// one sesh::Client holding flags.token_file's token.
absl::StatusOr<std::unique_ptr<Target>> ConnectSeshTarget(
    const SeshFlags& flags, const std::string& addrs, int value_bytes,
    int concurrency);

}  // namespace load
}  // namespace sesh

#endif  // SESH_BENCH_SESH_DRIVER_H_

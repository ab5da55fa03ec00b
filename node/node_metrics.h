// A node's Prometheus metrics (docs/metrics.md): the per-call metrics of
// both ports (node/rpc_metrics.h), and gauges and counters read at scrape
// time from what the node already keeps (the store, the hints, the current
// generation's Cluster and anti-entropy, the membership controller), served
// as GET /metrics on --metrics_listen (metrics/http_server.h).

#ifndef SESH_NODE_NODE_METRICS_H_
#define SESH_NODE_NODE_METRICS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "node/membership_controller.h"
#include "node/rpc_metrics.h"
#include "node/service_proxies.h"
#include "node/session_store.h"
#include "replication/hint_store.h"

namespace sesh {

// What the scrape reads. Every pointer must stay valid until Stop().
struct NodeMetricsSources {
  std::string node_id;
  std::string data_dir;  // its filesystem's free space is reported
  const CurrentGeneration* current = nullptr;  // may hold no generation
  SessionStore* store = nullptr;
  HintStore* hints = nullptr;
  const MembershipController* controller = nullptr;  // null under --peers
};

class NodeMetrics {
 public:
  // `access_log`: one log line per client-port call (node/rpc_metrics.h).
  // Errors: INTERNAL if a metric cannot be registered (a bug).
  static absl::StatusOr<std::unique_ptr<NodeMetrics>> Create(
      const NodeMetricsSources& sources, bool access_log);
  // Stop().
  ~NodeMetrics();

  // Counts the calls of a server about to be built: `port` is "client" or
  // "peer". This object must outlive the server.
  void Instrument(grpc::ServerBuilder* builder, absl::string_view port);
  // Serves GET /metrics on `listen` (host:port, port 0 picks one) and logs
  // the bound port; an empty `listen` serves nothing. Errors: as
  // metrics::HttpServer::Start.
  absl::Status Serve(const std::string& listen);
  // The bound port, 0 when not serving.
  int port() const;
  // Stops serving; no scrape reads the sources after it returns. Idempotent.
  void Stop();

  // The text /metrics answers.
  std::string Render() const { return registry_.Render(); }

 private:
  NodeMetrics() = default;
  absl::Status RegisterState();

  NodeMetricsSources sources_;
  metrics::Registry registry_;
  std::unique_ptr<RpcMetrics> rpc_;
  std::unique_ptr<metrics::HttpServer> http_;
};

}  // namespace sesh

#endif  // SESH_NODE_NODE_METRICS_H_

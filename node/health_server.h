// Health for probes that cannot speak TLS (kubelet's gRPC probes).
//
// HealthServer is a plaintext listener that serves only grpc.health.v1.Health.
// NodeHealth sets a status on every health service of a node (the client
// port's and this listener's) at once. Two services are answered:
//   ""               readiness: SERVING once the node is caught up and serves;
//   "sesh.liveness"  SERVING for as long as the process runs (its ports close
//                    at exit), never set NOT_SERVING by NodeHealth.
// Other names set through NodeHealth (e.g. "sesh.v1.Cluster") are mirrored.

#ifndef SESH_NODE_HEALTH_SERVER_H_
#define SESH_NODE_HEALTH_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sesh {

inline constexpr char kLivenessService[] = "sesh.liveness";

class HealthServer {
 public:
  // Listens on `address` (host:port; port 0 picks one) without TLS, with ""
  // NOT_SERVING and kLivenessService SERVING. An empty address starts
  // nothing and returns nullptr. Errors: UNAVAILABLE if it cannot listen.
  // Call after the process blocked the signals it waits for: gRPC's threads
  // inherit the mask.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      const std::string& address);

  // Stops listening at once.
  ~HealthServer();

  int port() const { return port_; }
  // Owned by this server; valid for its life.
  grpc::HealthCheckServiceInterface* health() const {
    return server_->GetHealthCheckService();
  }

 private:
  HealthServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
};

// Sets each status on every target and keeps kLivenessService SERVING on all
// of them. Targets are not owned and must outlive this; null ones are
// skipped. Thread-safe as the targets are (gRPC's default service is).
class NodeHealth : public grpc::HealthCheckServiceInterface {
 public:
  explicit NodeHealth(std::vector<grpc::HealthCheckServiceInterface*> targets);

  void SetServingStatus(const std::string& service, bool serving) override;
  void SetServingStatus(bool serving) override;

 private:
  std::vector<grpc::HealthCheckServiceInterface*> targets_;
};

// One grpc.health.v1.Health/Check call on a plaintext channel: true when the
// service is SERVING. Errors: the call's status (NOT_FOUND for a service the
// server does not know, DEADLINE_EXCEEDED, UNAVAILABLE), INTERNAL for an
// answer that does not parse.
absl::StatusOr<bool> CheckHealth(const std::string& address,
                                 const std::string& service,
                                 absl::Duration timeout);

}  // namespace sesh

#endif  // SESH_NODE_HEALTH_SERVER_H_

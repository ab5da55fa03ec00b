// Per-call metrics of a gRPC server, and the optional access log, as a
// server interceptor registered once per port: every client and peer call
// passes through it whatever generation serves it (node/service_proxies.h).
//
//   sesh_rpc_requests_total{port,service,method}          calls ended
//   sesh_rpc_errors_total{port,service,method,code}       calls ended not OK
//   sesh_rpc_duration_seconds{port,service,method}        unary calls only
//   sesh_rpc_messages_received_total{port,service,method} stream messages
//   sesh_rpc_in_flight{port}                              calls running
//
// The access log writes one line per call on the client port (method,
// namespace, status code, latency, session handle; never an ID or token).
//
// Hot path: a call costs one interceptor allocation, two clock reads and a
// few relaxed atomic adds; no lock unless the call ends with an error code
// that method has not ended with before.

#ifndef SESH_NODE_RPC_METRICS_H_
#define SESH_NODE_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "metrics/registry.h"

namespace sesh {

class RpcMetrics {
 public:
  // Registers the families above in `registry`, which outlives this.
  // `access_log`: log client-port calls (util/log.h, component "access").
  // Errors: as Registry::Add* (a family registered twice).
  static absl::StatusOr<std::unique_ptr<RpcMetrics>> Create(
      metrics::Registry* registry, bool access_log);

  // The interceptors of one server, for ServerBuilder::experimental()
  // .SetInterceptorCreators. `port` labels its series ("client" or
  // "peer"); `services` are the full names of the services on it
  // ("sesh.v1.Sessions"), whose methods get series up front (calls to
  // other services are counted as service "other"). The factory refers
  // to this object, which must outlive the server.
  std::vector<std::unique_ptr<
      grpc::experimental::ServerInterceptorFactoryInterface>>
  Interceptors(absl::string_view port,
               const std::vector<std::string>& services);

  // The canonical name of a gRPC code ("NOT_FOUND"), as in the code label.
  static const char* CodeName(int code);

 private:
  struct InFlightPorts;

  RpcMetrics() = default;

  bool access_log_ = false;
  metrics::Family<metrics::Counter>* requests_ = nullptr;
  metrics::Family<metrics::Counter>* errors_ = nullptr;
  metrics::Family<metrics::Histogram>* durations_ = nullptr;
  metrics::Family<metrics::Counter>* messages_ = nullptr;
  // Shared with the registry's callback, which may outlive this.
  std::shared_ptr<InFlightPorts> in_flight_;
};

}  // namespace sesh

#endif  // SESH_NODE_RPC_METRICS_H_

// The /metrics endpoint: an HTTP server (Debian's cpp-httplib) answering
// GET /metrics with the Prometheus text format 0.0.4 and 404 to every other
// path, on two threads of its own.

#ifndef SESH_METRICS_HTTP_SERVER_H_
#define SESH_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace sesh {
namespace metrics {

inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class HttpServer {
 public:
  // Listens on `listen` ("host:port", "[v6]:port"; port 0 picks a free one)
  // and serves render() to each GET /metrics, on the server's threads.
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE if it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      absl::string_view listen, std::function<std::string()> render);
  // Stop().
  ~HttpServer();

  // The bound port.
  int port() const { return port_; }
  // Closes the socket and waits for requests in flight. Idempotent; after
  // it, render is never called again.
  void Stop();

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace metrics
}  // namespace sesh

#endif  // SESH_METRICS_HTTP_SERVER_H_

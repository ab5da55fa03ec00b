#ifndef SESH_TESTS_PROMETHEUS_PROCESS_H_
#define SESH_TESTS_PROMETHEUS_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sesh {
namespace testing {

// A real Prometheus server (Debian's /usr/bin/prometheus) for tests: its web
// API on a 127.0.0.1 port of PickFreePort, its storage and generated config
// under `data_dir`, its output in <data_dir>.log. It scrapes `targets`
// (host:port of /metrics endpoints, job "sesh") every second. Stops it
// (SIGKILL, by PID) on destruction.
class PrometheusProcess {
 public:
  PrometheusProcess(std::string data_dir, std::vector<std::string> targets);
  ~PrometheusProcess();

  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  // Starts Prometheus and waits until /-/ready answers 200, at most
  // timeout_ms. FAILED_PRECONDITION when Prometheus is not installed.
  absl::Status Start(int timeout_ms = 30000);
  // kill -9, and reaps the process.
  void Kill();

  int port() const { return port_; }
  // The value of an instant query (/api/v1/query) whose answer is one
  // sample, e.g. "sum(up)". NOT_FOUND when the answer has no sample,
  // UNAVAILABLE when Prometheus does not answer, INTERNAL for an answer
  // that is not a one-sample vector.
  absl::StatusOr<double> Query(const std::string& promql);

 private:
  const std::string data_dir_;
  const std::vector<std::string> targets_;
  const int port_;
  pid_t pid_ = -1;
};

// Runs `command` with /bin/sh, its output appended to `log`; its exit
// status (as from waitpid), or -1 if it could not be started.
int RunShell(const std::string& command, const std::string& log);

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_PROMETHEUS_PROCESS_H_

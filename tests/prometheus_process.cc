#include "tests/prometheus_process.h"

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/node_process.h"

namespace sesh {
namespace testing {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";

// Prometheus's query API escapes nothing in a number: the sample of
// {"result":[{"metric":{...},"value":[<time>,"<value>"]}]} is the string
// after the first "value":[ and its comma.
absl::StatusOr<double> OnlySample(const std::string& body) {
  if (body.find("\"status\":\"success\"") == std::string::npos) {
    return absl::InternalError(absl::StrCat("query failed: ", body));
  }
  const std::string key = "\"value\":[";
  const size_t at = body.find(key);
  if (at == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no sample: ", body));
  }
  if (body.find(key, at + 1) != std::string::npos) {
    return absl::InternalError(absl::StrCat("more than one sample: ", body));
  }
  const size_t open = body.find(",\"", at);
  const size_t close = body.find('"', open + 2);
  if (open == std::string::npos || close == std::string::npos) {
    return absl::InternalError(absl::StrCat("malformed answer: ", body));
  }
  double value = 0;
  if (!absl::SimpleAtod(body.substr(open + 2, close - open - 2), &value)) {
    return absl::InternalError(absl::StrCat("malformed value: ", body));
  }
  return value;
}

}  // namespace

PrometheusProcess::PrometheusProcess(std::string data_dir,
                                     std::vector<std::string> targets)
    : data_dir_(std::move(data_dir)),
      targets_(std::move(targets)),
      port_(PickFreePort()) {}

PrometheusProcess::~PrometheusProcess() {
  if (pid_ > 0) Kill();
}

absl::Status PrometheusProcess::Start(int timeout_ms) {
  if (access(kPrometheus, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "Prometheus is not installed (Debian package prometheus; "
        "tools/setup.sh)");
  }
  const std::string config = data_dir_ + ".yml";
  {
    std::ofstream out(config);
    out << "global:\n"
        << "  scrape_interval: 1s\n"
        << "  scrape_timeout: 1s\n"
        << "scrape_configs:\n"
        << "  - job_name: sesh\n"
        << "    static_configs:\n"
        << "      - targets: [";
    for (size_t i = 0; i < targets_.size(); ++i) {
      out << (i > 0 ? ", " : "") << "'" << targets_[i] << "'";
    }
    out << "]\n";
    if (!out) return absl::InternalError("cannot write " + config);
  }
  const std::vector<std::string> args = {
      kPrometheus,
      absl::StrCat("--config.file=", config),
      absl::StrCat("--storage.tsdb.path=", data_dir_),
      absl::StrCat("--web.listen-address=127.0.0.1:", port_),
      "--log.level=warn",
  };
  const std::string log = data_dir_ + ".log";
  const pid_t pid = Spawn(args, log);
  if (pid < 0) return absl::InternalError("fork failed");
  pid_ = pid;
  return WaitUntilReady(&pid_, "prometheus", log, timeout_ms, 100, [this] {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(0, 500000);
    client.set_read_timeout(1, 0);
    httplib::Result ready = client.Get("/-/ready");
    return ready && ready->status == 200;
  });
}

void PrometheusProcess::Kill() { KillAndReap(&pid_); }

absl::StatusOr<double> PrometheusProcess::Query(const std::string& promql) {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  httplib::Result result =
      client.Get("/api/v1/query", httplib::Params{{"query", promql}},
                 httplib::Headers{});
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("prometheus did not answer: ",
                     httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::InternalError(
        absl::StrCat("HTTP ", result->status, ": ", result->body));
  }
  return OnlySample(result->body);
}

int RunShell(const std::string& command, const std::string& log) {
  const pid_t pid = Spawn({"/bin/sh", "-c", command}, log);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace testing
}  // namespace sesh

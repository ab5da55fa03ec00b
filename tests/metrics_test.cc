// /metrics with real processes: a live sesh-node's output passes
// `promtool check metrics`, and a real Prometheus scraping a 3-node local
// cluster sees the request counter rise after calls are made.

#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sesh/v1/sessions.grpc.pb.h"
#include "tests/node_process.h"
#include "tests/prometheus_process.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::NewTempDir;
using testing::NodeProcess;
using testing::PickFreePort;
using testing::PrometheusProcess;
using Nodes = std::vector<std::unique_ptr<NodeProcess>>;

constexpr char kPromtool[] = "/usr/bin/promtool";

// n nodes "n1".."nN" with --peers naming them all, each serving /metrics
// on its own free loopback port; not started.
Nodes MakeMetricsCluster(int n, const std::string& dir,
                         std::vector<int>* metrics_ports) {
  std::vector<int> ports, peer_ports;
  std::string peers;
  for (int i = 1; i <= n; ++i) {
    ports.push_back(PickFreePort());
    peer_ports.push_back(PickFreePort());
    metrics_ports->push_back(PickFreePort());
    absl::StrAppend(&peers, i > 1 ? "," : "", "n", i, "=127.0.0.1:",
                    ports.back(), "/127.0.0.1:", peer_ports.back());
  }
  Nodes nodes;
  for (int i = 1; i <= n; ++i) {
    nodes.push_back(std::make_unique<NodeProcess>(
        absl::StrCat("n", i), ports[i - 1], peer_ports[i - 1],
        absl::StrCat(dir, "/n", i),
        std::vector<std::string>{
            absl::StrCat("--peers=", peers),
            absl::StrCat("--metrics_listen=127.0.0.1:", (*metrics_ports)[i - 1]),
            "--access_log"}));
  }
  return nodes;
}

absl::StatusOr<std::string> Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  httplib::Result result = client.Get("/metrics");
  if (!result) return absl::UnavailableError("no answer from /metrics");
  if (result->status != 200) {
    return absl::InternalError(absl::StrCat("HTTP ", result->status));
  }
  return result->body;
}

// Creates a session in namespace "test" and reads it, then reads an id
// that names no session: two OK Gets and one NOT_FOUND.
void MakeCalls(NodeProcess& node) {
  std::unique_ptr<v1::Sessions::Stub> stub = node.SessionsStub();
  v1::CreateRequest create;
  create.set_namespace_("test");
  create.set_idle_timeout_ms(60000);
  v1::CreateResponse created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Create(&ctx, create, &created).ok());
  }
  for (const std::string& id : {created.session().id(), created.session().id(),
                                std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}) {
    grpc::ClientContext ctx;
    v1::GetRequest get;
    get.set_namespace_("test");
    get.set_id(id);
    v1::GetResponse response;
    stub->Get(&ctx, get, &response);
  }
}

bool HasLine(const std::string& text, const std::string& line) {
  return absl::StrContains(absl::StrCat("\n", text), absl::StrCat("\n", line, "\n"));
}

TEST(MetricsTest, LiveNode_AfterCalls_PromtoolCheckMetricsPasses) {
  ASSERT_EQ(access(kPromtool, X_OK), 0)
      << "promtool is not installed (Debian package prometheus; "
         "tools/setup.sh)";
  const std::string dir = NewTempDir("metrics_promtool");
  std::vector<int> metrics_ports;
  Nodes nodes = MakeMetricsCluster(1, dir, &metrics_ports);
  ASSERT_TRUE(nodes[0]->Start().ok());
  MakeCalls(*nodes[0]);

  absl::StatusOr<std::string> text = Scrape(metrics_ports[0]);
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string get =
      "port=\"client\",service=\"sesh.v1.Sessions\",method=\"Get\"";
  EXPECT_TRUE(HasLine(*text, absl::StrCat("sesh_rpc_requests_total{", get, "} 3")))
      << *text;
  EXPECT_TRUE(HasLine(*text, absl::StrCat("sesh_rpc_errors_total{", get,
                                          ",code=\"NOT_FOUND\"} 1")))
      << *text;
  EXPECT_TRUE(HasLine(*text, "sesh_sessions_created_total 1")) << *text;
  EXPECT_TRUE(HasLine(*text, "sesh_node_serving 1")) << *text;
  EXPECT_TRUE(HasLine(*text, "sesh_node_info{node_id=\"n1\"} 1")) << *text;

  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << *text;
  const std::string log = dir + "/promtool.log";
  const int status = testing::RunShell(
      absl::StrCat(kPromtool, " check metrics < ", file), log);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << testing::ReadFileOrEmpty(log);
  EXPECT_EQ(testing::ReadFileOrEmpty(log), "");  // no lint warnings either

  // The access log names sessions by handle, never by id.
  const std::string node_log = testing::ReadFileOrEmpty(nodes[0]->log_path());
  EXPECT_TRUE(absl::StrContains(node_log, "Sessions.Get ns=test code=NOT_FOUND"))
      << node_log;
  EXPECT_TRUE(absl::StrContains(node_log, "Sessions.Create ns=test code=OK"))
      << node_log;
  nodes[0]->Terminate();
}

TEST(MetricsTest, Prometheus_ThreeNodeCluster_SeesRequestCounterRise) {
  const std::string dir = NewTempDir("metrics_prometheus");
  std::vector<int> metrics_ports;
  Nodes nodes = MakeMetricsCluster(3, dir, &metrics_ports);
  ASSERT_TRUE(testing::StartAndWait(nodes).ok());
  std::vector<std::string> targets;
  for (int port : metrics_ports) {
    targets.push_back(absl::StrCat("127.0.0.1:", port));
  }
  PrometheusProcess prometheus(dir + "/prometheus", targets);
  absl::Status started = prometheus.Start();
  ASSERT_TRUE(started.ok()) << started;

  // Waits up to timeout_ms for the query's value to satisfy `done`.
  auto wait_for = [&prometheus](const std::string& query, int timeout_ms,
                                const std::function<bool(double)>& done) {
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(timeout_ms);
    absl::StatusOr<double> value;
    while (std::chrono::steady_clock::now() < give_up) {
      value = prometheus.Query(query);
      if (value.ok() && done(*value)) return value;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return value;
  };

  // Every node scraped, and each sees its two peers up.
  absl::StatusOr<double> up =
      wait_for("sum(up{job=\"sesh\"})", 30000, [](double v) { return v == 3; });
  ASSERT_TRUE(up.ok() && *up == 3) << up.status();
  absl::StatusOr<double> peers_up =
      wait_for("sum(sesh_peer_up)", 30000, [](double v) { return v == 6; });
  ASSERT_TRUE(peers_up.ok() && *peers_up == 6) << peers_up.status();

  const std::string requests =
      "sum(sesh_rpc_requests_total{port=\"client\",service=\"sesh.v1."
      "Sessions\"})";
  absl::StatusOr<double> before = prometheus.Query(requests);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, 0);
  for (auto& node : nodes) MakeCalls(*node);  // 4 calls on each node
  absl::StatusOr<double> after =
      wait_for(requests, 30000, [](double v) { return v >= 12; });
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, 12);
  absl::StatusOr<double> created =
      wait_for("sum(sesh_sessions_created_total)", 30000,
               [](double v) { return v == 3; });
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, 3);

  prometheus.Kill();
  for (auto& node : nodes) node->Terminate();
}

}  // namespace
}  // namespace sesh

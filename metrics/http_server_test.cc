#include "metrics/http_server.h"

#include <httplib.h>

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace sesh {
namespace metrics {
namespace {

TEST(HttpServerTest, GetMetrics_PortZero_ServesRenderWithContentType) {
  std::atomic<int> renders{0};
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1:0", [&renders] {
        ++renders;
        return std::string("sesh_up 1\n");
      });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result result = client.Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "sesh_up 1\n");
  EXPECT_EQ(result->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(renders.load(), 1);
}

TEST(HttpServerTest, Get_OtherPath_NotFound) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1:0", [] { return std::string("x"); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result result = client.Get("/");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
  result = client.Get("/metrics/x");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
}

TEST(HttpServerTest, Stop_ThenGet_ConnectionRefused) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1:0", [] { return std::string("x"); });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  (*server)->Stop();
  (*server)->Stop();  // idempotent
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  EXPECT_FALSE(client.Get("/metrics"));
}

TEST(HttpServerTest, Start_PortInUse_Unavailable) {
  absl::StatusOr<std::unique_ptr<HttpServer>> first =
      HttpServer::Start("127.0.0.1:0", [] { return std::string("x"); });
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(
      "127.0.0.1:" + std::to_string((*first)->port()),
      [] { return std::string("x"); });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpServerTest, Start_MalformedAddress_InvalidArgument) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000",
                          "127.0.0.1:-1"}) {
    EXPECT_EQ(HttpServer::Start(bad, [] { return std::string(); })
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace metrics
}  // namespace sesh

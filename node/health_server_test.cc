#include "node/health_server.h"

#include <memory>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(5);

std::string Address(const HealthServer& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

// "SERVING", "NOT_SERVING" or the error, for readable failures.
std::string Serving(const std::string& address, const std::string& service) {
  absl::StatusOr<bool> serving = CheckHealth(address, service, kTimeout);
  if (!serving.ok()) return serving.status().ToString();
  return *serving ? "SERVING" : "NOT_SERVING";
}

std::unique_ptr<HealthServer> StartOnFreePort() {
  absl::StatusOr<std::unique_ptr<HealthServer>> server =
      HealthServer::Start("127.0.0.1:0");
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HealthServerTest, Start_EmptyAddress_ReturnsNull) {
  absl::StatusOr<std::unique_ptr<HealthServer>> server =
      HealthServer::Start("");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(*server, nullptr);
}

TEST(HealthServerTest, Start_ReadinessNotServingLivenessServing) {
  std::unique_ptr<HealthServer> server = StartOnFreePort();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Serving(Address(*server), ""), "NOT_SERVING");
  EXPECT_EQ(Serving(Address(*server), kLivenessService), "SERVING");
}

TEST(HealthServerTest, CheckHealth_UnknownService_ReturnsNotFound) {
  std::unique_ptr<HealthServer> server = StartOnFreePort();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(CheckHealth(Address(*server), "sesh.v1.Sessions", kTimeout),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(HealthServerTest, CheckHealth_NothingListening_ReturnsError) {
  int port = 0;
  {
    std::unique_ptr<HealthServer> server = StartOnFreePort();
    ASSERT_NE(server, nullptr);
    port = server->port();
  }
  EXPECT_FALSE(CheckHealth("127.0.0.1:" + std::to_string(port), "",
                           absl::Milliseconds(500))
                   .ok());
}

TEST(HealthServerTest, Start_PortTaken_ReturnsUnavailable) {
  std::unique_ptr<HealthServer> server = StartOnFreePort();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(HealthServer::Start(Address(*server)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(NodeHealthTest, SetServingStatus_MirrorsReadinessAndKeepsLiveness) {
  std::unique_ptr<HealthServer> a = StartOnFreePort();
  std::unique_ptr<HealthServer> b = StartOnFreePort();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  NodeHealth health({a->health(), nullptr, b->health()});

  health.SetServingStatus(true);
  for (HealthServer* s : {a.get(), b.get()}) {
    EXPECT_EQ(Serving(Address(*s), ""), "SERVING");
  }
  health.SetServingStatus("sesh.v1.Cluster", false);
  health.SetServingStatus(kLivenessService, false);  // ignored
  health.SetServingStatus(false);                    // the drain
  for (HealthServer* s : {a.get(), b.get()}) {
    EXPECT_EQ(Serving(Address(*s), ""), "NOT_SERVING");
    EXPECT_EQ(Serving(Address(*s), "sesh.v1.Cluster"), "NOT_SERVING");
    EXPECT_EQ(Serving(Address(*s), kLivenessService), "SERVING");
  }
}

}  // namespace
}  // namespace sesh

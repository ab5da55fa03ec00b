// A single sesh-node process, killed with SIGKILL and restarted on the same
// data directory, keeps every acknowledged write (RocksDB WAL).

#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/node_process.h"

namespace sesh {
namespace {

using testing::NewTempDir;
using testing::NodeProcess;
using testing::PickFreePort;

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(5);
}

TEST(RestartTest, KillNine_ThenRestart_KeepsEveryAcknowledgedWrite) {
  const std::string dir = NewTempDir("restart");
  NodeProcess node("n1", PickFreePort(), PickFreePort(), dir + "/data", {});
  ASSERT_TRUE(node.Start().ok());
  auto stub = node.SessionsStub();

  std::map<std::string, std::string> live;  // id -> cart value
  std::vector<std::string> destroyed;
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::CreateRequest create;
    create.set_namespace_("shop");
    create.set_user_id(absl::StrCat("user", i % 10));
    create.set_idle_timeout_ms(3600 * 1000);
    (*create.mutable_attributes())["cart"] = "0";
    v1::CreateResponse created;
    ASSERT_TRUE(stub->Create(&ctx, create, &created).ok());
    const std::string id = created.session().id();
    if (i % 5 == 0) {
      grpc::ClientContext dctx;
      dctx.set_deadline(Deadline());
      v1::DestroyRequest destroy;
      destroy.set_namespace_("shop");
      destroy.set_id(id);
      v1::DestroyResponse dresp;
      ASSERT_TRUE(stub->Destroy(&dctx, destroy, &dresp).ok());
      destroyed.push_back(id);
      continue;
    }
    grpc::ClientContext uctx;
    uctx.set_deadline(Deadline());
    v1::UpdateRequest update;
    update.set_namespace_("shop");
    update.set_id(id);
    (*update.mutable_set())["cart"] = absl::StrCat(i);
    v1::UpdateResponse uresp;
    ASSERT_TRUE(stub->Update(&uctx, update, &uresp).ok());
    live[id] = absl::StrCat(i);
  }

  node.Kill();
  absl::Status restarted = node.Start();
  ASSERT_TRUE(restarted.ok()) << restarted;
  stub = node.SessionsStub();
  for (const auto& [id, cart] : live) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::GetRequest get;
    get.set_namespace_("shop");
    get.set_id(id);
    v1::GetResponse got;
    grpc::Status status = stub->Get(&ctx, get, &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(got.session().attributes().at("cart"), cart);
  }
  for (const std::string& id : destroyed) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::GetRequest get;
    get.set_namespace_("shop");
    get.set_id(id);
    v1::GetResponse got;
    EXPECT_EQ(stub->Get(&ctx, get, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(live.size(), 160u);
}

TEST(RestartTest, SigTerm_DrainsAndExitsCleanly_DataKept) {
  const std::string dir = NewTempDir("sigterm");
  NodeProcess node("n1", PickFreePort(), PickFreePort(), dir + "/data", {});
  ASSERT_TRUE(node.Start().ok());
  auto stub = node.SessionsStub();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::CreateRequest create;
  create.set_namespace_("shop");
  create.set_idle_timeout_ms(3600 * 1000);
  v1::CreateResponse created;
  ASSERT_TRUE(stub->Create(&ctx, create, &created).ok());
  int status = node.Terminate();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(node.Start().ok());
  stub = node.SessionsStub();
  grpc::ClientContext gctx;
  gctx.set_deadline(Deadline());
  v1::GetRequest get;
  get.set_namespace_("shop");
  get.set_id(created.session().id());
  v1::GetResponse got;
  EXPECT_TRUE(stub->Get(&gctx, get, &got).ok());
}

}  // namespace
}  // namespace sesh

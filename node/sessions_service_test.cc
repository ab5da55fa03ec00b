// The unary calls of the Sessions and Cluster services, and who may make
// them. The streaming calls are tested in stream_calls_test.cc.

#include "node/sessions_service.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/session_handle.h"
#include "gtest/gtest.h"
#include "node/sessions_service_fixture.h"
#include "replication/session_id.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::kIdle;
using testing::kOtherToken;
using testing::kShopToken;
using testing::kStart;
using testing::SessionsServiceTest;

TEST_F(SessionsServiceTest, Create_ReturnsWellFormedSession) {
  v1::Session s = MustCreate();
  EXPECT_EQ(s.id().size(), 43u);
  EXPECT_TRUE(DecodeId(s.id()).ok());
  EXPECT_EQ(s.namespace_(), "shop");
  EXPECT_EQ(s.user_id(), "alice");
  EXPECT_EQ(s.attributes().at("role"), "admin");
  EXPECT_EQ(s.created_at_ms(), kStart);
  EXPECT_EQ(s.expires_at_ms(), kStart + kIdle);
  EXPECT_GT(s.version(), 0u);
}

TEST_F(SessionsServiceTest, Create_InvalidRequests_GiveInvalidArgumentOrResourceExhausted) {
  grpc::ClientContext ctx1;
  v1::CreateRequest no_timeout;
  no_timeout.set_namespace_("shop");
  v1::CreateResponse response;
  EXPECT_EQ(stub_->Create(&ctx1, no_timeout, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx2;
  v1::CreateRequest too_many;
  too_many.set_namespace_("shop");
  too_many.set_idle_timeout_ms(kIdle);
  for (int i = 0; i < 5; ++i) {
    (*too_many.mutable_attributes())[absl::StrCat("k", i)] = "v";
  }
  EXPECT_EQ(stub_->Create(&ctx2, too_many, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionsServiceTest, Get_MalformedId_GivesInvalidArgument) {
  EXPECT_EQ(GetCode("not-an-id"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(std::string(43, '*')), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(MustCreate().id(), ""), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Get_UnknownOtherNamespaceOrExpired_GivesNotFound) {
  v1::Session s = MustCreate();
  EXPECT_EQ(GetCode(EncodeId(NewRawId())), grpc::StatusCode::NOT_FOUND);
  // The token is for "shop" only.
  EXPECT_EQ(GetCode(s.id(), "blog"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);
  clock_.AdvanceMs(kIdle);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Get_Touches_SkipTouchDoesNot) {
  v1::Session s = MustCreate();
  clock_.AdvanceMs(kIdle / 2);
  {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_namespace_("shop");
    request.set_id(s.id());
    request.set_skip_touch(true);
    v1::GetResponse response;
    ASSERT_TRUE(stub_->Get(&ctx, request, &response).ok());
    EXPECT_EQ(response.session().last_access_ms(), kStart);
  }
  grpc::ClientContext ctx;
  v1::GetRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::GetResponse response;
  ASSERT_TRUE(stub_->Get(&ctx, request, &response).ok());
  EXPECT_EQ(response.session().last_access_ms(), kStart + kIdle / 2);
  EXPECT_EQ(response.session().expires_at_ms(), kStart + kIdle / 2 + kIdle);
}

TEST_F(SessionsServiceTest, Update_SetsRemovesAndChecksVersion) {
  v1::Session s = MustCreate();
  grpc::ClientContext ctx;
  v1::UpdateRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  (*request.mutable_set())["cart"] = "3";
  request.add_remove("role");
  request.set_expected_version(s.version());
  v1::UpdateResponse response;
  ASSERT_TRUE(stub_->Update(&ctx, request, &response).ok());
  EXPECT_EQ(response.session().attributes().size(), 1u);
  EXPECT_EQ(response.session().attributes().at("cart"), "3");
  EXPECT_GT(response.session().version(), s.version());

  grpc::ClientContext stale_ctx;
  v1::UpdateResponse stale_response;
  EXPECT_EQ(stub_->Update(&stale_ctx, request, &stale_response).error_code(),
            grpc::StatusCode::ABORTED);

  grpc::ClientContext missing_ctx;
  v1::UpdateRequest missing = request;
  missing.set_id(EncodeId(NewRawId()));
  missing.set_expected_version(0);
  EXPECT_EQ(stub_->Update(&missing_ctx, missing, &stale_response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext big_ctx;
  v1::UpdateRequest too_many = request;
  too_many.set_expected_version(0);
  too_many.clear_remove();
  for (int i = 0; i < 5; ++i) {
    (*too_many.mutable_set())[absl::StrCat("k", i)] = "v";
  }
  EXPECT_EQ(stub_->Update(&big_ctx, too_many, &stale_response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(SessionsServiceTest, Touch_SlidesExpiry_AndExpiredGivesNotFound) {
  v1::Session s = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  grpc::ClientContext ctx;
  v1::TouchRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::TouchResponse response;
  ASSERT_TRUE(stub_->Touch(&ctx, request, &response).ok());
  EXPECT_EQ(response.expires_at_ms(), kStart + kIdle - 1 + kIdle);
  clock_.AdvanceMs(kIdle);
  grpc::ClientContext late_ctx;
  EXPECT_EQ(stub_->Touch(&late_ctx, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Destroy_IsFinalAndIdempotent) {
  v1::Session s = MustCreate();
  v1::DestroyRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::DestroyResponse response;
  grpc::ClientContext ctx1, ctx2, ctx3;
  ASSERT_TRUE(stub_->Destroy(&ctx1, request, &response).ok());
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(stub_->Destroy(&ctx2, request, &response).ok());
  request.set_id("bad");
  EXPECT_EQ(stub_->Destroy(&ctx3, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Rotate_NewIdKeepsDataOldIdGone) {
  v1::Session s = MustCreate();
  grpc::ClientContext ctx;
  v1::RotateRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::RotateResponse response;
  ASSERT_TRUE(stub_->Rotate(&ctx, request, &response).ok());
  EXPECT_NE(response.session().id(), s.id());
  EXPECT_EQ(response.session().attributes().at("role"), "admin");
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(response.session().id()), grpc::StatusCode::OK);
  grpc::ClientContext again;
  EXPECT_EQ(stub_->Rotate(&again, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, ListAndDestroyByUser_CoverTheUsersSessions) {
  v1::Session keep = MustCreate("alice");
  MustCreate("alice");
  MustCreate("alice");
  v1::Session bob = MustCreate("bob");
  {
    grpc::ClientContext ctx;
    v1::ListByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    v1::ListByUserResponse response;
    ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
    EXPECT_EQ(response.sessions_size(), 3);
  }
  {
    grpc::ClientContext ctx;
    v1::DestroyByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_except_id(keep.id());
    v1::DestroyByUserResponse response;
    ASSERT_TRUE(stub_->DestroyByUser(&ctx, request, &response).ok());
    EXPECT_EQ(response.destroyed_count(), 2);
  }
  grpc::ClientContext ctx;
  v1::ListByUserRequest request;
  request.set_namespace_("shop");
  request.set_user_id("alice");
  v1::ListByUserResponse response;
  ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
  ASSERT_EQ(response.sessions_size(), 1);
  EXPECT_EQ(response.sessions(0).handle(), keep.handle());
  EXPECT_EQ(GetCode(bob.id()), grpc::StatusCode::OK);
  grpc::ClientContext bad_ctx;
  request.set_user_id("");
  EXPECT_EQ(stub_->ListByUser(&bad_ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, BatchGet_GivesOneResultPerIdInOrder) {
  v1::Session a = MustCreate();
  v1::Session b = MustCreate();
  grpc::ClientContext ctx;
  v1::BatchGetRequest request;
  request.set_namespace_("shop");
  request.add_ids(a.id());
  request.add_ids(EncodeId(NewRawId()));
  request.add_ids("malformed");
  request.add_ids(b.id());
  v1::BatchGetResponse response;
  ASSERT_TRUE(stub_->BatchGet(&ctx, request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(response.results(0).session().id(), a.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(response.results(2).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(3).session().id(), b.id());

  grpc::ClientContext big_ctx;
  for (int i = 0; i < 10; ++i) request.add_ids(a.id());
  EXPECT_EQ(stub_->BatchGet(&big_ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Topology_DescribesTheSingleNode) {
  grpc::ClientContext ctx;
  v1::TopologyRequest request;
  v1::TopologyResponse response;
  ASSERT_TRUE(cluster_stub_->Topology(&ctx, request, &response).ok());
  ASSERT_EQ(response.nodes_size(), 1);
  EXPECT_EQ(response.nodes(0).id(), "n1");
  EXPECT_EQ(response.replication_factor(), 1u);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count(kEpochHeader), 1u);
}

TEST_F(SessionsServiceTest, NoOrUnknownToken_Unauthenticated_NothingChanges) {
  v1::Session s = MustCreate();
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    auto stub = StubWith(token);
    grpc::ClientContext get_ctx;
    v1::GetRequest get;
    get.set_namespace_("shop");
    get.set_id(s.id());
    v1::GetResponse got;
    EXPECT_EQ(stub->Get(&get_ctx, get, &got).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_FALSE(got.has_session());
    grpc::ClientContext destroy_ctx;
    v1::DestroyRequest destroy;
    destroy.set_namespace_("shop");
    destroy.set_id(s.id());
    v1::DestroyResponse destroyed;
    EXPECT_EQ(stub->Destroy(&destroy_ctx, destroy, &destroyed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext create_ctx;
    v1::CreateRequest create;
    create.set_namespace_("shop");
    create.set_idle_timeout_ms(kIdle);
    v1::CreateResponse created;
    EXPECT_EQ(stub->Create(&create_ctx, create, &created).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);  // not destroyed
}

TEST_F(SessionsServiceTest, OtherNamespacesToken_PermissionDenied) {
  v1::Session s = MustCreate();
  auto other = StubWith(kOtherToken);
  grpc::ClientContext ctx;
  v1::DestroyRequest destroy;
  destroy.set_namespace_("shop");
  destroy.set_id(s.id());
  v1::DestroyResponse destroyed;
  EXPECT_EQ(other->Destroy(&ctx, destroy, &destroyed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);
  // Its own namespace works (and holds no session of "shop").
  grpc::ClientContext get_ctx;
  v1::GetRequest get;
  get.set_namespace_("other");
  get.set_id(s.id());
  v1::GetResponse got;
  EXPECT_EQ(other->Get(&get_ctx, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Topology_AnyToken_NodeStats_AdminOnly) {
  auto shop = v1::Cluster::NewStub(
      testing::ClientChannel(address_, kShopToken, /*tls=*/false));
  auto none = v1::Cluster::NewStub(
      testing::ClientChannel(address_, "", /*tls=*/false));
  v1::TopologyResponse topology;
  v1::NodeStatsResponse stats;
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(shop->Topology(&ctx, {}, &topology).ok());
  }
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(none->Topology(&ctx, {}, &topology).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(shop->NodeStats(&ctx, {}, &stats).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(cluster_stub_->NodeStats(&ctx, {}, &stats).ok());
    EXPECT_EQ(stats.node_id(), "n1");
  }
}

TEST_F(SessionsServiceTest, ListByUser_GivesHandlesNoIds_OnlyChosenAttributes) {
  v1::Session s = MustCreate("alice");
  EXPECT_EQ(s.handle(), SessionHandle(*DecodeId(s.id())));
  grpc::ClientContext ctx;
  v1::ListByUserRequest request;
  request.set_namespace_("shop");
  request.set_user_id("alice");
  request.add_attributes("user_agent");  // absent: listed without it
  v1::ListByUserResponse response;
  ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
  ASSERT_EQ(response.sessions_size(), 1);
  const v1::Session& listed = response.sessions(0);
  EXPECT_EQ(listed.id(), "");
  EXPECT_EQ(listed.handle(), s.handle());
  EXPECT_EQ(listed.handle().size(), 22u);
  EXPECT_TRUE(listed.attributes().empty());  // "role" was not asked for
  EXPECT_EQ(listed.created_at_ms(), kStart);
  // A handle is no cookie.
  EXPECT_EQ(GetCode(listed.handle()), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext with_role_ctx;
  request.clear_attributes();
  request.add_attributes("role");
  v1::ListByUserResponse with_role;
  ASSERT_TRUE(stub_->ListByUser(&with_role_ctx, request, &with_role).ok());
  ASSERT_EQ(with_role.sessions_size(), 1);
  EXPECT_EQ(with_role.sessions(0).attributes().at("role"), "admin");
}

TEST_F(SessionsServiceTest, ListByUser_Pages_EachSessionOnce) {
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.insert(MustCreate("alice").handle());
    clock_.AdvanceMs(1);
  }
  std::set<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListByUserResponse response;
    ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
    EXPECT_LE(response.sessions_size(), 2);
    for (const v1::Session& s : response.sessions()) {
      EXPECT_TRUE(listed.insert(s.handle()).second);
    }
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(listed, created);

  grpc::ClientContext bad_ctx;
  v1::ListByUserRequest bad;
  bad.set_namespace_("shop");
  bad.set_user_id("alice");
  bad.set_page_size(1001);
  v1::ListByUserResponse response;
  EXPECT_EQ(stub_->ListByUser(&bad_ctx, bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, DestroyByHandle_LogsOutThatDeviceOnly) {
  v1::Session phone = MustCreate("alice");
  v1::Session laptop = MustCreate("alice");
  v1::Session bobs = MustCreate("bob");
  auto destroy = [&](const std::string& user, const std::string& handle) {
    grpc::ClientContext ctx;
    v1::DestroyRequest request;
    request.set_namespace_("shop");
    request.set_user_id(user);
    request.set_handle(handle);
    v1::DestroyResponse response;
    return stub_->Destroy(&ctx, request, &response).error_code();
  };
  // Another user's handle names none of alice's sessions: nothing happens.
  EXPECT_EQ(destroy("alice", bobs.handle()), grpc::StatusCode::OK);
  EXPECT_EQ(GetCode(bobs.id()), grpc::StatusCode::OK);
  EXPECT_EQ(destroy("alice", phone.handle()), grpc::StatusCode::OK);
  EXPECT_EQ(GetCode(phone.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
  EXPECT_EQ(destroy("", laptop.handle()), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
}

TEST_F(SessionsServiceTest, DestroyByUser_BoundedPerCall_SaysMore) {
  v1::Session keep = MustCreate("alice");
  for (int i = 0; i < 4; ++i) MustCreate("alice");
  std::vector<int> counts;
  bool more = true;
  while (more && counts.size() < 10) {
    grpc::ClientContext ctx;
    v1::DestroyByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_except_handle(keep.handle());
    v1::DestroyByUserResponse response;
    ASSERT_TRUE(stub_->DestroyByUser(&ctx, request, &response).ok());
    counts.push_back(response.destroyed_count());
    more = response.more();
  }
  EXPECT_EQ(counts, (std::vector<int>{2, 2}));
  EXPECT_EQ(GetCode(keep.id()), grpc::StatusCode::OK);
}

}  // namespace
}  // namespace sesh

// sesh::Client's calls on all of a user's sessions against in-process fake
// nodes (client/internal/fake_node.h): ListByUser's pages, ListByUserPage,
// DestroyByUser's and DestroyOtherDevices' rounds, and DestroyByHandle.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/internal/fake_node.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace {

using testing::kNs;
using testing::TestCluster;
using testing::TestId;

TEST(ClientTest, ListByUser_FiveSessionsInPagesOfTwo_FollowsEveryPage) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).list_total = 5;
  tc.node(0).list_page_size = 2;

  absl::StatusOr<std::vector<SessionData>> sessions =
      client->ListByUser(kNs, "alice");

  ASSERT_TRUE(sessions.ok()) << sessions.status();
  ASSERT_EQ(sessions->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const SessionData& s = (*sessions)[i];
    EXPECT_EQ(s.handle, absl::StrCat("h", i));
    EXPECT_EQ(s.id, "");
    EXPECT_EQ(s.user_id, "alice");
    EXPECT_EQ(s.created_at_ms, i);
    EXPECT_TRUE(s.attributes.empty());
  }
  std::vector<v1::ListByUserRequest> requests = tc.node(0).list_requests();
  ASSERT_EQ(requests.size(), 3u);
  const std::vector<std::string> tokens = {"", "2", "4"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(requests[i].namespace_(), kNs);
    EXPECT_EQ(requests[i].user_id(), "alice");
    EXPECT_EQ(requests[i].page_token(), tokens[i]);
    EXPECT_EQ(requests[i].page_size(), 1000);
    EXPECT_EQ(requests[i].attributes_size(), 0);
  }
}

TEST(ClientTest, ListByUser_PagesWithoutEnd_ResourceExhaustedAfterMaxPages) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).list_total = 1;
  tc.node(0).list_endless = true;

  EXPECT_EQ(client->ListByUser(kNs, "alice").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(tc.node(0).list_requests().size(),
            static_cast<size_t>(Client::kMaxListPages));
}

TEST(ClientTest, ListByUserPage_Options_SentAndNextPageTokenReturned) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).list_total = 5;
  tc.node(0).list_page_size = 2;
  ListOptions options;
  options.attributes = {"user_agent", "ip"};
  options.page_size = 2;
  options.page_token = "2";

  absl::StatusOr<SessionPage> page =
      client->ListByUserPage(kNs, "alice", options);

  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sessions.size(), 2u);
  EXPECT_EQ(page->sessions[0].handle, "h2");
  EXPECT_EQ(page->sessions[1].handle, "h3");
  EXPECT_EQ(page->sessions[1].attributes,
            (std::map<std::string, std::string>{
                {"ip", "ip-3"}, {"user_agent", "user_agent-3"}}));
  EXPECT_EQ(page->next_page_token, "4");
  std::vector<v1::ListByUserRequest> requests = tc.node(0).list_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].page_size(), 2);
  EXPECT_EQ(requests[0].page_token(), "2");
  EXPECT_EQ(std::vector<std::string>(requests[0].attributes().begin(),
                                     requests[0].attributes().end()),
            (std::vector<std::string>{"user_agent", "ip"}));

  options.page_token = "4";
  page = client->ListByUserPage(kNs, "alice", options);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sessions.size(), 1u);
  EXPECT_EQ(page->next_page_token, "");
}

TEST(ClientTest, ListByUserPage_PageSizeOutOfRange_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  for (int page_size : {-1, 1001}) {
    ListOptions options;
    options.page_size = page_size;
    EXPECT_EQ(client->ListByUserPage(kNs, "alice", options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(tc.node(0).list_requests().empty());
}

TEST(ClientTest, DestroyByUser_MoreReported_CallsAgainAndSums) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).destroy_remaining = 7;
  tc.node(0).destroy_per_call = 3;
  const std::string keep = TestId(9);

  absl::StatusOr<int> destroyed =
      client->DestroyByUser(kNs, "alice", keep, Durability::kAll);

  ASSERT_TRUE(destroyed.ok()) << destroyed.status();
  EXPECT_EQ(*destroyed, 7);
  std::vector<v1::DestroyByUserRequest> requests =
      tc.node(0).destroy_by_user_requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const v1::DestroyByUserRequest& r : requests) {
    EXPECT_EQ(r.namespace_(), kNs);
    EXPECT_EQ(r.user_id(), "alice");
    EXPECT_EQ(r.except_id(), keep);
    EXPECT_EQ(r.except_handle(), "");
    EXPECT_EQ(r.durability(), v1::ALL);
  }
}

TEST(ClientTest, DestroyByUser_AlwaysMore_ResourceExhaustedAfterMaxRounds) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).destroy_remaining = 1000;
  tc.node(0).destroy_per_call = 1;
  tc.node(0).destroy_endless = true;

  EXPECT_EQ(client->DestroyByUser(kNs, "alice").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(tc.node(0).destroy_by_user_requests().size(),
            static_cast<size_t>(Client::kMaxDestroyRounds));
  EXPECT_EQ(tc.node(0).destroy_remaining.load(),
            1000 - Client::kMaxDestroyRounds);
}

TEST(ClientTest, DestroyByUser_SecondCallFails_ErrorAndNoThirdCall) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_attempts = 1;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).destroy_remaining = 7;
  tc.node(0).destroy_per_call = 3;
  tc.node(0).destroy_fail_call = 2;

  EXPECT_EQ(client->DestroyByUser(kNs, "alice").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).destroy_by_user_requests().size(), 2u);
  EXPECT_EQ(tc.node(0).destroy_remaining.load(), 4);
}

TEST(ClientTest, DestroyOtherDevices_KeepHandle_SentAsExceptHandle) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).destroy_remaining = 4;
  tc.node(0).destroy_per_call = 3;

  absl::StatusOr<int> destroyed =
      client->DestroyOtherDevices(kNs, "alice", "h1");

  ASSERT_TRUE(destroyed.ok()) << destroyed.status();
  EXPECT_EQ(*destroyed, 4);
  std::vector<v1::DestroyByUserRequest> requests =
      tc.node(0).destroy_by_user_requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const v1::DestroyByUserRequest& r : requests) {
    EXPECT_EQ(r.except_handle(), "h1");
    EXPECT_EQ(r.except_id(), "");
  }
}

TEST(ClientTest,
     DestroyOtherDevices_EmptyKeepHandle_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(client->DestroyOtherDevices(kNs, "alice", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(tc.node(0).destroy_by_user_requests().empty());
}

TEST(ClientTest, DestroyByHandle_UnavailableOnce_RetriedWithHandleAndUser) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).fail_next_unavailable = 1;

  absl::Status status =
      client->DestroyByHandle(kNs, "alice", "h3", Durability::kOne);

  EXPECT_TRUE(status.ok()) << status;
  std::vector<v1::DestroyRequest> requests = tc.node(0).destroy_requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const v1::DestroyRequest& r : requests) {
    EXPECT_EQ(r.namespace_(), kNs);
    EXPECT_EQ(r.id(), "");
    EXPECT_EQ(r.user_id(), "alice");
    EXPECT_EQ(r.handle(), "h3");
    EXPECT_EQ(r.durability(), v1::ONE);
  }
}

TEST(ClientTest, DestroyByHandle_EmptyArgument_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(client->DestroyByHandle(kNs, "alice", "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->DestroyByHandle(kNs, "", "h1").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->DestroyByHandle("", "alice", "h1").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(tc.node(0).destroy_requests().empty());
}

}  // namespace
}  // namespace sesh

// sesh::Client's coalesced writes (ClientOptions::stream_writes) against
// in-process fake nodes (client/internal/fake_node.h): concurrent writes to
// a node share StreamWrite messages, each keeps its own result and retry
// rules, and a node without StreamWrite gets unary calls.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/time.h"
#include "client/internal/fake_node.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "replication/placement.h"

namespace sesh {
namespace {

using testing::IdOwnedBy;
using testing::kNs;
using testing::PollUntil;
using testing::TestCluster;
using testing::TestId;

ClientOptions WriteStreamOptions(TestCluster& tc) {
  ClientOptions options = tc.Options();
  options.stream_writes = true;
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);  // only completions send
  options.deadline = absl::Seconds(10);
  return options;
}

TEST(ClientWriteStreamTest, SlotBusy_QueuedWritesLeaveInOneMessageEachOwnResult) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect(WriteStreamOptions(tc));
  ASSERT_NE(client, nullptr);
  tc.node(0).park_writes = true;
  tc.node(0).AddMissing(TestId(3));
  absl::BlockingCounter first_done(1);
  client->TouchAsync(kNs, TestId(100), [&](absl::StatusOr<int64_t> expires) {
    EXPECT_EQ(expires.value_or(-1), 1234);
    first_done.DecrementCount();
  });
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked_writes() == 1; }));

  // Queued behind the parked message: Updates (one of a missing session), a
  // Create, a Destroy and a Touch.
  constexpr int kUpdates = 6;
  std::vector<absl::StatusOr<SessionData>> updated(kUpdates,
                                                   absl::UnknownError(""));
  absl::StatusOr<SessionData> created = absl::UnknownError("");
  absl::Status destroyed = absl::UnknownError("");
  absl::StatusOr<int64_t> touched = absl::UnknownError("");
  absl::BlockingCounter rest_done(kUpdates + 3);
  for (int i = 0; i < kUpdates; ++i) {
    UpdateOptions update;
    update.set["cart"] = std::to_string(i);
    client->UpdateAsync(kNs, TestId(i), update,
                        [&updated, &rest_done, i](absl::StatusOr<SessionData> s) {
                          updated[i] = std::move(s);
                          rest_done.DecrementCount();
                        });
  }
  CreateOptions create;
  create.user_id = "alice";
  client->CreateAsync(kNs, create, [&](absl::StatusOr<SessionData> s) {
    created = std::move(s);
    rest_done.DecrementCount();
  });
  client->DestroyAsync(kNs, TestId(50), Durability::kQuorum,
                       [&](absl::Status s) {
                         destroyed = s;
                         rest_done.DecrementCount();
                       });
  client->TouchAsync(kNs, TestId(3), [&](absl::StatusOr<int64_t> e) {
    touched = std::move(e);
    rest_done.DecrementCount();
  });
  tc.node(0).park_writes = false;
  ASSERT_EQ(tc.node(0).ReleaseParkedWrites(), 1);
  first_done.Wait();
  rest_done.Wait();

  EXPECT_EQ(tc.node(0).write_streams.load(), 1);
  EXPECT_EQ(tc.node(0).write_batch_sizes(),
            std::vector<int>({1, kUpdates + 3}));
  EXPECT_EQ(tc.node(0).updates.load(), 0);  // no unary call
  EXPECT_EQ(tc.node(0).creates.load(), 0);
  for (int i = 0; i < kUpdates; ++i) {
    if (i == 3) {
      EXPECT_EQ(updated[i].status().code(), absl::StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(updated[i].ok()) << i << ": " << updated[i].status();
    EXPECT_EQ(updated[i]->id, TestId(i));
    EXPECT_EQ(updated[i]->attributes.at("cart"), std::to_string(i));
  }
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->user_id, "alice");
  EXPECT_TRUE(destroyed.ok()) << destroyed;
  ASSERT_EQ(tc.node(0).destroy_requests().size(), 1u);
  EXPECT_EQ(tc.node(0).destroy_requests()[0].id(), TestId(50));
  EXPECT_EQ(tc.node(0).destroy_requests()[0].durability(), v1::QUORUM);
  EXPECT_EQ(touched.status().code(), absl::StatusCode::kNotFound);
}

TEST(ClientWriteStreamTest, NodeWithoutStreamWrite_FallsBackToUnaryForGood) {
  TestCluster tc(1, 1);
  tc.node(0).no_write_streams = true;
  std::unique_ptr<Client> client = tc.Connect(WriteStreamOptions(tc));
  ASSERT_NE(client, nullptr);

  for (int i = 0; i < 3; ++i) {
    UpdateOptions update;
    update.set["k"] = "v";
    absl::StatusOr<SessionData> s = client->Update(kNs, TestId(i), update);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->id, TestId(i));
    EXPECT_EQ(s->attributes.at("k"), "v");
  }
  EXPECT_EQ(tc.node(0).write_stream_refusals.load(), 1);
  EXPECT_EQ(tc.node(0).updates.load(), 3);
  EXPECT_EQ(tc.node(0).write_stream_messages.load(), 0);
}

TEST(ClientWriteStreamTest, StreamEndsWithUnavailable_UpdateNotRetriedTouchIs) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect(WriteStreamOptions(tc));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Touch(kNs, TestId(1)).ok());

  // The stream's end may hide an applied Update: it is not sent again.
  tc.node(0).fail_next_unavailable = 1;
  UpdateOptions update;
  update.set["k"] = "v";
  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(2), update);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).write_stream_messages.load(), 2);

  // A Touch is idempotent: retried, on a new stream.
  tc.node(0).fail_next_unavailable = 1;
  absl::StatusOr<int64_t> touched = client->Touch(kNs, TestId(3));
  ASSERT_TRUE(touched.ok()) << touched.status();
  EXPECT_EQ(*touched, 1234);
  EXPECT_EQ(tc.node(0).write_streams.load(), 3);
  EXPECT_EQ(tc.node(0).write_stream_messages.load(), 4);
}

TEST(ClientWriteStreamTest, PrimaryUnreachable_UpdateSentOnceToNextReplica) {
  TestCluster tc(2, 2);
  ClientOptions options;  // the defaults: stream_writes
  options.insecure = true;
  options.seeds = {tc.node(1).address()};
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  const std::string id = IdOwnedBy(tc.Placement(2), "n1");
  tc.node(0).Stop();  // still listed as up: the client finds out itself
  UpdateOptions update;
  update.set["k"] = "v";

  absl::StatusOr<SessionData> s = client->Update(kNs, id, update);

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->attributes["served_by"], "n2");
  EXPECT_EQ(tc.node(1).write_stream_messages.load(), 1);
  EXPECT_EQ(tc.node(1).write_batch_sizes(), std::vector<int>({1}));
  EXPECT_EQ(tc.node(1).updates.load(), 0);
}

TEST(ClientWriteStreamTest, NodeSilent_UpdateDeadlineExceededThenNewStream) {
  TestCluster tc(1, 1);
  ClientOptions options = WriteStreamOptions(tc);
  options.deadline = absl::Milliseconds(300);
  options.max_attempts = 1;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park_writes = true;

  UpdateOptions update;
  update.set["k"] = "v";
  const absl::Time start = absl::Now();
  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(1), update);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));

  // The silent call was cancelled; the next write opens another one.
  tc.node(0).park_writes = false;
  s = client->Update(kNs, TestId(2), update);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(tc.node(0).write_streams.load(), 2);
}

}  // namespace
}  // namespace sesh

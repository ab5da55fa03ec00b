// sesh::Client against in-process fake nodes (Sessions and Cluster callback
// services on localhost:0).

#include "client/sesh/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace {

constexpr char kNs[] = "app";

class FakeNode;

// The membership all fake nodes report: Topology answers and the epoch in
// every answer's trailing metadata.
class FakeCluster {
 public:
  explicit FakeCluster(int replication_factor) : rf_(replication_factor) {}

  void SetMembers(const std::vector<FakeNode*>& members);
  void SetUp(const std::string& id, bool up);

  uint64_t epoch() {
    absl::MutexLock lock(&mu_);
    return epoch_;
  }

  v1::TopologyResponse Topology(const std::string& self_id) {
    absl::MutexLock lock(&mu_);
    v1::TopologyResponse r;
    r.set_epoch(epoch_);
    r.set_partition_count(kPartitionCount);
    r.set_replication_factor(rf_);
    r.set_self_id(self_id);
    for (const v1::Node& n : nodes_) *r.add_nodes() = n;
    return r;
  }

 private:
  absl::Mutex mu_;
  const int rf_;
  std::vector<v1::Node> nodes_ ABSL_GUARDED_BY(mu_);  // sorted by id
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

// One fake node: counts calls, can fail, park (never answer until released)
// or report ids as missing. Sessions it returns carry the requested id. It
// records the `authorization` metadata of every call, and serves ListByUser
// and DestroyByUser from counters (see the knobs).
class FakeNode {
 public:
  // `credentials` null: plaintext.
  FakeNode(std::string id, FakeCluster* cluster,
           std::shared_ptr<grpc::ServerCredentials> credentials = nullptr)
      : id_(std::move(id)),
        cluster_(cluster),
        sessions_(this),
        cluster_service_(this) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("localhost:0",
                             credentials != nullptr
                                 ? credentials
                                 : grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&sessions_);
    builder.RegisterService(&cluster_service_);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("localhost:", port);
  }
  ~FakeNode() { Stop(); }

  void Stop() {
    if (server_ == nullptr) return;
    ReleaseParked(grpc::Status(grpc::StatusCode::CANCELLED, "stopping"));
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_->Wait();
    server_.reset();
  }

  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }

  void AddMissing(const std::string& id) {
    absl::MutexLock lock(&mu_);
    missing_.insert(id);
  }
  void ReleaseParked(grpc::Status status = grpc::Status::OK) {
    std::vector<grpc::ServerUnaryReactor*> parked;
    {
      absl::MutexLock lock(&mu_);
      parked.swap(parked_);
    }
    for (grpc::ServerUnaryReactor* r : parked) r->Finish(status);
  }
  int parked() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(parked_.size());
  }
  // Ids received by Get and BatchGet.
  std::vector<std::string> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  // The `authorization` metadata ("" when absent) of every unary call
  // (Topology and NodeStats included) and of every StreamGet call.
  std::vector<std::string> unary_authorizations() {
    absl::MutexLock lock(&mu_);
    return unary_authorizations_;
  }
  std::vector<std::string> stream_authorizations() {
    absl::MutexLock lock(&mu_);
    return stream_authorizations_;
  }
  std::vector<v1::ListByUserRequest> list_requests() {
    absl::MutexLock lock(&mu_);
    return list_requests_;
  }
  std::vector<v1::DestroyRequest> destroy_requests() {
    absl::MutexLock lock(&mu_);
    return destroy_requests_;
  }
  std::vector<v1::DestroyByUserRequest> destroy_by_user_requests() {
    absl::MutexLock lock(&mu_);
    return destroy_by_user_requests_;
  }

  // Knobs.
  std::atomic<int> fail_next_unavailable{0};  // next N Sessions calls
  std::atomic<bool> park{false};              // Get, BatchGet, StreamGet
  // StreamGet answers UNIMPLEMENTED, as a node older than it does.
  std::atomic<bool> no_streams{false};
  // Topology answers UNAUTHENTICATED, as a node that does not know the token.
  std::atomic<bool> refuse_token{false};
  // ListByUser lists list_total sessions (handles "h0", "h1", ...),
  // list_page_size a page; with list_endless every page says more follow.
  std::atomic<int> list_total{0};
  std::atomic<int> list_page_size{2};
  std::atomic<bool> list_endless{false};
  // DestroyByUser destroys up to destroy_per_call of destroy_remaining
  // sessions per call; with destroy_endless it always reports more.
  std::atomic<int> destroy_remaining{0};
  std::atomic<int> destroy_per_call{3};
  std::atomic<bool> destroy_endless{false};
  // Non-zero: the DestroyByUser call of this number (from 1) fails with
  // UNAVAILABLE.
  std::atomic<int> destroy_fail_call{0};

  // Counters.
  std::atomic<int> gets{0};
  std::atomic<int> batch_gets{0};
  std::atomic<int> streams{0};          // StreamGet calls
  std::atomic<int> stream_messages{0};  // requests received on them
  std::atomic<int> stream_refusals{0};  // StreamGet calls refused (no_streams)
  std::atomic<int> updates{0};
  std::atomic<int> creates{0};
  std::atomic<int> topologies{0};

 private:
  // One StreamGet call: answers each request like BatchGet, in order. An
  // injected failure ends the call with UNAVAILABLE; while `park` is set a
  // request gets no answer (the client's deadline then cancels the call).
  class GetStream final
      : public grpc::ServerBidiReactor<v1::BatchGetRequest,
                                       v1::BatchGetResponse> {
   public:
    explicit GetStream(FakeNode* node) : node_(node) { StartRead(&req_); }

    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      node_->stream_messages++;
      node_->Record({req_.ids().begin(), req_.ids().end()});
      if (node_->TakeFailure()) {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected"));
        return;
      }
      if (node_->park.load()) {
        bool cancelled;
        {
          absl::MutexLock lock(&mu_);
          cancelled = cancelled_;
          parked_ = !cancelled;
        }
        if (cancelled) Finish(grpc::Status::CANCELLED);
        return;
      }
      resp_.Clear();
      resp_.set_epoch(node_->cluster_->epoch());
      node_->FillBatch(req_, &resp_);
      StartWrite(&resp_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::CANCELLED);
        return;
      }
      StartRead(&req_);
    }
    void OnCancel() override {
      bool parked;
      {
        absl::MutexLock lock(&mu_);
        cancelled_ = true;
        parked = parked_;
        parked_ = false;
      }
      if (parked) Finish(grpc::Status::CANCELLED);
    }
    void OnDone() override { delete this; }

   private:
    FakeNode* const node_;
    v1::BatchGetRequest req_;
    v1::BatchGetResponse resp_;
    absl::Mutex mu_;
    bool parked_ ABSL_GUARDED_BY(mu_) = false;
    bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  };

  class SessionsImpl final : public v1::Sessions::CallbackService {
   public:
    explicit SessionsImpl(FakeNode* node) : node_(node) {}

    grpc::ServerBidiReactor<v1::BatchGetRequest, v1::BatchGetResponse>*
    StreamGet(grpc::CallbackServerContext* ctx) override {
      if (node_->no_streams.load()) {
        node_->stream_refusals++;
        // The generated default: what a node without StreamGet answers.
        return v1::Sessions::CallbackService::StreamGet(ctx);
      }
      node_->streams++;
      {
        absl::MutexLock lock(&node_->mu_);
        node_->stream_authorizations_.push_back(AuthorizationOf(ctx));
      }
      ctx->AddTrailingMetadata("x-sesh-epoch",
                               absl::StrCat(node_->cluster_->epoch()));
      return new GetStream(node_);
    }

    grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                  const v1::GetRequest* req,
                                  v1::GetResponse* resp) override {
      node_->gets++;
      node_->Record({req->id()});
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      if (node_->missing(req->id())) {
        reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no"));
        return reactor;
      }
      node_->Fill(req->namespace_(), req->id(), resp->mutable_session());
      return node_->FinishOrPark(reactor);
    }

    grpc::ServerUnaryReactor* BatchGet(grpc::CallbackServerContext* ctx,
                                       const v1::BatchGetRequest* req,
                                       v1::BatchGetResponse* resp) override {
      node_->batch_gets++;
      node_->Record({req->ids().begin(), req->ids().end()});
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      node_->FillBatch(*req, resp);
      return node_->FinishOrPark(reactor);
    }

    grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                     const v1::UpdateRequest* req,
                                     v1::UpdateResponse* resp) override {
      node_->updates++;
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      node_->Fill(req->namespace_(), req->id(), resp->mutable_session());
      for (const auto& [k, v] : req->set()) {
        (*resp->mutable_session()->mutable_attributes())[k] = v;
      }
      return node_->FinishOrPark(reactor);
    }

    grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                     const v1::CreateRequest* req,
                                     v1::CreateResponse* resp) override {
      node_->creates++;
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      node_->Fill(req->namespace_(), EncodeId(NewRawId()),
                  resp->mutable_session());
      resp->mutable_session()->set_user_id(req->user_id());
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

    grpc::ServerUnaryReactor* Touch(grpc::CallbackServerContext* ctx,
                                    const v1::TouchRequest* req,
                                    v1::TouchResponse* resp) override {
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      resp->set_expires_at_ms(1234);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

    grpc::ServerUnaryReactor* Destroy(grpc::CallbackServerContext* ctx,
                                      const v1::DestroyRequest* req,
                                      v1::DestroyResponse* resp) override {
      {
        absl::MutexLock lock(&node_->mu_);
        node_->destroy_requests_.push_back(*req);
      }
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

    // Pages of list_total sessions; the page token is the index of the
    // page's first session.
    grpc::ServerUnaryReactor* ListByUser(
        grpc::CallbackServerContext* ctx, const v1::ListByUserRequest* req,
        v1::ListByUserResponse* resp) override {
      {
        absl::MutexLock lock(&node_->mu_);
        node_->list_requests_.push_back(*req);
      }
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure()) return Fail(reactor);
      int first = 0;
      if (!req->page_token().empty() &&
          !absl::SimpleAtoi(req->page_token(), &first)) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token"));
        return reactor;
      }
      const int total = node_->list_total.load();
      const int end = std::min(total, first + node_->list_page_size.load());
      for (int i = first; i < end; ++i) {
        v1::Session* s = resp->add_sessions();
        s->set_handle(absl::StrCat("h", i));
        s->set_namespace_(req->namespace_());
        s->set_user_id(req->user_id());
        s->set_created_at_ms(i);
        for (const std::string& name : req->attributes()) {
          (*s->mutable_attributes())[name] = absl::StrCat(name, "-", i);
        }
      }
      if (end < total || node_->list_endless.load()) {
        resp->set_next_page_token(absl::StrCat(end));
      }
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

    grpc::ServerUnaryReactor* DestroyByUser(
        grpc::CallbackServerContext* ctx, const v1::DestroyByUserRequest* req,
        v1::DestroyByUserResponse* resp) override {
      int call;
      {
        absl::MutexLock lock(&node_->mu_);
        node_->destroy_by_user_requests_.push_back(*req);
        call = static_cast<int>(node_->destroy_by_user_requests_.size());
      }
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->TakeFailure() || call == node_->destroy_fail_call.load()) {
        return Fail(reactor);
      }
      const int n = std::min(node_->destroy_remaining.load(),
                             node_->destroy_per_call.load());
      node_->destroy_remaining -= n;
      resp->set_destroyed_count(n);
      resp->set_more(node_->destroy_remaining.load() > 0 ||
                     node_->destroy_endless.load());
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

   private:
    static grpc::ServerUnaryReactor* Fail(grpc::ServerUnaryReactor* reactor) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected"));
      return reactor;
    }

    FakeNode* const node_;
  };

  class ClusterImpl final : public v1::Cluster::CallbackService {
   public:
    explicit ClusterImpl(FakeNode* node) : node_(node) {}

    grpc::ServerUnaryReactor* Topology(grpc::CallbackServerContext* ctx,
                                       const v1::TopologyRequest* req,
                                       v1::TopologyResponse* resp) override {
      node_->topologies++;
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      if (node_->refuse_token.load()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token"));
        return reactor;
      }
      *resp = node_->cluster_->Topology(node_->id_);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

    grpc::ServerUnaryReactor* NodeStats(grpc::CallbackServerContext* ctx,
                                        const v1::NodeStatsRequest* req,
                                        v1::NodeStatsResponse* resp) override {
      grpc::ServerUnaryReactor* reactor = node_->Begin(ctx);
      resp->set_node_id(node_->id_);
      resp->set_requests_served(node_->gets.load());
      resp->set_serving(true);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }

   private:
    FakeNode* const node_;
  };

  static std::string AuthorizationOf(const grpc::CallbackServerContext* ctx) {
    auto it = ctx->client_metadata().find("authorization");
    if (it == ctx->client_metadata().end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  // Every answer carries the epoch, as real nodes' do.
  grpc::ServerUnaryReactor* Begin(grpc::CallbackServerContext* ctx) {
    {
      absl::MutexLock lock(&mu_);
      unary_authorizations_.push_back(AuthorizationOf(ctx));
    }
    ctx->AddTrailingMetadata("x-sesh-epoch", absl::StrCat(cluster_->epoch()));
    return ctx->DefaultReactor();
  }
  bool TakeFailure() {
    int n = fail_next_unavailable.load();
    while (n > 0 && !fail_next_unavailable.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }
  bool missing(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return missing_.count(id) > 0;
  }
  void Record(std::vector<std::string> ids) {
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(static_cast<int>(ids.size()));
    received_.insert(received_.end(), ids.begin(), ids.end());
  }
  void Fill(const std::string& ns, const std::string& id, v1::Session* s) {
    s->set_id(id);
    s->set_namespace_(ns);
    s->set_user_id("user");
    (*s->mutable_attributes())["served_by"] = id_;
    s->set_version(7);
    s->set_expires_at_ms(1234);
  }
  void FillBatch(const v1::BatchGetRequest& req, v1::BatchGetResponse* resp) {
    for (const std::string& id : req.ids()) {
      v1::BatchGetResult* r = resp->add_results();
      if (missing(id)) {
        r->set_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
        r->set_message("no");
      } else {
        Fill(req.namespace_(), id, r->mutable_session());
      }
    }
  }
  grpc::ServerUnaryReactor* FinishOrPark(grpc::ServerUnaryReactor* reactor) {
    if (park.load()) {
      absl::MutexLock lock(&mu_);
      parked_.push_back(reactor);
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  const std::string id_;
  FakeCluster* const cluster_;
  SessionsImpl sessions_;
  ClusterImpl cluster_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;

  absl::Mutex mu_;
  std::set<std::string> missing_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc::ServerUnaryReactor*> parked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> received_ ABSL_GUARDED_BY(mu_);
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unary_authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> stream_authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListByUserRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DestroyRequest> destroy_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DestroyByUserRequest> destroy_by_user_requests_
      ABSL_GUARDED_BY(mu_);
};

void FakeCluster::SetMembers(const std::vector<FakeNode*>& members) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  nodes_.clear();
  for (FakeNode* m : members) {
    v1::Node n;
    n.set_id(m->id());
    n.set_address(m->address());
    n.set_up(true);
    nodes_.push_back(n);
    ids.push_back(m->id());
  }
  std::sort(
      nodes_.begin(), nodes_.end(),
      [](const v1::Node& a, const v1::Node& b) { return a.id() < b.id(); });
  epoch_ =
      MembershipEpoch(ids, std::min(rf_, static_cast<int>(members.size())));
}

// `n` fake nodes "n1".."n<n>", all members, serving with `credentials`
// (null: plaintext).
class TestCluster {
 public:
  TestCluster(int n, int replication_factor,
              std::shared_ptr<grpc::ServerCredentials> credentials = nullptr)
      : cluster_(replication_factor) {
    std::vector<FakeNode*> members;
    for (int i = 1; i <= n; ++i) {
      nodes_.push_back(std::make_unique<FakeNode>(absl::StrCat("n", i),
                                                  &cluster_, credentials));
      members.push_back(nodes_.back().get());
    }
    cluster_.SetMembers(members);
    replication_factor_ = replication_factor;
  }

  FakeNode& node(int i) { return *nodes_[i]; }
  FakeCluster& cluster() { return cluster_; }

  // Tests of the unary calls; the StreamGet tests turn stream_gets on.
  ClientOptions Options() {
    ClientOptions options;
    options.insecure = true;
    for (const auto& n : nodes_) options.seeds.push_back(n->address());
    options.stream_gets = false;
    return options;
  }

  std::unique_ptr<Client> Connect(ClientOptions options) {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<Client> Connect() { return Connect(Options()); }

  // Placement of the first `members` nodes.
  PlacementMap Placement(int members) {
    std::vector<std::string> ids;
    for (int i = 0; i < members; ++i) ids.push_back(nodes_[i]->id());
    return *PlacementMap::Build(ids, replication_factor_);
  }

 private:
  FakeCluster cluster_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
  int replication_factor_ = 1;
};

// Text id number `i` (deterministic bytes).
std::string TestId(uint64_t i) {
  std::string raw(kRawIdSize, 'x');
  std::memcpy(&raw[0], &i, sizeof(i));
  return EncodeId(raw);
}

// The first TestId(>= start) whose primary under `placement` is `node_id`.
std::string IdOwnedBy(const PlacementMap& placement, const std::string& node_id,
                      uint64_t start = 0) {
  for (uint64_t i = start;; ++i) {
    std::string id = TestId(i);
    if (placement.nodes()[placement.Primary(PartitionOf(*DecodeId(id)))] ==
        node_id) {
      return id;
    }
  }
}

template <typename Pred>
bool PollUntil(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(ClientTest, Connect_NoSeedAnswers_Unavailable) {
  std::string address;
  {
    FakeCluster cluster(1);
    FakeNode gone("n1", &cluster);
    address = gone.address();
  }
  ClientOptions options;
  options.insecure = true;
  options.seeds = {address};
  options.deadline = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ClientTest, Connect_NoSeeds_InvalidArgument) {
  EXPECT_EQ(Client::Connect(ClientOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientTest, Get_OwnerNode_NoOtherNodeCalled) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  PlacementMap placement = tc.Placement(3);
  for (int owner = 0; owner < 3; ++owner) {
    const std::string id = IdOwnedBy(placement, tc.node(owner).id());
    std::vector<int> before;
    for (int i = 0; i < 3; ++i) before.push_back(tc.node(i).gets.load());

    absl::StatusOr<SessionData> s = client->Get(kNs, id);

    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->id, id);
    EXPECT_EQ(s->namespace_, kNs);
    EXPECT_EQ(s->attributes["served_by"], tc.node(owner).id());
    EXPECT_EQ(*client->OwnerOf(id), tc.node(owner).id());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(tc.node(i).gets.load() - before[i], i == owner ? 1 : 0)
          << "node " << i << ", owner " << owner;
      EXPECT_EQ(tc.node(i).batch_gets.load(), 0);
    }
  }
}

TEST(ClientTest, Get_MalformedId_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Get(kNs, "not-an-id").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tc.node(0).gets.load(), 0);
}

// A Get to a node that does not answer fails with DEADLINE_EXCEEDED at the
// client's `deadline`, not much later.
void ExpectGetFailsAtDeadline(Client* client, absl::Duration deadline) {
  const absl::Time start = absl::Now();
  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(1));
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded)
      << s.status();
  EXPECT_GE(elapsed, deadline - absl::Milliseconds(20));
  EXPECT_LT(elapsed, deadline + absl::Milliseconds(1200));
}

TEST(ClientTest, Get_ServerSlowerThanDeadline_DeadlineExceededAtDeadline) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.deadline = absl::Milliseconds(300);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  ExpectGetFailsAtDeadline(client.get(), absl::Milliseconds(300));
  tc.node(0).ReleaseParked();
}

TEST(ClientTest, Update_ServerSlowerThanDeadline_DeadlineExceededOneCall) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.deadline = absl::Milliseconds(300);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  const absl::Time start = absl::Now();
  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(1), {});
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(280));
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
  EXPECT_EQ(tc.node(0).updates.load(), 1);
  tc.node(0).ReleaseParked();
}

TEST(ClientTest, Get_UnavailableOnce_RetriedAndSucceeds) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).fail_next_unavailable = 1;

  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(1));

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, TestId(1));
  EXPECT_EQ(tc.node(0).gets.load(), 2);
}

TEST(ClientTest, Update_UnavailableOnce_NotRetried) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).fail_next_unavailable = 1;
  UpdateOptions update;
  update.set["k"] = "v";

  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(1), update);

  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).updates.load(), 1);
}

TEST(ClientTest, Update_PrimaryUnreachable_SentOnceToNextReplica) {
  TestCluster tc(2, 2);
  ClientOptions options;
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
  EXPECT_EQ(tc.node(1).updates.load(), 1);
}

TEST(ClientTest, Get_PrimaryUnreachable_ServedByNextReplica) {
  TestCluster tc(2, 2);
  ClientOptions options;
  options.insecure = true;
  options.seeds = {tc.node(1).address()};
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  const std::string id = IdOwnedBy(tc.Placement(2), "n1");
  tc.node(0).Stop();

  absl::StatusOr<SessionData> s = client->Get(kNs, id);

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->attributes["served_by"], "n2");
}

TEST(ClientTest, Get_EpochChanged_RefetchesTopologyAndRoutesByNewMap) {
  TestCluster tc(3, 1);
  tc.cluster().SetMembers({&tc.node(0), &tc.node(1)});
  ClientOptions options;
  options.insecure = true;
  options.seeds = {tc.node(0).address()};
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  // Gets the node answered (single Gets go over StreamGet by default).
  auto reads = [&](int n) {
    return tc.node(n).gets.load() + tc.node(n).stream_messages.load();
  };
  // Owned by n3 once it joins; by n1 or n2 before.
  const std::string id = IdOwnedBy(tc.Placement(3), "n3");
  ASSERT_TRUE(client->Get(kNs, id).ok());
  EXPECT_EQ(reads(2), 0);
  const int topologies_before =
      tc.node(0).topologies + tc.node(1).topologies + tc.node(2).topologies;

  tc.cluster().SetMembers({&tc.node(0), &tc.node(1), &tc.node(2)});

  EXPECT_TRUE(PollUntil([&] {
    EXPECT_TRUE(client->Get(kNs, id).ok());
    return reads(2) > 0;
  }));
  EXPECT_GT(
      tc.node(0).topologies + tc.node(1).topologies + tc.node(2).topologies,
      topologies_before);
  EXPECT_EQ(*client->OwnerOf(id), "n3");
  const int n3_reads = reads(2);
  ASSERT_TRUE(client->Get(kNs, id).ok());
  EXPECT_EQ(reads(2), n3_reads + 1);
}

TEST(ClientTest, BatchGet_IdsOnThreeNodes_OneRpcPerNodeResultsInOrder) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  PlacementMap placement = tc.Placement(3);
  std::vector<std::string> ids;
  for (uint64_t round = 0; round < 3; ++round) {
    for (int n = 0; n < 3; ++n) {
      ids.push_back(IdOwnedBy(placement, tc.node(n).id(), round * 1000));
    }
  }
  const std::string missing = IdOwnedBy(placement, "n2", 5000);
  tc.node(1).AddMissing(missing);
  ids.insert(ids.begin() + 4, missing);
  ids.insert(ids.begin() + 2, "malformed");

  std::vector<absl::StatusOr<SessionData>> results = client->BatchGet(kNs, ids);

  ASSERT_EQ(results.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == "malformed") {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
    } else if (ids[i] == missing) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound);
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, ids[i]);
    }
  }
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(tc.node(n).batch_gets.load(), 1);
    for (const std::string& id : tc.node(n).received()) {
      EXPECT_EQ(*client->OwnerOf(id), tc.node(n).id());
    }
  }
}

TEST(ClientTest, GetAsync_SlotBusy_QueuedGetsLeaveInOneBatch) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);  // only completions send
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  tc.node(0).AddMissing(TestId(7));
  constexpr int kGets = 20;
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::BlockingCounter done(kGets);

  for (int i = 0; i < kGets; ++i) {
    client->GetAsync(kNs, TestId(i), true,
                     [&results, &done, i](absl::StatusOr<SessionData> s) {
                       results[i] = std::move(s);
                       done.DecrementCount();
                     });
  }
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_sizes(), std::vector<int>({1, kGets - 1}));
  for (int i = 0; i < kGets; ++i) {
    if (i == 7) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound);
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, TestId(i));
    }
  }
}

TEST(ClientTest, GetAsync_NodeQueueFull_ResourceExhaustedWithoutRpc) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);  // only completions send
  options.deadline = absl::Seconds(10);
  options.max_queued_gets_per_node = 2;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  constexpr int kGets = 4;  // the first sent (parked), 2 queued, 1 refused
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::Notification refused;
  absl::BlockingCounter done(kGets);

  for (int i = 0; i < kGets; ++i) {
    client->GetAsync(
        kNs, TestId(i), true,
        [&results, &refused, &done, i](absl::StatusOr<SessionData> s) {
          results[i] = std::move(s);
          if (i == kGets - 1) refused.Notify();
          done.DecrementCount();
        });
  }
  // Refused while the others still wait.
  ASSERT_TRUE(refused.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(results[kGets - 1].status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  for (int i = 0; i < kGets - 1; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->id, TestId(i));
  }
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_sizes(), std::vector<int>({1, 2}));
}

TEST(ClientTest, GetAsync_ManyThreads_FewerRpcsThanGetsEachCallerOwnResult) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  constexpr int kGets = kThreads * kPerThread;
  for (int i = 0; i < kGets; i += 10) tc.node(0).AddMissing(TestId(i));
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::BlockingCounter issued(kThreads);
  absl::BlockingCounter done(kGets);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kPerThread; ++j) {
        const int i = t * kPerThread + j;
        client->GetAsync(kNs, TestId(i), true,
                         [&results, &done, i](absl::StatusOr<SessionData> s) {
                           results[i] = std::move(s);
                           done.DecrementCount();
                         });
      }
      issued.DecrementCount();
    });
  }
  issued.Wait();  // every Get is sent (the first, parked) or queued
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  // 1 parked Get, then the other 199 in batches of max_batch (64).
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 4);
  for (int i = 0; i < kGets; ++i) {
    if (i % 10 == 0) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound) << i;
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, TestId(i));
    }
  }
}

// 8 threads each Get 50 ids in turn (every 7th missing on every node);
// returns how many got a result other than their own.
constexpr int kGetThreads = 8;
constexpr int kGetsPerThread = 50;
int ManyThreadsGetWrong(TestCluster& tc, Client* client) {
  for (int i = 0; i < kGetThreads * kGetsPerThread; i += 7) {
    for (int n = 0; n < 3; ++n) tc.node(n).AddMissing(TestId(i));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kGetThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kGetsPerThread; ++j) {
        const int i = t * kGetsPerThread + j;
        absl::StatusOr<SessionData> s = client->Get(kNs, TestId(i));
        const bool right =
            i % 7 == 0 ? s.status().code() == absl::StatusCode::kNotFound
                       : s.ok() && s->id == TestId(i);
        if (!right) wrong++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return wrong.load();
}

TEST(ClientTest, Get_ManyThreadsSync_EachCallerGetsOwnResult) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(ManyThreadsGetWrong(tc, client.get()), 0);
  int rpcs = 0;
  for (int n = 0; n < 3; ++n) {
    rpcs += tc.node(n).gets.load() + tc.node(n).batch_gets.load();
  }
  EXPECT_LE(rpcs, kGetThreads * kGetsPerThread);
}

TEST(ClientTest, Get_BatchSlotBusy_SentAfterMaxBatchWait) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Milliseconds(50);
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  absl::BlockingCounter done(2);
  auto count = [&done](absl::StatusOr<SessionData> s) {
    EXPECT_TRUE(s.ok()) << s.status();
    done.DecrementCount();
  };

  client->GetAsync(kNs, TestId(1), true, count);
  const absl::Time queued_at = absl::Now();
  client->GetAsync(kNs, TestId(2), true, count);
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 2; }));

  EXPECT_GE(absl::Now() - queued_at, absl::Milliseconds(50));
  tc.node(0).ReleaseParked();
  done.Wait();
}

ClientOptions StreamOptions(TestCluster& tc) {
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  return options;
}

TEST(ClientTest, StreamGets_ManyThreads_OneStreamPerNodeCarriesEveryBatch) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(ManyThreadsGetWrong(tc, client.get()), 0);
  int messages = 0;
  int ids = 0;
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(tc.node(n).streams.load(), 1) << "node " << n;
    EXPECT_EQ(tc.node(n).gets.load(), 0) << "node " << n;
    EXPECT_EQ(tc.node(n).batch_gets.load(), 0) << "node " << n;
    messages += tc.node(n).stream_messages.load();
    ids += static_cast<int>(tc.node(n).received().size());
  }
  EXPECT_EQ(ids, kGetThreads * kGetsPerThread);
  EXPECT_LE(messages, kGetThreads * kGetsPerThread);
}

TEST(ClientTest, StreamGets_NodeWithoutStreamGet_FallsBackToBatchGetForGood) {
  TestCluster tc(1, 1);
  tc.node(0).no_streams = true;
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);

  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SessionData> s = client->Get(kNs, TestId(i));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->id, TestId(i));
  }
  EXPECT_EQ(tc.node(0).stream_refusals.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 3);
}

TEST(ClientTest, StreamGets_StreamEndsWithUnavailable_GetRetriedOnANewStream) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  tc.node(0).fail_next_unavailable = 1;

  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(2));

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, TestId(2));
  EXPECT_EQ(tc.node(0).streams.load(), 2);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 3);
}

TEST(ClientTest, StreamGets_NodeSilent_DeadlineExceededAtDeadlineThenNewStream) {
  TestCluster tc(1, 1);
  ClientOptions options = StreamOptions(tc);
  options.deadline = absl::Milliseconds(300);
  options.max_attempts = 1;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  ExpectGetFailsAtDeadline(client.get(), absl::Milliseconds(300));
  // The silent call was cancelled; the next Get opens another one.
  tc.node(0).park = false;
  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(2));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(tc.node(0).streams.load(), 2);
}

TEST(ClientTest, Create_ThreeNodes_RoundRobin) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  CreateOptions create;
  create.user_id = "alice";
  create.idle_timeout_ms = 60000;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SessionData> s = client->Create(kNs, create);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->user_id, "alice");
    EXPECT_TRUE(DecodeId(s->id).ok());
  }
  for (int n = 0; n < 3; ++n) EXPECT_EQ(tc.node(n).creates.load(), 1);
}

TEST(ClientTest, Topology_ThreeNodes_ReportsMembership) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  absl::StatusOr<TopologyInfo> topo = client->Topology();

  ASSERT_TRUE(topo.ok()) << topo.status();
  EXPECT_EQ(topo->epoch, tc.Placement(3).epoch());
  EXPECT_EQ(topo->replication_factor, 2);
  EXPECT_EQ(topo->partition_count, kPartitionCount);
  ASSERT_EQ(topo->nodes.size(), 3u);
  EXPECT_EQ(topo->nodes[2].id, "n3");
  EXPECT_EQ(topo->nodes[2].address, tc.node(2).address());
  EXPECT_TRUE(topo->nodes[2].up);
}

TEST(ClientTest, NodeStats_KnownAndUnknownNode) {
  TestCluster tc(2, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  absl::StatusOr<NodeStatsInfo> stats = client->NodeStats("n2");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->node_id, "n2");
  EXPECT_TRUE(stats->serving);
  EXPECT_EQ(client->NodeStats("n9").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ClientTest, Touch_Owner_ReturnsExpiresAt) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<int64_t> expires = client->Touch(kNs, TestId(3));
  ASSERT_TRUE(expires.ok()) << expires.status();
  EXPECT_EQ(*expires, 1234);
}

// --- Token -----------------------------------------------------------------

constexpr char kToken[] = "tok-3k9_Zq";
constexpr char kBearer[] = "Bearer tok-3k9_Zq";

TEST(ClientTest, Token_Set_EveryUnaryCallCarriesBearer) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.token = kToken;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Create(kNs, CreateOptions{"u", {}, 1000}).ok());
  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Touch(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Destroy(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->ListByUser(kNs, "u").ok());
  ASSERT_TRUE(client->DestroyByUser(kNs, "u").ok());
  ASSERT_TRUE(client->DestroyByHandle(kNs, "u", "h0").ok());
  ASSERT_TRUE(client->Topology().ok());
  ASSERT_TRUE(client->NodeStats("n1").ok());

  // The bootstrap Topology, then the nine calls above.
  EXPECT_EQ(tc.node(0).unary_authorizations(),
            std::vector<std::string>(10, kBearer));
  EXPECT_EQ(tc.node(0).gets.load(), 1);
}

TEST(ClientTest, Token_Set_StreamGetCarriesBearer) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  options.token = kToken;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Get(kNs, TestId(2)).ok());

  EXPECT_EQ(tc.node(0).streams.load(), 1);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 2);
  EXPECT_EQ(tc.node(0).stream_authorizations(),
            std::vector<std::string>{kBearer});
  EXPECT_EQ(tc.node(0).gets.load(), 0);
}

TEST(ClientTest, Token_Empty_NoAuthorizationMetadata) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());

  EXPECT_EQ(tc.node(0).unary_authorizations(), std::vector<std::string>{""});
  EXPECT_EQ(tc.node(0).stream_authorizations(), std::vector<std::string>{""});
}

TEST(ClientTest, Connect_TokenNotVisibleAscii_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  for (const char* token : {"tok en", "token\n", "tok\x7f", "t\xc3\xa9"}) {
    ClientOptions options = tc.Options();
    options.token = token;
    EXPECT_EQ(Client::Connect(options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(token);
  }
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTest, Connect_SeedRefusesToken_Unauthenticated) {
  TestCluster tc(2, 1);
  tc.node(0).refuse_token = true;
  tc.node(1).refuse_token = true;
  ClientOptions options = tc.Options();
  options.token = kToken;

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
  EXPECT_EQ(tc.node(1).topologies.load(), 1);
}

// --- TLS options
// --------------------------------------------------------------

TEST(ClientTest, Connect_NeitherTlsCaNorInsecure_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.insecure = false;

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTest, Connect_InconsistentTlsOptions_InvalidArgument) {
  constexpr char kPem[] = "-----BEGIN CERTIFICATE-----\nAA==\n";
  ClientOptions base;
  base.seeds = {"localhost:1"};
  base.tls_ca_pem = kPem;

  ClientOptions insecure_with_ca = base;
  insecure_with_ca.insecure = true;
  ClientOptions insecure_with_name;
  insecure_with_name.seeds = base.seeds;
  insecure_with_name.insecure = true;
  insecure_with_name.tls_server_name = "n1";
  ClientOptions cert_without_key = base;
  cert_without_key.tls_cert_pem = kPem;
  ClientOptions key_without_cert = base;
  key_without_cert.tls_key_pem = kPem;
  ClientOptions ca_file_name = base;
  ca_file_name.tls_ca_pem = "/etc/sesh/ca.pem";

  for (const ClientOptions* options :
       {&insecure_with_ca, &insecure_with_name, &cert_without_key,
        &key_without_cert, &ca_file_name}) {
    EXPECT_EQ(Client::Connect(*options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- LoadTlsFiles
// ---------------------------------------------------------------

std::string WriteTestFile(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(LoadTlsFilesTest, AllFiles_ReadIntoOptionsTokenFirstLineTrimmed) {
  const std::string ca = WriteTestFile("l1-ca.pem", "-----BEGIN CA-----\n");
  const std::string cert =
      WriteTestFile("l1-cert.pem", "-----BEGIN CERT-----\n");
  const std::string key = WriteTestFile("l1-key.pem", "-----BEGIN KEY-----\n");
  const std::string token =
      WriteTestFile("l1-token", " \tabc-DEF_123 \r\nsecond line\n");
  ClientOptions base;
  base.seeds = {"localhost:1"};

  absl::StatusOr<ClientOptions> options =
      LoadTlsFiles(base, ca, cert, key, token);

  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->seeds, base.seeds);
  EXPECT_EQ(options->tls_ca_pem, "-----BEGIN CA-----\n");
  EXPECT_EQ(options->tls_cert_pem, "-----BEGIN CERT-----\n");
  EXPECT_EQ(options->tls_key_pem, "-----BEGIN KEY-----\n");
  EXPECT_EQ(options->token, "abc-DEF_123");
}

TEST(LoadTlsFilesTest, EmptyNames_FieldsKept) {
  ClientOptions base;
  base.tls_ca_pem = "ca";
  base.token = "t";

  absl::StatusOr<ClientOptions> options = LoadTlsFiles(base, "", "", "", "");

  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->tls_ca_pem, "ca");
  EXPECT_EQ(options->token, "t");
}

TEST(LoadTlsFilesTest, BadFiles_InvalidArgument) {
  const std::string missing = testing::TempDir() + "l2-missing";
  const std::string not_pem = WriteTestFile("l2-notpem", "just text\n");
  const std::string empty_token = WriteTestFile("l2-token", "  \nsecond\n");
  const std::string pem = WriteTestFile("l2-ca.pem", "-----BEGIN CA-----\n");
  for (const auto& files :
       std::vector<std::vector<std::string>>{{missing, "", "", ""},
                                             {not_pem, "", "", ""},
                                             {pem, not_pem, pem, ""},
                                             {pem, pem, not_pem, ""},
                                             {pem, "", "", missing},
                                             {pem, "", "", empty_token}}) {
    absl::StatusOr<ClientOptions> options =
        LoadTlsFiles(ClientOptions(), files[0], files[1], files[2], files[3]);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument)
        << absl::StrJoin(files, " ");
  }
}

// --- TLS
// ----------------------------------------------------------------------

// Throw-away credentials from tools/gen_certs.sh (nodes n1 and n2), made once
// per directory name under the test's temporary directory.
std::string CertsDir(const std::string& name) {
  static absl::Mutex mu;
  static std::set<std::string>* made = new std::set<std::string>();
  const std::string dir = testing::TempDir() + name;
  absl::MutexLock lock(&mu);
  if (made->insert(name).second) {
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    EXPECT_TRUE(srcdir != nullptr && workspace != nullptr);
    const std::string command =
        absl::StrCat("bash '", srcdir, "/", workspace, "/tools/gen_certs.sh' '",
                     dir, "' n1 n2");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  return dir;
}

// A node's port: TLS with n1's certificate; with `client_ca`, it requires a
// client certificate signed by it.
std::shared_ptr<grpc::ServerCredentials> NodeTls(const std::string& dir,
                                                 bool require_client_cert) {
  grpc::SslServerCredentialsOptions options(
      require_client_cert
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (require_client_cert)
    options.pem_root_certs = ReadTestFile(dir + "/ca.pem");
  options.pem_key_cert_pairs.push_back(
      {ReadTestFile(dir + "/n1.key"), ReadTestFile(dir + "/n1.pem")});
  return grpc::SslServerCredentials(options);
}

// tc's options for TLS, trusting the CA of `dir`, with its test token.
ClientOptions TlsOptions(TestCluster& tc, const std::string& dir) {
  ClientOptions options = tc.Options();
  options.insecure = false;
  options.deadline = absl::Seconds(1);
  absl::StatusOr<ClientOptions> loaded =
      LoadTlsFiles(options, dir + "/ca.pem", "", "", dir + "/token.test");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *std::move(loaded) : options;
}

TEST(ClientTlsTest, ClientTrustsNodeCa_UnaryAndStreamCallsSucceed) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = TlsOptions(tc, dir);
  const std::string bearer = "Bearer " + ReadTestFile(dir + "/token.test");

  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<SessionData> unary = client->Get(kNs, TestId(1));
  options.stream_gets = true;
  std::unique_ptr<Client> streaming = tc.Connect(options);
  ASSERT_NE(streaming, nullptr);
  absl::StatusOr<SessionData> streamed = streaming->Get(kNs, TestId(2));

  ASSERT_TRUE(unary.ok()) << unary.status();
  EXPECT_EQ(unary->id, TestId(1));
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(streamed->id, TestId(2));
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 1);
  EXPECT_EQ(tc.node(0).unary_authorizations(),
            std::vector<std::string>(3, bearer));
  EXPECT_EQ(tc.node(0).stream_authorizations(),
            std::vector<std::string>{bearer});
}

TEST(ClientTlsTest, InsecureClient_Unavailable) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = tc.Options();
  options.deadline = absl::Seconds(1);

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTlsTest, NodeOfAnotherCa_Unavailable) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = TlsOptions(tc, CertsDir("tls-other"));

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTlsTest, ServerName_CheckedInsteadOfHost) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions named_n1 = TlsOptions(tc, dir);
  named_n1.tls_server_name = "n1";  // a name in n1's certificate
  ClientOptions named_n2 = TlsOptions(tc, dir);
  named_n2.tls_server_name = "n2";  // not in it

  std::unique_ptr<Client> client = tc.Connect(named_n1);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get(kNs, TestId(1)).ok());
  EXPECT_EQ(Client::Connect(named_n2).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
}

TEST(ClientTlsTest, NodeRequiresClientCert_OnlyClientWithCertConnects) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/true));
  ClientOptions without = TlsOptions(tc, dir);
  absl::StatusOr<ClientOptions> with =
      LoadTlsFiles(without, "", dir + "/client.pem", dir + "/client.key", "");
  ASSERT_TRUE(with.ok()) << with.status();

  EXPECT_EQ(Client::Connect(without).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
  std::unique_ptr<Client> client = tc.Connect(*with);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get(kNs, TestId(1)).ok());
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
}

// --- Pages and rounds
// ---------------------------------------------------------

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

#include "client/internal/fake_node.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/session_id.h"

namespace sesh {
namespace testing {
namespace {

// The `authorization` metadata of a call; "" when absent.
std::string AuthorizationOf(const grpc::CallbackServerContext* ctx) {
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

// --- FakeCluster ------------------------------------------------------------

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

v1::TopologyResponse FakeCluster::Topology(const std::string& self_id) {
  absl::MutexLock lock(&mu_);
  v1::TopologyResponse r;
  r.set_epoch(epoch_);
  r.set_partition_count(kPartitionCount);
  r.set_replication_factor(rf_);
  r.set_self_id(self_id);
  for (const v1::Node& n : nodes_) *r.add_nodes() = n;
  return r;
}

// --- FakeNode's services ----------------------------------------------------

// One StreamGet call: answers each request like BatchGet, in order. An
// injected failure ends the call with UNAVAILABLE; while `park` is set a
// request gets no answer (the client's deadline then cancels the call).
class FakeNode::GetStream final
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

// One StreamWrite call: answers each op as its unary call would, in order
// (an Update or Touch of a missing id: NOT_FOUND). An injected failure ends
// the call with UNAVAILABLE; while `park_writes` is set a message waits for
// ReleaseParkedWrites.
class FakeNode::WriteStream final
    : public grpc::ServerBidiReactor<v1::WriteBatchRequest,
                                     v1::WriteBatchResponse> {
 public:
  explicit WriteStream(FakeNode* node) : node_(node) { StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    node_->write_stream_messages++;
    {
      absl::MutexLock lock(&node_->mu_);
      node_->write_batch_sizes_.push_back(req_.ops_size());
    }
    if (node_->TakeFailure()) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected"));
      return;
    }
    if (node_->park_writes.load()) {
      absl::MutexLock lock(&node_->mu_);
      if (!cancelled_) node_->parked_writes_.push_back(this);
      return;
    }
    Answer();
  }
  // Answers the message read last.
  void Answer() {
    resp_.Clear();
    resp_.set_epoch(node_->cluster_->epoch());
    for (const v1::WriteOp& op : req_.ops()) {
      v1::WriteResult* r = resp_.add_results();
      switch (op.op_case()) {
        case v1::WriteOp::kCreate:
          node_->Fill(op.create().namespace_(), EncodeId(NewRawId()),
                      r->mutable_create()->mutable_session());
          r->mutable_create()->mutable_session()->set_user_id(
              op.create().user_id());
          break;
        case v1::WriteOp::kUpdate: {
          if (node_->missing(op.update().id())) {
            r->set_code(grpc::StatusCode::NOT_FOUND);
            r->set_message("no");
            break;
          }
          v1::Session* session = r->mutable_update()->mutable_session();
          node_->Fill(op.update().namespace_(), op.update().id(), session);
          for (const auto& [k, v] : op.update().set()) {
            (*session->mutable_attributes())[k] = v;
          }
          break;
        }
        case v1::WriteOp::kDestroy: {
          absl::MutexLock lock(&node_->mu_);
          node_->destroy_requests_.push_back(op.destroy());
          r->mutable_destroy();
          break;
        }
        case v1::WriteOp::kTouch:
          if (node_->missing(op.touch().id())) {
            r->set_code(grpc::StatusCode::NOT_FOUND);
            r->set_message("no");
            break;
          }
          r->mutable_touch()->set_expires_at_ms(1234);
          break;
        default:
          r->set_code(grpc::StatusCode::INVALID_ARGUMENT);
          r->set_message("no op");
      }
    }
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
      absl::MutexLock lock(&node_->mu_);
      cancelled_ = true;
      auto& list = node_->parked_writes_;
      auto it = std::find(list.begin(), list.end(), this);
      parked = it != list.end();
      if (parked) list.erase(it);
    }
    if (parked) Finish(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  FakeNode* const node_;
  v1::WriteBatchRequest req_;
  v1::WriteBatchResponse resp_;
  bool cancelled_ = false;  // guarded by node_->mu_
};

class FakeNode::SessionsImpl final : public v1::Sessions::CallbackService {
 public:
  explicit SessionsImpl(FakeNode* node) : node_(node) {}

  grpc::ServerBidiReactor<v1::BatchGetRequest, v1::BatchGetResponse>* StreamGet(
      grpc::CallbackServerContext* ctx) override {
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

  grpc::ServerBidiReactor<v1::WriteBatchRequest, v1::WriteBatchResponse>*
  StreamWrite(grpc::CallbackServerContext* ctx) override {
    if (node_->no_write_streams.load()) {
      node_->write_stream_refusals++;
      return v1::Sessions::CallbackService::StreamWrite(ctx);
    }
    node_->write_streams++;
    ctx->AddTrailingMetadata("x-sesh-epoch",
                             absl::StrCat(node_->cluster_->epoch()));
    return new WriteStream(node_);
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
  grpc::ServerUnaryReactor* ListByUser(grpc::CallbackServerContext* ctx,
                                       const v1::ListByUserRequest* req,
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

class FakeNode::ClusterImpl final : public v1::Cluster::CallbackService {
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

// --- FakeNode ---------------------------------------------------------------

FakeNode::FakeNode(std::string id, FakeCluster* cluster,
                   std::shared_ptr<grpc::ServerCredentials> credentials)
    : id_(std::move(id)),
      cluster_(cluster),
      sessions_(std::make_unique<SessionsImpl>(this)),
      cluster_service_(std::make_unique<ClusterImpl>(this)) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      "localhost:0",
      credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
      &port);
  builder.RegisterService(sessions_.get());
  builder.RegisterService(cluster_service_.get());
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("localhost:", port);
}

FakeNode::~FakeNode() { Stop(); }

void FakeNode::Stop() {
  if (server_ == nullptr) return;
  ReleaseParked(grpc::Status(grpc::StatusCode::CANCELLED, "stopping"));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server_->Wait();
  server_.reset();
}

void FakeNode::ReleaseParked(grpc::Status status) {
  std::vector<grpc::ServerUnaryReactor*> parked;
  {
    absl::MutexLock lock(&mu_);
    parked.swap(parked_);
  }
  for (grpc::ServerUnaryReactor* r : parked) r->Finish(status);
}

int FakeNode::ReleaseParkedWrites() {
  std::vector<WriteStream*> parked;
  {
    absl::MutexLock lock(&mu_);
    parked.swap(parked_writes_);
  }
  for (WriteStream* stream : parked) stream->Answer();
  return static_cast<int>(parked.size());
}

grpc::ServerUnaryReactor* FakeNode::Begin(grpc::CallbackServerContext* ctx) {
  {
    absl::MutexLock lock(&mu_);
    unary_authorizations_.push_back(AuthorizationOf(ctx));
  }
  ctx->AddTrailingMetadata("x-sesh-epoch", absl::StrCat(cluster_->epoch()));
  return ctx->DefaultReactor();
}

bool FakeNode::TakeFailure() {
  int n = fail_next_unavailable.load();
  while (n > 0 && !fail_next_unavailable.compare_exchange_weak(n, n - 1)) {
  }
  return n > 0;
}

bool FakeNode::missing(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return missing_.count(id) > 0;
}

void FakeNode::Record(std::vector<std::string> ids) {
  absl::MutexLock lock(&mu_);
  batch_sizes_.push_back(static_cast<int>(ids.size()));
  received_.insert(received_.end(), ids.begin(), ids.end());
}

void FakeNode::Fill(const std::string& ns, const std::string& id,
                    v1::Session* s) {
  s->set_id(id);
  s->set_namespace_(ns);
  s->set_user_id("user");
  (*s->mutable_attributes())["served_by"] = id_;
  s->set_version(7);
  s->set_expires_at_ms(1234);
}

void FakeNode::FillBatch(const v1::BatchGetRequest& req,
                         v1::BatchGetResponse* resp) {
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

grpc::ServerUnaryReactor* FakeNode::FinishOrPark(
    grpc::ServerUnaryReactor* reactor) {
  if (park.load()) {
    absl::MutexLock lock(&mu_);
    parked_.push_back(reactor);
    return reactor;
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// --- TestCluster and helpers ------------------------------------------------

TestCluster::TestCluster(int n, int replication_factor,
                         std::shared_ptr<grpc::ServerCredentials> credentials)
    : cluster_(replication_factor) {
  std::vector<FakeNode*> members;
  for (int i = 1; i <= n; ++i) {
    nodes_.push_back(std::make_unique<FakeNode>(absl::StrCat("n", i), &cluster_,
                                                credentials));
    members.push_back(nodes_.back().get());
  }
  cluster_.SetMembers(members);
  replication_factor_ = replication_factor;
}

ClientOptions TestCluster::Options() {
  ClientOptions options;
  options.insecure = true;
  for (const auto& n : nodes_) options.seeds.push_back(n->address());
  options.stream_gets = false;
  options.stream_writes = false;
  return options;
}

std::unique_ptr<Client> TestCluster::Connect(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

PlacementMap TestCluster::Placement(int members) {
  std::vector<std::string> ids;
  for (int i = 0; i < members; ++i) ids.push_back(nodes_[i]->id());
  return *PlacementMap::Build(ids, replication_factor_);
}

std::string TestId(uint64_t i) {
  std::string raw(kRawIdSize, 'x');
  std::memcpy(&raw[0], &i, sizeof(i));
  return EncodeId(raw);
}

std::string IdOwnedBy(const PlacementMap& placement, const std::string& node_id,
                      uint64_t start) {
  for (uint64_t i = start;; ++i) {
    std::string id = TestId(i);
    if (placement.nodes()[placement.Primary(PartitionOf(*DecodeId(id)))] ==
        node_id) {
      return id;
    }
  }
}

}  // namespace testing
}  // namespace sesh

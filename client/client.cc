// sesh::Client over gRPC's async API, on the client's own completion queue:
// one channel per node address, a cached topology for routing, a retrying
// call state machine shared by the sync and async forms, and per-node Get
// coalescing.

#include "client/sesh/client.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/internal/get_coalescer.h"
#include "client/internal/grpc_status.h"
#include "client/internal/timer_thread.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace {

using client_internal::FromGrpcStatus;
using client_internal::FromRpcCode;
using client_internal::TimerThread;

// Trailing metadata on every answer of a node: its membership epoch.
constexpr char kEpochKey[] = "x-sesh-epoch";
// gRPC's status when a fail-fast call finds no connection to pick: the call
// was never written to any connection (see "Retries" in client.h).
constexpr absl::string_view kPickFailedMessage =
    "failed to connect to all addresses";
// How long a node that failed in transport is tried last.
constexpr absl::Duration kSuspectFor = absl::Seconds(1);
// Topology refreshes start at most this often.
constexpr absl::Duration kMinRefreshInterval = absl::Milliseconds(100);
// While the topology marks a node down, recheck it this often, so that a
// node that came back is used again.
constexpr absl::Duration kDownNodeRecheck = absl::Seconds(5);

// What became of one coalesced Get.
struct GetOutcome {
  absl::StatusOr<SessionData> session;
  // The node answered (the session, a per-id error, or an RPC error with the
  // node's trailing metadata), as opposed to a transport failure.
  bool node_answered = false;
  // The request provably never left this process.
  bool never_sent = false;
};

// A Get waiting in a node's coalescer.
struct PendingGet {
  std::string id;       // text form
  absl::Time deadline;  // of the caller's attempt
  absl::Time enqueued;  // set by the coalescer
  // Called exactly once, by SendBatch.
  std::function<void(GetOutcome)> done;
};
using GetBatch = client_internal::GetBatch<PendingGet>;

// A batch of several Gets on its way to a node.
struct OutgoingBatch {
  std::vector<std::unique_ptr<PendingGet>> gets;
  std::string ns;
  bool touch = true;
  absl::Time deadline = absl::InfiniteFuture();  // the earliest Get's

  v1::BatchGetRequest Request() const {
    v1::BatchGetRequest req;
    req.set_namespace_(ns);
    req.set_skip_touch(!touch);
    for (const auto& get : gets) req.add_ids(get->id);
    return req;
  }
};
using GetCoalescer = client_internal::GetCoalescer<PendingGet>;

class GetStream;

// Every RPC of the client completes on the client's own completion queue,
// run by its one queue thread, instead of through gRPC's callback API. The
// callback API polls with two threads per process that hand each event to
// one another (epoll1 has one poller at a time): on the 2-core benchmark
// machine that cost about six context switches per message in the client.
// With one thread polling, a message wakes it once, and a batch launched from
// an answer's reply (most of them, under load) leaves from that thread too.
struct QueueTag {
  virtual ~QueueTag() = default;
  // Queue thread only.
  virtual void Run(bool ok) = 0;
};

// The queue thread casts every tag back to QueueTag*: tags are passed as
// exactly that pointer, whatever the derived type.
void* AsTag(QueueTag* tag) { return tag; }

// A unary call on the queue (see CallOnQueue); deletes itself once `done` has
// run.
template <typename Resp>
class QueuedCall final : public QueueTag {
 public:
  QueuedCall(std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader,
             std::function<void(grpc::Status)> done)
      : done_(std::move(done)), reader_(std::move(reader)) {}

  // The last use of `this` by the caller: Run may delete it at once.
  void Start(Resp* response) {
    reader_->StartCall();
    reader_->Finish(response, &status_, AsTag(this));
  }

  void Run(bool /*ok: always true for Finish*/) override {
    done_(status_);
    delete this;
  }

 private:
  // done_ may hold the last reference to the call's ClientContext, and the
  // reader lives in that call's arena: the reader must go first, so it is
  // declared last.
  std::function<void(grpc::Status)> done_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader_;
};

// Starts a prepared unary call; `done` runs on the queue thread.
template <typename Resp>
void CallOnQueue(std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader,
                 Resp* response, std::function<void(grpc::Status)> done) {
  (new QueuedCall<Resp>(std::move(reader), std::move(done)))->Start(response);
}

// One channel to one node address, shared by every call to it.
struct NodeConn {
  explicit NodeConn(std::string addr)
      : address(std::move(addr)),
        channel(grpc::CreateCustomChannel(
            address, grpc::InsecureChannelCredentials(), ChannelArgs())),
        sessions(v1::Sessions::NewStub(channel)),
        cluster(v1::Cluster::NewStub(channel)) {}

  static grpc::ChannelArguments ChannelArgs() {
    grpc::ChannelArguments args;
    // A node that restarts is reconnected within about a second, not after
    // gRPC's default backoff of up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    return args;
  }

  bool Suspect(absl::Time now) const {
    return absl::ToUnixNanos(now) <
           suspect_until_ns.load(std::memory_order_relaxed);
  }
  void MarkSuspect(absl::Time now) {
    suspect_until_ns.store(absl::ToUnixNanos(now + kSuspectFor),
                           std::memory_order_relaxed);
  }

  const std::string address;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<v1::Sessions::Stub> sessions;
  const std::unique_ptr<v1::Cluster::Stub> cluster;
  // Set right after construction, before the NodeConn is shared; null when
  // coalescing is off.
  std::unique_ptr<GetCoalescer> coalescer;
  std::atomic<int64_t> suspect_until_ns{0};
  // The StreamGet call carrying coalesced batches (ClientOptions::
  // stream_gets); null until the first batch, and again once it has ended.
  absl::Mutex stream_mu;
  std::shared_ptr<GetStream> stream ABSL_GUARDED_BY(stream_mu);
  // The node answered StreamGet with UNIMPLEMENTED (an older version).
  std::atomic<bool> streams_unsupported{false};
};

struct NodeEntry {
  std::string id;
  bool up = false;
  NodeConn* conn = nullptr;  // owned by ClientImpl::conns_
};

// An installed topology; immutable, shared by the calls routed by it.
struct RoutingTable {
  uint64_t epoch = 0;  // as the answering node reported it
  std::shared_ptr<const PlacementMap> placement;
  std::vector<NodeEntry> nodes;  // same order as placement->nodes()
  bool any_down = false;
  absl::Time fetched_at;
};

// Where a call may go.
struct Route {
  enum class Kind {
    kSession,    // the preference list of `partition`
    kAnyNode,    // any node, round-robin over the healthy ones
    kOneNode,    // node `node_id` only
    kBootstrap,  // any known node, then the seeds
  };
  Kind kind = Kind::kAnyNode;
  uint32_t partition = 0;
  std::string node_id;

  static Route Session(uint32_t partition) {
    Route r;
    r.kind = Kind::kSession;
    r.partition = partition;
    return r;
  }
  static Route Of(Kind kind) {
    Route r;
    r.kind = kind;
    return r;
  }
};

// The end of one attempt.
struct AttemptResult {
  absl::Status status;
  bool node_answered = false;  // see GetOutcome
  bool never_sent = false;
};
using AttemptDone = std::function<void(AttemptResult)>;
// Sends one attempt to `node`; calls `done` exactly once, possibly inline.
using SendFn =
    std::function<void(NodeConn* node, absl::Time deadline, AttemptDone done)>;
using FinishFn = std::function<void(absl::Status)>;

absl::Duration Jittered(absl::Duration d) {
  thread_local absl::BitGen gen;
  return d * absl::Uniform(gen, 0.5, 1.0);
}

v1::Durability ToProto(Durability d) {
  switch (d) {
    case Durability::kOne:
      return v1::ONE;
    case Durability::kQuorum:
      return v1::QUORUM;
    case Durability::kAll:
      return v1::ALL;
    case Durability::kDefault:
      break;
  }
  return v1::DURABILITY_DEFAULT;
}

SessionData FromProto(const v1::Session& s) {
  SessionData d;
  d.id = s.id();
  d.namespace_ = s.namespace_();
  d.user_id = s.user_id();
  for (const auto& [key, value] : s.attributes()) d.attributes[key] = value;
  d.created_at_ms = s.created_at_ms();
  d.last_access_ms = s.last_access_ms();
  d.idle_timeout_ms = s.idle_timeout_ms();
  d.absolute_deadline_ms = s.absolute_deadline_ms();
  d.expires_at_ms = s.expires_at_ms();
  d.version = s.version();
  return d;
}

TopologyInfo FromProto(const v1::TopologyResponse& r) {
  TopologyInfo info;
  info.epoch = r.epoch();
  info.replication_factor = static_cast<int>(r.replication_factor());
  info.partition_count = r.partition_count();
  info.answered_by = r.self_id();
  for (const v1::Node& n : r.nodes()) {
    info.nodes.push_back(NodeInfo{n.id(), n.address(), n.up()});
  }
  return info;
}

class ClientImpl;

// One public call: picks a node per attempt, retries per its policy, and
// calls `finish` exactly once, never inside Start(). Owned by shared_ptrs
// held by Start() and by the pending attempt or timer.
class RetryingCall : public std::enable_shared_from_this<RetryingCall> {
 public:
  RetryingCall(ClientImpl* client, Route route, bool idempotent,
               int max_attempts, absl::Time deadline, SendFn send,
               FinishFn finish)
      : client_(client),
        route_(std::move(route)),
        idempotent_(idempotent),
        max_attempts_(max_attempts),
        deadline_(deadline),
        send_(std::move(send)),
        finish_(std::move(finish)) {}

  void Start();

 private:
  void Attempt();
  void OnAttemptDone(NodeConn* node, absl::Time attempt_deadline,
                     AttemptResult result);
  void Finish(absl::Status status);
  void Deliver(absl::Status status);

  ClientImpl* const client_;
  const Route route_;
  const bool idempotent_;
  const int max_attempts_;
  const absl::Time deadline_;
  const SendFn send_;
  FinishFn finish_;
  // True while Start() runs: a finish then goes through the timer thread.
  std::atomic<bool> starting_{false};
  // Attempts are sequential: only the thread running the current attempt
  // (or its completion) touches these.
  int attempts_ = 0;
  std::vector<NodeConn*> tried_;
};

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(ClientOptions options) : options_(std::move(options)) {
    queue_thread_ = std::thread([this] {
      void* tag;
      bool ok;
      while (queue_.Next(&tag, &ok)) static_cast<QueueTag*>(tag)->Run(ok);
    });
  }
  ~ClientImpl() override;

  // Fetches the first topology from the seeds, in order.
  absl::Status Bootstrap();

  absl::StatusOr<SessionData> Create(absl::string_view ns,
                                     const CreateOptions& options) override;
  absl::StatusOr<SessionData> Get(absl::string_view ns, absl::string_view id,
                                  bool touch) override;
  absl::StatusOr<SessionData> Update(absl::string_view ns, absl::string_view id,
                                     const UpdateOptions& options) override;
  absl::StatusOr<int64_t> Touch(absl::string_view ns,
                                absl::string_view id) override;
  absl::Status Destroy(absl::string_view ns, absl::string_view id,
                       Durability durability) override;
  absl::StatusOr<SessionData> Rotate(absl::string_view ns, absl::string_view id,
                                     Durability durability) override;
  absl::StatusOr<std::vector<SessionData>> ListByUser(
      absl::string_view ns, absl::string_view user_id) override;
  absl::StatusOr<int> DestroyByUser(absl::string_view ns,
                                    absl::string_view user_id,
                                    absl::string_view except_id,
                                    Durability durability) override;
  std::vector<absl::StatusOr<SessionData>> BatchGet(
      absl::string_view ns, const std::vector<std::string>& ids,
      bool touch) override;

  void CreateAsync(absl::string_view ns, const CreateOptions& options,
                   SessionCallback done) override;
  void GetAsync(absl::string_view ns, absl::string_view id, bool touch,
                SessionCallback done) override;
  void UpdateAsync(absl::string_view ns, absl::string_view id,
                   const UpdateOptions& options, SessionCallback done) override;
  void TouchAsync(absl::string_view ns, absl::string_view id,
                  ExpiryCallback done) override;
  void DestroyAsync(absl::string_view ns, absl::string_view id,
                    Durability durability, StatusCallback done) override;

  absl::StatusOr<TopologyInfo> Topology() override;
  absl::StatusOr<std::string> OwnerOf(absl::string_view id) override;
  absl::StatusOr<NodeStatsInfo> NodeStats(absl::string_view node_id) override;

 private:
  friend class RetryingCall;
  friend class GetStream;

  // Calls in flight, so that the destructor can wait for them. BeginOp fails
  // once the destructor has started.
  bool BeginOp();
  // For work done on behalf of calls in flight: counted even while the
  // destructor waits (which cannot have seen zero yet).
  void HoldOp();
  void EndOp();

  std::shared_ptr<const RoutingTable> Snapshot();
  NodeConn* ConnFor(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Nodes to try for `route`, best first: healthy (up and not suspect) ones
  // in preference order, then the others.
  std::vector<NodeConn*> Candidates(const Route& route);

  // Starts a RetryingCall with a fresh deadline (or finishes it with
  // CANCELLED if the client is being destroyed).
  void StartCall(Route route, bool idempotent, SendFn send, FinishFn finish);
  // Calls `fn` on the timer thread, counted as an op.
  void Post(std::function<void()> fn);

  // StartCall for a call whose every attempt is one unary RPC of `req` into
  // `resp`; `invoke(node, ctx, req, queue)` prepares that RPC on the node's
  // stub (a PrepareAsync method), and SendUnary runs it on the queue.
  template <typename Req, typename Resp, typename Invoke>
  void StartUnary(Route route, bool idempotent, std::shared_ptr<Req> req,
                  std::shared_ptr<Resp> resp, Invoke invoke, FinishFn finish) {
    StartCall(std::move(route), idempotent,
              [this, req, resp, invoke](NodeConn* node, absl::Time deadline,
                                        AttemptDone done) {
                SendUnary(node, deadline, req.get(), resp.get(), invoke,
                          std::move(done));
              },
              std::move(finish));
  }
  // One unary RPC attempt (`invoke` as for StartUnary); `req` and `resp`
  // must stay valid until `done` runs (capture them in it).
  template <typename Req, typename Resp, typename Invoke>
  void SendUnary(NodeConn* node, absl::Time deadline, const Req* req,
                 Resp* resp, Invoke invoke, AttemptDone done);
  // Sends one coalesced batch to `node`.
  void SendBatch(NodeConn* node, GetBatch batch);
  // How a batch ends: the attempt's result and, if it is OK, the answer.
  using BatchReply =
      std::function<void(AttemptResult, v1::BatchGetResponse*)>;
  // Sends a batch of several Gets as one BatchGet RPC.
  void SendBatchUnary(NodeConn* node, std::shared_ptr<OutgoingBatch> batch);
  // Sends a batch over the node's StreamGet call (stream_gets). False (batch
  // not taken) if the node does not implement StreamGet.
  bool SendOnStream(NodeConn* node, v1::BatchGetRequest req,
                    absl::Time deadline, BatchReply finish);
  // Completes a batch's Gets from its answer (resp is read only if the
  // result is OK); a batch a node refused as UNIMPLEMENTED on its stream
  // goes again as a BatchGet RPC.
  void CompleteBatch(NodeConn* node, const std::shared_ptr<OutgoingBatch>& batch,
                     AttemptResult result, v1::BatchGetResponse* resp,
                     bool on_stream);
  // A failed attempt's result if the node's channel is failing (the request
  // would not leave), or nullopt.
  std::optional<AttemptResult> Unsendable(NodeConn* node);
  // The node's open StreamGet call, started if there is none; null once the
  // client is being destroyed.
  std::shared_ptr<GetStream> StreamFor(NodeConn* node);
  // An epoch a node answered with: refreshes the topology if it is not ours.
  void NoteEpoch(uint64_t epoch);

  // Looks at a finished RPC: epoch trailer (may trigger a refresh), whether
  // the node answered, whether the request provably never left.
  AttemptResult Examine(const grpc::ClientContext& ctx,
                        const grpc::Status& status);

  // Topology maintenance.
  void RequestRefresh(std::optional<uint64_t> observed_epoch);
  void OnRefreshTimer();
  void StartRefresh();
  absl::Status InstallTopology(const v1::TopologyResponse& response);

  // Shared by the sync forms: Start(callback) then wait for the callback.
  template <typename T, typename StartFn>
  static T Wait(StartFn start);

  // Constant after construction.
  const ClientOptions options_;

  TimerThread timer_;
  // Every call's completion, run by queue_thread_ (see QueueTag).
  grpc::CompletionQueue queue_;
  std::thread queue_thread_;
  std::atomic<uint64_t> round_robin_{0};

  absl::Mutex mu_;
  // Protected by mu_.
  // By address. Never shrinks (a departed node's channel just goes idle), so
  // NodeConn pointers stay valid for the client's lifetime.
  std::map<std::string, std::unique_ptr<NodeConn>> conns_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RoutingTable> topology_ ABSL_GUARDED_BY(mu_);
  bool refresh_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // An epoch a node answered with that the installed topology does not have.
  std::optional<uint64_t> wanted_epoch_ ABSL_GUARDED_BY(mu_);
  // Mirror of topology_->epoch for the per-answer check, without mu_.
  std::atomic<uint64_t> epoch_{0};

  absl::Mutex ops_mu_;
  // Protected by ops_mu_.
  int ops_ ABSL_GUARDED_BY(ops_mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(ops_mu_) = false;
};

// --- RetryingCall -----------------------------------------------------------

void RetryingCall::Start() {
  auto self = shared_from_this();  // alive until Start returns
  starting_.store(true);
  Attempt();
  starting_.store(false);
}

void RetryingCall::Attempt() {
  ++attempts_;
  const absl::Time now = absl::Now();
  std::vector<NodeConn*> candidates = client_->Candidates(route_);
  if (candidates.empty()) {
    Finish(route_.kind == Route::Kind::kOneNode
               ? absl::NotFoundError(
                     absl::StrCat("no node ", route_.node_id, " in topology"))
               : absl::UnavailableError("no node known to send to"));
    return;
  }
  // The best candidate not tried yet by this call; when all were, the best.
  NodeConn* node = candidates.front();
  for (NodeConn* c : candidates) {
    if (std::find(tried_.begin(), tried_.end(), c) == tried_.end()) {
      node = c;
      break;
    }
  }
  tried_.push_back(node);
  absl::Time attempt_deadline = deadline_;
  if (idempotent_ && attempts_ < max_attempts_) {
    attempt_deadline =
        std::min(deadline_, now + client_->options_.deadline / max_attempts_);
  }
  auto self = shared_from_this();
  send_(node, attempt_deadline,
        [self, node, attempt_deadline](AttemptResult result) {
          self->OnAttemptDone(node, attempt_deadline, std::move(result));
        });
}

void RetryingCall::OnAttemptDone(NodeConn* node, absl::Time attempt_deadline,
                                 AttemptResult result) {
  if (result.status.ok()) {
    Finish(absl::OkStatus());
    return;
  }
  const absl::StatusCode code = result.status.code();
  const absl::Time now = absl::Now();
  if (!result.node_answered && (code == absl::StatusCode::kUnavailable ||
                                code == absl::StatusCode::kDeadlineExceeded)) {
    // The node itself did not answer: avoid it for a while, and ask the
    // cluster whether it is still a member / still up.
    node->MarkSuspect(now);
    client_->RequestRefresh(std::nullopt);
  }
  bool retry;
  if (idempotent_) {
    retry = code == absl::StatusCode::kUnavailable ||
            (code == absl::StatusCode::kDeadlineExceeded &&
             attempt_deadline < deadline_);
  } else {
    retry = result.never_sent;
  }
  if (!retry || attempts_ >= max_attempts_ || now >= deadline_) {
    Finish(std::move(result.status));
    return;
  }
  absl::Duration backoff = absl::ZeroDuration();
  if (!result.never_sent) {
    backoff = client_->options_.initial_backoff;
    for (int i = 1; i < attempts_ && backoff < client_->options_.max_backoff;
         ++i) {
      backoff *= 2;
    }
    backoff = Jittered(std::min(backoff, client_->options_.max_backoff));
  }
  if (now + backoff >= deadline_) {
    Finish(std::move(result.status));
    return;
  }
  if (backoff == absl::ZeroDuration()) {
    Attempt();
    return;
  }
  auto self = shared_from_this();
  client_->timer_.RunAt(now + backoff, [self] { self->Attempt(); });
}

void RetryingCall::Finish(absl::Status status) {
  if (starting_.load()) {
    // Possibly inside Start(), i.e. inside the caller's *Async call.
    auto self = shared_from_this();
    client_->timer_.RunAt(absl::InfinitePast(),
                          [self, status] { self->Deliver(status); });
    return;
  }
  Deliver(std::move(status));
}

void RetryingCall::Deliver(absl::Status status) {
  FinishFn finish = std::move(finish_);
  finish(std::move(status));
  client_->EndOp();
}

// --- GetStream --------------------------------------------------------------

// One StreamGet call to a node, carrying that node's coalesced batches. gRPC
// allows one write at a time, so requests queue for the wire; the node
// answers them in order, so answers are matched to the batches sent, oldest
// first. When the call ends (node gone, a batch overdue, client destroyed),
// every batch not answered yet ends with the call's error, and the next batch
// starts a new call. Owned by the NodeConn (until the call ends) and by
// itself (until OnDone); timers hold weak_ptrs.
//
// Driven by the client's completion queue (see QueueTag).
class GetStream final : public std::enable_shared_from_this<GetStream> {
 public:
  using Reply = ClientImpl::BatchReply;

  GetStream(ClientImpl* client, NodeConn* node)
      : client_(client), node_(node) {}

  // Starts the call. The caller holds an op for it (EndOp in OnDone).
  void Begin() {
    self_ = shared_from_this();
    rw_ = node_->sessions->PrepareAsyncStreamGet(&ctx_, &client_->queue_);
    rw_->StartCall(AsTag(&started_tag_));
  }

  // Queues one batch; `reply` runs exactly once, on the queue thread. False
  // (reply not taken) if the call has ended: use a new stream.
  bool Send(v1::BatchGetRequest&& request, absl::Time deadline,
            Reply&& reply) {
    bool arm = false;
    const v1::BatchGetRequest* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return false;
      sent_.push_back(Sent{deadline, std::move(reply)});
      to_write_.push_back(std::move(request));
      if (started_ && !writing_) {
        writing_ = true;
        write = &to_write_.front();
      }
      if (deadline < timer_at_) {
        timer_at_ = deadline;
        arm = true;
      }
    }
    // A deque's elements stay put while others are added, and only
    // OnWriteDone removes this one.
    if (write != nullptr) rw_->Write(*write, AsTag(&written_tag_));
    if (arm) ArmTimer(deadline);
    return true;
  }

  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

  // Ends the call (client destruction); OnDone follows.
  void Cancel() { ctx_.TryCancel(); }

 private:
  struct Sent {
    absl::Time deadline;
    Reply reply;
  };
  struct Tag final : QueueTag {
    Tag(GetStream* s, void (GetStream::*h)(bool ok)) : stream(s), handler(h) {}
    void Run(bool ok) override { (stream->*handler)(ok); }
    GetStream* const stream;
    void (GetStream::*const handler)(bool ok);
  };

  void OnStarted(bool ok) {
    const v1::BatchGetRequest* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {  // never started: nothing else is outstanding
        ended_ = true;
      } else {
        started_ = true;
        if (!to_write_.empty()) {
          writing_ = true;
          write = &to_write_.front();
        }
      }
    }
    if (!ok) {
      rw_->Finish(&status_, AsTag(&finished_tag_));
      return;
    }
    rw_->Read(&response_, AsTag(&read_tag_));
    if (write != nullptr) rw_->Write(*write, AsTag(&written_tag_));
  }

  void OnWriteDone(bool ok) {
    const v1::BatchGetRequest* next = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      to_write_.pop_front();
      // !ok: the call is ending, and the read fails too.
      if (ok && !read_failed_ && !to_write_.empty()) {
        next = &to_write_.front();
      } else {
        writing_ = false;
        finish = read_failed_;
      }
    }
    if (next != nullptr) rw_->Write(*next, AsTag(&written_tag_));
    // Finish must not overlap a write: a failed read left it to us.
    if (finish) rw_->Finish(&status_, AsTag(&finished_tag_));
  }

  void OnReadDone(bool ok) {
    if (!ok) {  // the call is ending; OnDone fails what is left
      bool finish;
      {
        absl::MutexLock lock(&mu_);
        ended_ = true;
        read_failed_ = true;
        finish = !writing_;
      }
      if (finish) rw_->Finish(&status_, AsTag(&finished_tag_));
      return;
    }
    Reply reply;
    {
      absl::MutexLock lock(&mu_);
      if (!sent_.empty()) {
        reply = std::move(sent_.front().reply);
        sent_.pop_front();
      } else {
        unexpected_ = true;
      }
    }
    if (reply == nullptr) {  // an answer nobody asked for: end the call
      ctx_.TryCancel();
    } else {
      client_->NoteEpoch(response_.epoch());
      AttemptResult result;
      result.node_answered = true;
      reply(std::move(result), &response_);
    }
    response_.Clear();
    rw_->Read(&response_, AsTag(&read_tag_));
  }

  // The call is over and no operation on it is outstanding.
  void OnDone(bool /*ok*/) {
    std::deque<Sent> left;
    bool overdue;
    bool unexpected;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      left.swap(sent_);
      overdue = overdue_;
      unexpected = unexpected_;
    }
    const grpc::Status& status = status_;
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      // A node that predates StreamGet: unary calls from now on.
      node_->streams_unsupported.store(true);
    }
    {
      absl::MutexLock lock(&node_->stream_mu);
      if (node_->stream.get() == this) node_->stream.reset();
    }
    AttemptResult result = client_->Examine(ctx_, status);
    if (unexpected) {
      result.status = absl::InternalError(absl::StrCat(
          "node ", node_->address, " answered more batches than it was sent"));
    } else if (result.status.ok() ||
               result.status.code() == absl::StatusCode::kCancelled) {
      result.status = absl::UnavailableError(absl::StrCat(
          "the stream to node ", node_->address, " ended: ",
          status.error_message()));
    }
    // Cancelled for an overdue batch: that one (and any other past its
    // deadline) failed by time; the rest may retry.
    AttemptResult late = result;
    late.status = absl::DeadlineExceededError(absl::StrCat(
        "no answer from node ", node_->address, " before the deadline"));
    const absl::Time now = client_->timer_.Now();
    for (Sent& sent : left) {
      sent.reply(overdue && sent.deadline <= now ? late : result, nullptr);
    }
    ClientImpl* client = client_;
    std::shared_ptr<GetStream> self = std::move(self_);  // may delete this
    self.reset();
    client->EndOp();
  }

  // One timer for the earliest deadline among the batches out, not one per
  // batch: when it fires, batches answered meanwhile have left and it is
  // re-armed for the earliest of the rest.
  void ArmTimer(absl::Time when) {
    std::weak_ptr<GetStream> weak = shared_from_this();
    client_->timer_.RunAt(when, [weak, when] {
      if (std::shared_ptr<GetStream> stream = weak.lock()) {
        stream->OnTimer(when);
      }
    });
  }

  void OnTimer(absl::Time armed_for) {
    absl::Time next = absl::InfiniteFuture();
    bool overdue;
    {
      absl::MutexLock lock(&mu_);
      if (armed_for != timer_at_) return;  // superseded by an earlier one
      timer_at_ = absl::InfiniteFuture();
      if (ended_) return;
      for (const Sent& sent : sent_) next = std::min(next, sent.deadline);
      if (next == absl::InfiniteFuture()) return;  // the next Send arms it
      overdue = next <= client_->timer_.Now();
      overdue_ = overdue_ || overdue;
      if (!overdue) timer_at_ = next;
    }
    if (overdue) {
      ctx_.TryCancel();
    } else {
      ArmTimer(next);
    }
  }

  ClientImpl* const client_;
  NodeConn* const node_;
  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<v1::BatchGetRequest, v1::BatchGetResponse>>
      rw_;
  Tag started_tag_{this, &GetStream::OnStarted};
  Tag read_tag_{this, &GetStream::OnReadDone};
  Tag written_tag_{this, &GetStream::OnWriteDone};
  Tag finished_tag_{this, &GetStream::OnDone};
  v1::BatchGetResponse response_;  // read into; queue thread only
  grpc::Status status_;            // set by Finish
  std::shared_ptr<GetStream> self_;

  absl::Mutex mu_;
  std::deque<v1::BatchGetRequest> to_write_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_failed_ ABSL_GUARDED_BY(mu_) = false;
  // Written or queued, not answered yet, oldest first.
  std::deque<Sent> sent_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool overdue_ ABSL_GUARDED_BY(mu_) = false;
  bool unexpected_ ABSL_GUARDED_BY(mu_) = false;
  // Deadline the pending timer is armed for (InfiniteFuture: none).
  absl::Time timer_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

// --- ClientImpl: lifetime ---------------------------------------------------

ClientImpl::~ClientImpl() {
  {
    absl::MutexLock lock(&ops_mu_);
    shutting_down_ = true;
  }
  // Open StreamGet calls hold an op each until they end; no new one starts
  // now (StreamFor's BeginOp fails).
  std::vector<std::shared_ptr<GetStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [address, conn] : conns_) {
      absl::MutexLock stream_lock(&conn->stream_mu);
      if (conn->stream != nullptr) streams.push_back(conn->stream);
    }
  }
  for (const std::shared_ptr<GetStream>& stream : streams) stream->Cancel();
  streams.clear();
  {
    absl::MutexLock lock(&ops_mu_);
    ops_mu_.Await(absl::Condition(
        +[](int* ops) { return *ops == 0; }, &ops_));
  }
  // Every call has ended (each held an op): nothing is left on the queue.
  queue_.Shutdown();
  queue_thread_.join();
  // Pending timers are coalescer and refresh timers with nothing left to do.
  timer_.Stop();
}

bool ClientImpl::BeginOp() {
  absl::MutexLock lock(&ops_mu_);
  if (shutting_down_) return false;
  ++ops_;
  return true;
}

void ClientImpl::HoldOp() {
  absl::MutexLock lock(&ops_mu_);
  ++ops_;
}

void ClientImpl::EndOp() {
  absl::MutexLock lock(&ops_mu_);
  --ops_;
}

void ClientImpl::Post(std::function<void()> fn) {
  if (!BeginOp()) return;
  timer_.RunAt(absl::InfinitePast(), [this, fn = std::move(fn)] {
    fn();
    EndOp();
  });
}

void ClientImpl::StartCall(Route route, bool idempotent, SendFn send,
                           FinishFn finish) {
  if (!BeginOp()) {
    finish(absl::CancelledError("client is being destroyed"));
    return;
  }
  auto call = std::make_shared<RetryingCall>(
      this, std::move(route), idempotent, options_.max_attempts,
      absl::Now() + options_.deadline, std::move(send), std::move(finish));
  call->Start();
}

template <typename T, typename StartFn>
T ClientImpl::Wait(StartFn start) {
  absl::Notification done;
  std::optional<T> result;
  start([&](T r) {
    result.emplace(std::move(r));
    done.Notify();
  });
  done.WaitForNotification();
  return std::move(*result);
}

// --- ClientImpl: routing ----------------------------------------------------

std::shared_ptr<const RoutingTable> ClientImpl::Snapshot() {
  absl::MutexLock lock(&mu_);
  return topology_;
}

NodeConn* ClientImpl::ConnFor(const std::string& address) {
  std::unique_ptr<NodeConn>& conn = conns_[address];
  if (conn == nullptr) {
    conn = std::make_unique<NodeConn>(address);
    if (options_.coalesce_gets) {
      NodeConn* node = conn.get();
      node->coalescer = std::make_unique<GetCoalescer>(
          options_.max_batch, options_.max_batches_in_flight_per_node,
          options_.max_batch_wait, &timer_,
          [this, node](GetBatch batch) { SendBatch(node, std::move(batch)); });
    }
  }
  return conn.get();
}

std::vector<NodeConn*> ClientImpl::Candidates(const Route& route) {
  std::shared_ptr<const RoutingTable> topo = Snapshot();
  const absl::Time now = absl::Now();
  std::vector<NodeConn*> healthy, unhealthy;
  auto add = [&](const NodeEntry& e) {
    (e.up && !e.conn->Suspect(now) ? healthy : unhealthy).push_back(e.conn);
  };
  if (topo != nullptr) {
    if (topo->any_down && now >= topo->fetched_at + kDownNodeRecheck) {
      RequestRefresh(std::nullopt);
    }
    switch (route.kind) {
      case Route::Kind::kSession: {
        absl::Span<const uint8_t> replicas =
            topo->placement->Replicas(route.partition);
        for (uint8_t idx : replicas) add(topo->nodes[idx]);
        // Non-replicas forward to a live replica: better than a suspect one.
        for (size_t i = 0; i < topo->nodes.size(); ++i) {
          const NodeEntry& e = topo->nodes[i];
          if (std::find(replicas.begin(), replicas.end(), i) ==
                  replicas.end() &&
              e.up && !e.conn->Suspect(now)) {
            healthy.push_back(e.conn);
          }
        }
        break;
      }
      case Route::Kind::kAnyNode:
      case Route::Kind::kBootstrap:
        for (const NodeEntry& e : topo->nodes) add(e);
        if (route.kind == Route::Kind::kAnyNode && !healthy.empty()) {
          std::rotate(
              healthy.begin(),
              healthy.begin() + round_robin_.fetch_add(1) % healthy.size(),
              healthy.end());
        }
        break;
      case Route::Kind::kOneNode:
        for (const NodeEntry& e : topo->nodes) {
          if (e.id == route.node_id) add(e);
        }
        break;
    }
  }
  healthy.insert(healthy.end(), unhealthy.begin(), unhealthy.end());
  if (route.kind == Route::Kind::kBootstrap) {
    absl::MutexLock lock(&mu_);
    for (const std::string& seed : options_.seeds) {
      NodeConn* conn = ConnFor(seed);
      if (std::find(healthy.begin(), healthy.end(), conn) == healthy.end()) {
        healthy.push_back(conn);
      }
    }
  }
  return healthy;
}

// --- ClientImpl: sending ----------------------------------------------------

AttemptResult ClientImpl::Examine(const grpc::ClientContext& ctx,
                                  const grpc::Status& status) {
  AttemptResult result;
  result.status = FromGrpcStatus(status);
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(kEpochKey);
  if (it != trailers.end()) {
    result.node_answered = true;
    uint64_t epoch;
    if (absl::SimpleAtoi(
            absl::string_view(it->second.data(), it->second.size()), &epoch)) {
      NoteEpoch(epoch);
    }
  }
  result.never_sent =
      !result.node_answered &&
      status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::StrContains(status.error_message(), kPickFailedMessage);
  return result;
}

std::optional<AttemptResult> ClientImpl::Unsendable(NodeConn* node) {
  const grpc_connectivity_state state =
      node->channel->GetState(/*try_to_connect=*/true);
  if (state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
      state != GRPC_CHANNEL_SHUTDOWN) {
    return std::nullopt;
  }
  AttemptResult result;
  result.status = absl::UnavailableError(absl::StrCat(
      "node ", node->address, " is unreachable; request not sent"));
  result.never_sent = true;
  return result;
}

template <typename Req, typename Resp, typename Invoke>
void ClientImpl::SendUnary(NodeConn* node, absl::Time deadline, const Req* req,
                           Resp* resp, Invoke invoke, AttemptDone done) {
  if (std::optional<AttemptResult> result = Unsendable(node)) {
    // Not inline: completions come from the queue or timer threads only. The
    // call this attempt belongs to holds an op, so the timer is running.
    timer_.RunAt(absl::InfinitePast(),
                 [done = std::move(done), result = *std::move(result)] {
                   done(result);
                 });
    return;
  }
  // Owned by the completion callback, which its QueuedCall keeps until it
  // has run.
  auto ctx = std::make_shared<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(deadline));
  ctx->set_wait_for_ready(false);
  resp->Clear();
  CallOnQueue(invoke(node, ctx.get(), req, &queue_), resp,
              [this, ctx, done = std::move(done)](grpc::Status status) {
                done(Examine(*ctx, status));
              });
}

void ClientImpl::SendBatch(NodeConn* node, GetBatch batch) {
  HoldOp();  // the batch's Gets are calls in flight
  if (batch.gets.size() == 1 && !options_.stream_gets) {
    auto get = std::shared_ptr<PendingGet>(std::move(batch.gets.front()));
    auto req = std::make_shared<v1::GetRequest>();
    auto resp = std::make_shared<v1::GetResponse>();
    req->set_namespace_(batch.ns);
    req->set_id(get->id);
    req->set_skip_touch(!batch.touch);
    SendUnary(
        node, get->deadline, req.get(), resp.get(),
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncGet(ctx, *q, cq);
        },
        [this, node, get, req, resp](AttemptResult result) {
          GetOutcome outcome;
          outcome.node_answered = result.node_answered;
          outcome.never_sent = result.never_sent;
          if (result.status.ok()) {
            outcome.session = FromProto(resp->session());
          } else {
            outcome.session = std::move(result.status);
          }
          get->done(std::move(outcome));
          node->coalescer->BatchDone();
          EndOp();
        });
    return;
  }
  auto out = std::make_shared<OutgoingBatch>();
  out->gets = std::move(batch.gets);
  out->ns = std::move(batch.ns);
  out->touch = batch.touch;
  for (const auto& get : out->gets) {
    out->deadline = std::min(out->deadline, get->deadline);
  }
  if (options_.stream_gets &&
      SendOnStream(node, out->Request(), out->deadline,
                   [this, node, out](AttemptResult result,
                                     v1::BatchGetResponse* resp) {
                     CompleteBatch(node, out, std::move(result), resp,
                                   /*on_stream=*/true);
                   })) {
    return;
  }
  SendBatchUnary(node, std::move(out));
}

void ClientImpl::SendBatchUnary(NodeConn* node,
                                std::shared_ptr<OutgoingBatch> batch) {
  auto req = std::make_shared<v1::BatchGetRequest>(batch->Request());
  auto resp = std::make_shared<v1::BatchGetResponse>();
  const absl::Time deadline = batch->deadline;
  SendUnary(
      node, deadline, req.get(), resp.get(),
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncBatchGet(ctx, *q, cq);
      },
      [this, node, batch = std::move(batch), req, resp](AttemptResult result) {
        CompleteBatch(node, batch, std::move(result), resp.get(),
                      /*on_stream=*/false);
      });
}

void ClientImpl::CompleteBatch(NodeConn* node,
                               const std::shared_ptr<OutgoingBatch>& batch,
                               AttemptResult result,
                               v1::BatchGetResponse* resp, bool on_stream) {
  if (on_stream && result.status.code() == absl::StatusCode::kUnimplemented) {
    SendBatchUnary(node, batch);  // a node that predates StreamGet
    return;
  }
  const auto& gets = batch->gets;
  if (result.status.ok() &&
      resp->results_size() != static_cast<int>(gets.size())) {
    result.status = absl::InternalError(absl::StrCat(
        "BatchGet of ", gets.size(), " ids from node ", node->address,
        " returned ", resp->results_size(), " results"));
  }
  for (size_t i = 0; i < gets.size(); ++i) {
    GetOutcome outcome;
    outcome.node_answered = result.node_answered;
    outcome.never_sent = result.never_sent;
    if (!result.status.ok()) {
      outcome.session = result.status;
    } else {
      const v1::BatchGetResult& r = resp->results(static_cast<int>(i));
      outcome.node_answered = true;
      if (r.code() == 0) {
        outcome.session = FromProto(r.session());
      } else {
        outcome.session = FromRpcCode(r.code(), r.message());
      }
    }
    gets[i]->done(std::move(outcome));
  }
  node->coalescer->BatchDone();
  EndOp();
}

bool ClientImpl::SendOnStream(NodeConn* node, v1::BatchGetRequest req,
                              absl::Time deadline, BatchReply finish) {
  if (node->streams_unsupported.load()) return false;
  std::optional<AttemptResult> failed = Unsendable(node);
  while (!failed.has_value()) {
    std::shared_ptr<GetStream> stream = StreamFor(node);
    if (stream == nullptr) {
      failed.emplace();
      failed->status = absl::CancelledError("client is being destroyed");
      failed->never_sent = true;
      break;
    }
    // False only if the stream ended meanwhile: the next one takes it.
    if (stream->Send(std::move(req), deadline, std::move(finish))) return true;
    if (node->streams_unsupported.load()) return false;
  }
  // Not inline: completions come from the queue or timer threads only.
  timer_.RunAt(absl::InfinitePast(),
               [finish = std::move(finish), r = *std::move(failed)] {
                 finish(r, nullptr);
               });
  return true;
}

std::shared_ptr<GetStream> ClientImpl::StreamFor(NodeConn* node) {
  std::shared_ptr<GetStream> stream;
  {
    absl::MutexLock lock(&node->stream_mu);
    if (node->stream != nullptr && !node->stream->ended()) return node->stream;
    if (!BeginOp()) return nullptr;  // the stream's op, ended by OnDone
    node->stream = std::make_shared<GetStream>(this, node);
    stream = node->stream;
  }
  stream->Begin();
  return stream;
}

void ClientImpl::NoteEpoch(uint64_t epoch) {
  if (epoch != 0 && epoch != epoch_.load(std::memory_order_relaxed)) {
    RequestRefresh(epoch);
  }
}

// --- ClientImpl: topology ---------------------------------------------------

absl::Status ClientImpl::Bootstrap() {
  absl::Status last = absl::UnavailableError("no seeds");
  for (const std::string& seed : options_.seeds) {
    NodeConn* node;
    {
      absl::MutexLock lock(&mu_);
      node = ConnFor(seed);
    }
    v1::TopologyRequest req;
    v1::TopologyResponse resp;
    absl::Status status = Wait<absl::Status>([&](auto done) {
      SendUnary(
          node, absl::Now() + options_.deadline, &req, &resp,
          [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
            return n->cluster->PrepareAsyncTopology(ctx, *q, cq);
          },
          [done](AttemptResult result) { done(std::move(result.status)); });
    });
    if (status.ok()) status = InstallTopology(resp);
    if (status.ok()) return status;
    last = absl::Status(status.code(),
                        absl::StrCat("seed ", seed, ": ", status.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("no seed answered with a usable topology; last error: ",
                   last.ToString()));
}

absl::Status ClientImpl::InstallTopology(const v1::TopologyResponse& response) {
  std::vector<std::string> ids;
  std::map<std::string, const v1::Node*> by_id;
  for (const v1::Node& n : response.nodes()) {
    ids.push_back(n.id());
    by_id[n.id()] = &n;
  }
  std::shared_ptr<const RoutingTable> old = Snapshot();
  std::shared_ptr<const PlacementMap> placement;
  std::vector<std::string> sorted_ids(ids);
  std::sort(sorted_ids.begin(), sorted_ids.end());
  if (old != nullptr && old->placement->nodes() == sorted_ids &&
      old->placement->replication_factor() ==
          std::min<int>(static_cast<int>(response.replication_factor()),
                        static_cast<int>(ids.size()))) {
    placement = old->placement;  // same membership: only liveness changed
  } else {
    absl::StatusOr<PlacementMap> built = PlacementMap::Build(
        ids, static_cast<int>(response.replication_factor()));
    if (!built.ok()) {
      return absl::Status(
          built.status().code(),
          absl::StrCat("topology from node ", response.self_id(), ": ",
                       built.status().message()));
    }
    placement = std::make_shared<const PlacementMap>(*std::move(built));
  }
  if (placement->epoch() != response.epoch() ||
      (response.partition_count() != 0 &&
       response.partition_count() != kPartitionCount)) {
    // Routing only saves a hop (nodes forward misrouted calls), so a client
    // whose placement code differs from the nodes' still works.
    gpr_log(GPR_ERROR,
            "sesh client: node %s reports epoch %llu and %u partitions, but "
            "placement computed here gives epoch %llu and %u partitions; "
            "routing by the local computation, nodes will forward",
            response.self_id().c_str(),
            static_cast<unsigned long long>(response.epoch()),
            response.partition_count(),
            static_cast<unsigned long long>(placement->epoch()),
            kPartitionCount);
  }
  auto topo = std::make_shared<RoutingTable>();
  topo->epoch = response.epoch();
  topo->placement = placement;
  topo->fetched_at = absl::Now();
  uint64_t previous_epoch;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : placement->nodes()) {
      const v1::Node& n = *by_id[id];
      topo->nodes.push_back(NodeEntry{id, n.up(), ConnFor(n.address())});
      topo->any_down = topo->any_down || !n.up();
    }
    previous_epoch = topology_ == nullptr ? 0 : topology_->epoch;
    topology_ = std::move(topo);
    epoch_.store(response.epoch(), std::memory_order_relaxed);
  }
  if (previous_epoch != response.epoch()) {
    gpr_log(GPR_INFO,
            "sesh client: routing by topology epoch %llu (%d nodes, rf %d), "
            "from node %s",
            static_cast<unsigned long long>(response.epoch()),
            static_cast<int>(ids.size()), placement->replication_factor(),
            response.self_id().c_str());
  }
  return absl::OkStatus();
}

void ClientImpl::RequestRefresh(std::optional<uint64_t> observed_epoch) {
  bool start = false;
  std::optional<absl::Time> schedule_at;
  {
    absl::MutexLock lock(&mu_);
    if (topology_ == nullptr) return;  // Bootstrap() is fetching one
    if (observed_epoch.has_value()) {
      if (*observed_epoch == topology_->epoch) return;
      wanted_epoch_ = observed_epoch;
    }
    if (refresh_in_flight_ || refresh_scheduled_) return;
    if (absl::Now() >= next_refresh_at_) {
      refresh_in_flight_ = true;
      start = true;
    } else if (observed_epoch.has_value()) {
      // A known change must not be lost; an unreachable node can wait for
      // the refresh that ran less than kMinRefreshInterval ago.
      refresh_scheduled_ = true;
      schedule_at = next_refresh_at_;
    }
  }
  if (start) StartRefresh();
  if (schedule_at.has_value()) {
    timer_.RunAt(*schedule_at, [this] { OnRefreshTimer(); });
  }
}

void ClientImpl::OnRefreshTimer() {
  {
    absl::MutexLock lock(&mu_);
    refresh_scheduled_ = false;
    if (refresh_in_flight_) return;
    refresh_in_flight_ = true;
  }
  StartRefresh();
}

void ClientImpl::StartRefresh() {
  auto req = std::make_shared<v1::TopologyRequest>();
  auto resp = std::make_shared<v1::TopologyResponse>();
  StartUnary(
      Route::Of(Route::Kind::kBootstrap), /*idempotent=*/true, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->cluster->PrepareAsyncTopology(ctx, *q, cq);
      },
      [this, resp](absl::Status status) {
        if (status.ok()) status = InstallTopology(*resp);
        if (!status.ok() && !absl::IsCancelled(status)) {
          gpr_log(GPR_ERROR,
                  "sesh client: topology refresh failed, keeping epoch %llu: "
                  "%s",
                  static_cast<unsigned long long>(epoch_.load()),
                  status.ToString().c_str());
        }
        std::optional<absl::Time> again_at;
        {
          absl::MutexLock lock(&mu_);
          refresh_in_flight_ = false;
          next_refresh_at_ = absl::Now() + kMinRefreshInterval;
          if (wanted_epoch_.has_value() && !absl::IsCancelled(status) &&
              topology_ != nullptr && *wanted_epoch_ != topology_->epoch) {
            if (!refresh_scheduled_) {
              refresh_scheduled_ = true;
              again_at = next_refresh_at_;
            }
          } else {
            wanted_epoch_.reset();
          }
        }
        if (again_at.has_value()) {
          timer_.RunAt(*again_at, [this] { OnRefreshTimer(); });
        }
      });
}

// --- ClientImpl: the API ----------------------------------------------------

void ClientImpl::CreateAsync(absl::string_view ns, const CreateOptions& options,
                             SessionCallback done) {
  auto req = std::make_shared<v1::CreateRequest>();
  auto resp = std::make_shared<v1::CreateResponse>();
  req->set_namespace_(std::string(ns));
  req->set_user_id(options.user_id);
  for (const auto& [key, value] : options.attributes) {
    (*req->mutable_attributes())[key] = value;
  }
  req->set_idle_timeout_ms(options.idle_timeout_ms);
  req->set_absolute_ttl_ms(options.absolute_ttl_ms);
  req->set_durability(ToProto(options.durability));
  StartUnary(
      Route::Of(Route::Kind::kAnyNode), /*idempotent=*/false, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncCreate(ctx, *q, cq);
      },
      [resp, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(std::move(status));
        done(FromProto(resp->session()));
      });
}

void ClientImpl::GetAsync(absl::string_view ns, absl::string_view id,
                          bool touch, SessionCallback done) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) {
    Post([done = std::move(done), status = raw.status()] { done(status); });
    return;
  }
  auto out = std::make_shared<SessionData>();
  SendFn send;
  if (options_.coalesce_gets) {
    send = [ns = std::string(ns), id = std::string(id), touch, out](
               NodeConn* node, absl::Time deadline, AttemptDone d) {
      auto get = std::make_unique<PendingGet>();
      get->id = id;
      get->deadline = deadline;
      get->done = [out, d = std::move(d)](GetOutcome outcome) {
        AttemptResult result;
        result.node_answered = outcome.node_answered;
        result.never_sent = outcome.never_sent;
        if (outcome.session.ok()) {
          *out = *std::move(outcome.session);
        } else {
          result.status = outcome.session.status();
        }
        d(std::move(result));
      };
      node->coalescer->Enqueue(ns, touch, std::move(get));
    };
  } else {
    auto req = std::make_shared<v1::GetRequest>();
    auto resp = std::make_shared<v1::GetResponse>();
    req->set_namespace_(std::string(ns));
    req->set_id(std::string(id));
    req->set_skip_touch(!touch);
    send = [this, req, resp, out](NodeConn* node, absl::Time deadline,
                                  AttemptDone d) {
      SendUnary(
          node, deadline, req.get(), resp.get(),
          [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
            return n->sessions->PrepareAsyncGet(ctx, *q, cq);
          },
          [resp, out, d = std::move(d)](AttemptResult result) {
            if (result.status.ok()) *out = FromProto(resp->session());
            d(std::move(result));
          });
    };
  }
  StartCall(Route::Session(PartitionOf(*raw)), /*idempotent=*/true,
            std::move(send),
            [out, done = std::move(done)](absl::Status status) {
              if (!status.ok()) return done(std::move(status));
              done(std::move(*out));
            });
}

void ClientImpl::UpdateAsync(absl::string_view ns, absl::string_view id,
                             const UpdateOptions& options,
                             SessionCallback done) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) {
    Post([done = std::move(done), status = raw.status()] { done(status); });
    return;
  }
  auto req = std::make_shared<v1::UpdateRequest>();
  auto resp = std::make_shared<v1::UpdateResponse>();
  req->set_namespace_(std::string(ns));
  req->set_id(std::string(id));
  for (const auto& [key, value] : options.set)
    (*req->mutable_set())[key] = value;
  for (const std::string& key : options.remove) req->add_remove(key);
  req->set_expected_version(options.expected_version);
  req->set_durability(ToProto(options.durability));
  req->set_skip_touch(options.skip_touch);
  StartUnary(
      Route::Session(PartitionOf(*raw)), /*idempotent=*/false, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncUpdate(ctx, *q, cq);
      },
      [resp, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(std::move(status));
        done(FromProto(resp->session()));
      });
}

void ClientImpl::TouchAsync(absl::string_view ns, absl::string_view id,
                            ExpiryCallback done) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) {
    Post([done = std::move(done), status = raw.status()] { done(status); });
    return;
  }
  auto req = std::make_shared<v1::TouchRequest>();
  auto resp = std::make_shared<v1::TouchResponse>();
  req->set_namespace_(std::string(ns));
  req->set_id(std::string(id));
  StartUnary(
      Route::Session(PartitionOf(*raw)), /*idempotent=*/true, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncTouch(ctx, *q, cq);
      },
      [resp, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(std::move(status));
        done(resp->expires_at_ms());
      });
}

void ClientImpl::DestroyAsync(absl::string_view ns, absl::string_view id,
                              Durability durability, StatusCallback done) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) {
    Post([done = std::move(done), status = raw.status()] { done(status); });
    return;
  }
  auto req = std::make_shared<v1::DestroyRequest>();
  auto resp = std::make_shared<v1::DestroyResponse>();
  req->set_namespace_(std::string(ns));
  req->set_id(std::string(id));
  req->set_durability(ToProto(durability));
  StartUnary(
      Route::Session(PartitionOf(*raw)), /*idempotent=*/true, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->sessions->PrepareAsyncDestroy(ctx, *q, cq);
      },
      std::move(done));
}

absl::StatusOr<SessionData> ClientImpl::Create(absl::string_view ns,
                                               const CreateOptions& options) {
  return Wait<absl::StatusOr<SessionData>>(
      [&](SessionCallback done) { CreateAsync(ns, options, std::move(done)); });
}

absl::StatusOr<SessionData> ClientImpl::Get(absl::string_view ns,
                                            absl::string_view id, bool touch) {
  return Wait<absl::StatusOr<SessionData>>(
      [&](SessionCallback done) { GetAsync(ns, id, touch, std::move(done)); });
}

absl::StatusOr<SessionData> ClientImpl::Update(absl::string_view ns,
                                               absl::string_view id,
                                               const UpdateOptions& options) {
  return Wait<absl::StatusOr<SessionData>>([&](SessionCallback done) {
    UpdateAsync(ns, id, options, std::move(done));
  });
}

absl::StatusOr<int64_t> ClientImpl::Touch(absl::string_view ns,
                                          absl::string_view id) {
  return Wait<absl::StatusOr<int64_t>>(
      [&](ExpiryCallback done) { TouchAsync(ns, id, std::move(done)); });
}

absl::Status ClientImpl::Destroy(absl::string_view ns, absl::string_view id,
                                 Durability durability) {
  return Wait<absl::Status>([&](StatusCallback done) {
    DestroyAsync(ns, id, durability, std::move(done));
  });
}

absl::StatusOr<SessionData> ClientImpl::Rotate(absl::string_view ns,
                                               absl::string_view id,
                                               Durability durability) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) return raw.status();
  auto req = std::make_shared<v1::RotateRequest>();
  auto resp = std::make_shared<v1::RotateResponse>();
  req->set_namespace_(std::string(ns));
  req->set_id(std::string(id));
  req->set_durability(ToProto(durability));
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        Route::Session(PartitionOf(*raw)), /*idempotent=*/false, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncRotate(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  return FromProto(resp->session());
}

absl::StatusOr<std::vector<SessionData>> ClientImpl::ListByUser(
    absl::string_view ns, absl::string_view user_id) {
  auto req = std::make_shared<v1::ListByUserRequest>();
  auto resp = std::make_shared<v1::ListByUserResponse>();
  req->set_namespace_(std::string(ns));
  req->set_user_id(std::string(user_id));
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        Route::Of(Route::Kind::kAnyNode), /*idempotent=*/true, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncListByUser(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  std::vector<SessionData> sessions;
  sessions.reserve(resp->sessions_size());
  for (const v1::Session& s : resp->sessions())
    sessions.push_back(FromProto(s));
  return sessions;
}

absl::StatusOr<int> ClientImpl::DestroyByUser(absl::string_view ns,
                                              absl::string_view user_id,
                                              absl::string_view except_id,
                                              Durability durability) {
  auto req = std::make_shared<v1::DestroyByUserRequest>();
  auto resp = std::make_shared<v1::DestroyByUserResponse>();
  req->set_namespace_(std::string(ns));
  req->set_user_id(std::string(user_id));
  req->set_except_id(std::string(except_id));
  req->set_durability(ToProto(durability));
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        Route::Of(Route::Kind::kAnyNode), /*idempotent=*/true, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncDestroyByUser(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  return static_cast<int>(resp->destroyed_count());
}

std::vector<absl::StatusOr<SessionData>> ClientImpl::BatchGet(
    absl::string_view ns, const std::vector<std::string>& ids, bool touch) {
  std::vector<absl::StatusOr<SessionData>> results(
      ids.size(), absl::InternalError("no result"));
  std::shared_ptr<const RoutingTable> topo = Snapshot();
  // Per primary node: (partition, index into ids) of its ids.
  std::map<int, std::vector<std::pair<uint32_t, size_t>>> by_primary;
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StatusOr<std::string> raw = DecodeId(ids[i]);
    if (!raw.ok()) {
      results[i] = raw.status();
      continue;
    }
    const uint32_t partition = PartitionOf(*raw);
    by_primary[topo->placement->Primary(partition)].emplace_back(partition, i);
  }
  struct Part {
    uint32_t partition;  // of its first id: routes the part
    std::vector<size_t> indexes;
  };
  std::vector<Part> parts;
  for (const auto& [primary, entries] : by_primary) {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i % static_cast<size_t>(options_.max_batch) == 0) {
        parts.push_back(Part{entries[i].first, {}});
      }
      parts.back().indexes.push_back(entries[i].second);
    }
  }
  absl::BlockingCounter pending(static_cast<int>(parts.size()));
  for (const Part& part : parts) {
    auto req = std::make_shared<v1::BatchGetRequest>();
    auto resp = std::make_shared<v1::BatchGetResponse>();
    req->set_namespace_(std::string(ns));
    req->set_skip_touch(!touch);
    for (size_t i : part.indexes) req->add_ids(ids[i]);
    StartUnary(
        Route::Session(part.partition), /*idempotent=*/true, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->sessions->PrepareAsyncBatchGet(ctx, *q, cq);
        },
        [&results, &pending, &part, resp](absl::Status status) {
          if (status.ok() &&
              resp->results_size() != static_cast<int>(part.indexes.size())) {
            status = absl::InternalError(absl::StrCat(
                "BatchGet of ", part.indexes.size(), " ids returned ",
                resp->results_size(), " results"));
          }
          for (size_t j = 0; j < part.indexes.size(); ++j) {
            absl::StatusOr<SessionData>& out = results[part.indexes[j]];
            if (!status.ok()) {
              out = status;
              continue;
            }
            const v1::BatchGetResult& r = resp->results(static_cast<int>(j));
            if (r.code() == 0) {
              out = FromProto(r.session());
            } else {
              out = FromRpcCode(r.code(), r.message());
            }
          }
          pending.DecrementCount();
        });
  }
  pending.Wait();
  return results;
}

absl::StatusOr<TopologyInfo> ClientImpl::Topology() {
  auto req = std::make_shared<v1::TopologyRequest>();
  auto resp = std::make_shared<v1::TopologyResponse>();
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        Route::Of(Route::Kind::kBootstrap), /*idempotent=*/true, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->cluster->PrepareAsyncTopology(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  absl::Status installed = InstallTopology(*resp);
  if (!installed.ok()) {
    gpr_log(GPR_ERROR, "sesh client: cannot route by fetched topology: %s",
            installed.ToString().c_str());
  }
  return FromProto(*resp);
}

absl::StatusOr<std::string> ClientImpl::OwnerOf(absl::string_view id) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) return raw.status();
  std::shared_ptr<const RoutingTable> topo = Snapshot();
  return topo->nodes[topo->placement->Primary(PartitionOf(*raw))].id;
}

absl::StatusOr<NodeStatsInfo> ClientImpl::NodeStats(absl::string_view node_id) {
  auto req = std::make_shared<v1::NodeStatsRequest>();
  auto resp = std::make_shared<v1::NodeStatsResponse>();
  Route route = Route::Of(Route::Kind::kOneNode);
  route.node_id = std::string(node_id);
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        std::move(route), /*idempotent=*/true, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->cluster->PrepareAsyncNodeStats(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  NodeStatsInfo info;
  info.node_id = resp->node_id();
  info.requests_served = resp->requests_served();
  info.requests_forwarded = resp->requests_forwarded();
  info.stored_sessions = resp->stored_sessions();
  info.serving = resp->serving();
  info.membership_error = resp->membership_error();
  info.batch_get_calls = resp->batch_get_calls();
  info.repair_reads = resp->repair_reads();
  info.pending_touches = resp->pending_touches();
  info.storage_busy = resp->storage_busy();
  return info;
}

absl::Status ValidateOptions(const ClientOptions& o) {
  if (o.seeds.empty()) return absl::InvalidArgumentError("no seeds");
  if (o.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline must be > 0");
  }
  if (o.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be >= 1");
  }
  if (o.initial_backoff < absl::ZeroDuration() ||
      o.max_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("backoffs must be >= 0");
  }
  if (o.max_batch < 1 || o.max_batches_in_flight_per_node < 1) {
    return absl::InvalidArgumentError(
        "max_batch and max_batches_in_flight_per_node must be >= 1");
  }
  if (o.max_batch_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_batch_wait must be >= 0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  auto client = std::make_unique<ClientImpl>(options);
  absl::Status status = client->Bootstrap();
  if (!status.ok()) return status;
  return std::unique_ptr<Client>(std::move(client));
}

}  // namespace sesh

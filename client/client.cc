// sesh::Client over gRPC's async API: the public API glue. The machinery is
// in client/internal/: checking the options (client_options.h), routing and
// topology refresh (router.h), the retrying call state machine
// (retrying_call.h), one attempt on the client's own completion queue
// (attempt.h, queued_call.h), per-node Get coalescing (get_coalescer.h), sent
// by GetBatchSender as RPCs or over a StreamGet call (batch_stream.h), the
// same coalescing of writes over a StreamWrite call (write_batch_sender.h),
// and the calls on all of a user's sessions (user_calls.h).

#include "client/sesh/client.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/internal/attempt.h"
#include "client/internal/client_options.h"
#include "client/internal/batch_stream.h"
#include "client/internal/get_batch_sender.h"
#include "client/internal/grpc_status.h"
#include "client/internal/node_conn.h"
#include "client/internal/op_counter.h"
#include "client/internal/pending_get.h"
#include "client/internal/pending_write.h"
#include "client/internal/proto_convert.h"
#include "client/internal/queued_call.h"
#include "client/internal/retrying_call.h"
#include "client/internal/router.h"
#include "client/internal/timer_thread.h"
#include "client/internal/user_calls.h"
#include "client/internal/write_batch_sender.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace {

using client_internal::AttemptDone;
using client_internal::AttemptResult;
using client_internal::AttemptRunner;
using client_internal::CallEnv;
using client_internal::ChannelConfig;
using client_internal::FinishFn;
using client_internal::FromProto;
using client_internal::FromRpcCode;
using client_internal::GetBatchSender;
using client_internal::GetOutcome;
using client_internal::GetStream;
using client_internal::PendingWrite;
using client_internal::PendingWriteBatch;
using client_internal::PendingWriteCoalescer;
using client_internal::WriteBatchSender;
using client_internal::WriteStream;
using client_internal::MakeChannelConfig;
using client_internal::NodeConn;
using client_internal::OpCounter;
using client_internal::PendingGet;
using client_internal::PendingGetBatch;
using client_internal::PendingGetCoalescer;
using client_internal::RetryPolicy;
using client_internal::Route;
using client_internal::Router;
using client_internal::RoutingTable;
using client_internal::SendFn;
using client_internal::TimerThread;
using client_internal::ToProto;
using client_internal::UserCalls;
using client_internal::ValidateOptions;

class ClientImpl final : public Client {
 public:
  ClientImpl(ClientOptions options,
             std::shared_ptr<const ChannelConfig> channel_config);
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
  absl::StatusOr<SessionPage> ListByUserPage(
      absl::string_view ns, absl::string_view user_id,
      const ListOptions& options) override;
  absl::Status DestroyByHandle(absl::string_view ns, absl::string_view user_id,
                               absl::string_view handle,
                               Durability durability) override;
  absl::StatusOr<int> DestroyByUser(absl::string_view ns,
                                    absl::string_view user_id,
                                    absl::string_view except_id,
                                    Durability durability) override;
  absl::StatusOr<int> DestroyOtherDevices(absl::string_view ns,
                                          absl::string_view user_id,
                                          absl::string_view keep_handle,
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
  absl::StatusOr<uint64_t> Decommission(absl::string_view node_id) override;
  absl::StatusOr<BackupInfo> Backup(absl::string_view node_id,
                                    absl::string_view dir) override;

 private:
  // Starts a RetryingCall (see client_internal::StartCall).
  void StartCall(Route route, bool idempotent, SendFn send, FinishFn finish) {
    client_internal::StartCall(call_env_, std::move(route), idempotent,
                               std::move(send), std::move(finish));
  }
  // StartCall for a call whose every attempt is one unary RPC of `req` into
  // `resp`; `invoke(node, ctx, req, queue)` prepares that RPC on the node's
  // stub (a PrepareAsync method).
  template <typename Req, typename Resp, typename Invoke>
  void StartUnary(Route route, bool idempotent, std::shared_ptr<Req> req,
                  std::shared_ptr<Resp> resp, Invoke invoke, FinishFn finish) {
    client_internal::StartUnaryCall(call_env_, runner_, std::move(route),
                                    idempotent, std::move(req), std::move(resp),
                                    std::move(invoke), std::move(finish));
  }
  // StartUnary for a write: with stream_writes, each attempt joins the
  // node's coalesced StreamWrite messages instead of being an RPC of its own.
  template <typename Req, typename Resp, typename Invoke>
  void StartWrite(Route route, bool idempotent, std::shared_ptr<Req> req,
                  std::shared_ptr<Resp> resp, Invoke invoke, FinishFn finish);
  // Calls `fn` on the timer thread, counted as an op.
  void Post(std::function<void()> fn);
  // The Router's FetchFn: a Topology call, retried, routed kBootstrap.
  void FetchTopology(Router::FetchDone done);
  // The Router's NewConnFn: starts the node's Get coalescer.
  void InitConn(NodeConn* node);

  // Shared by the sync forms: Start(callback) then wait for the callback.
  template <typename T, typename StartFn>
  static T Wait(StartFn start);

  // Constant after construction.
  const ClientOptions options_;

  TimerThread timer_;
  // Every call's completion, run by queue_thread_ (see queued_call.h).
  grpc::CompletionQueue queue_;
  std::thread queue_thread_;
  // Calls in flight, so that the destructor can wait for them.
  OpCounter ops_;
  Router router_;
  AttemptRunner runner_;
  GetBatchSender batch_sender_;
  WriteBatchSender write_sender_;
  CallEnv call_env_;
  UserCalls user_calls_;
};

template <typename Req, typename Resp, typename Invoke>
void ClientImpl::StartWrite(Route route, bool idempotent,
                            std::shared_ptr<Req> req,
                            std::shared_ptr<Resp> resp, Invoke invoke,
                            FinishFn finish) {
  if (!options_.stream_writes) {
    StartUnary(std::move(route), idempotent, std::move(req), std::move(resp),
               std::move(invoke), std::move(finish));
    return;
  }
  auto send = [this, req, resp, invoke](NodeConn* node, absl::Time deadline,
                                        AttemptDone done) {
    auto unary = [this, node, deadline, req, resp, invoke, done] {
      runner_.SendUnary(node, deadline, req.get(), resp.get(), invoke, done);
    };
    if (node->write_stream.unsupported.load()) {
      unary();
      return;
    }
    auto write = std::make_unique<PendingWrite>();
    client_internal::SetOp(*req, &write->op);
    write->deadline = deadline;
    write->send_unary = unary;
    write->done = [resp, done](AttemptResult result, v1::WriteResult* r) {
      if (result.status.ok()) client_internal::TakeResult(r, resp.get());
      done(std::move(result));
    };
    absl::Status queued = node->write_coalescer->Enqueue(
        req->namespace_(), /*touch=*/true, std::move(write));
    if (!queued.ok()) {  // backpressure: fails now, not retried
      AttemptResult result;
      result.status = absl::ResourceExhaustedError(absl::StrCat(
          "write not sent to node ", node->address, ": ", queued.message(),
          " (ClientOptions::max_queued_gets_per_node)"));
      result.never_sent = true;
      write->done(std::move(result), nullptr);
    }
  };
  StartCall(std::move(route), idempotent, std::move(send), std::move(finish));
}

// --- ClientImpl: lifetime ---------------------------------------------------

ClientImpl::ClientImpl(ClientOptions options,
                       std::shared_ptr<const ChannelConfig> channel_config)
    : options_(std::move(options)),
      router_(
          options_.seeds, std::move(channel_config), &timer_,
          [this](NodeConn* node) { InitConn(node); },
          [this](Router::FetchDone done) { FetchTopology(std::move(done)); }),
      runner_(&queue_, &timer_,
              [this](uint64_t epoch) { router_.NoteEpoch(epoch); }),
      batch_sender_(&runner_, &ops_, options_.stream_gets),
      write_sender_(&runner_, &ops_),
      call_env_{RetryPolicy{options_.max_attempts, options_.deadline,
                            options_.initial_backoff, options_.max_backoff},
                &router_, &timer_, &ops_},
      user_calls_(&call_env_, &runner_) {
  queue_thread_ = std::thread([this] { client_internal::RunQueue(&queue_); });
}

ClientImpl::~ClientImpl() {
  ops_.Shutdown();
  // Open StreamGet and StreamWrite calls hold an op each until they end; no
  // new one starts now (BatchStream::OpenFor's Begin fails).
  std::vector<std::shared_ptr<GetStream>> get_streams;
  std::vector<std::shared_ptr<WriteStream>> write_streams;
  router_.ForEachConn([&](NodeConn* conn) {
    get_streams.push_back(conn->get_stream.Current());
    write_streams.push_back(conn->write_stream.Current());
  });
  for (const auto& stream : get_streams) {
    if (stream != nullptr) stream->Cancel();
  }
  for (const auto& stream : write_streams) {
    if (stream != nullptr) stream->Cancel();
  }
  get_streams.clear();
  write_streams.clear();
  ops_.AwaitZero();
  // Every call has ended (each held an op): nothing is left on the queue.
  queue_.Shutdown();
  queue_thread_.join();
  // Pending timers are coalescer and refresh timers with nothing left to do.
  timer_.Stop();
}

void ClientImpl::InitConn(NodeConn* node) {
  if (options_.stream_writes) {
    node->write_coalescer = std::make_unique<PendingWriteCoalescer>(
        options_.max_batch, options_.max_batches_in_flight_per_node,
        options_.max_batch_wait, &timer_,
        [this, node](PendingWriteBatch batch) {
          write_sender_.Send(node, std::move(batch));
        },
        options_.max_queued_gets_per_node);
  }
  if (!options_.coalesce_gets) return;
  node->coalescer = std::make_unique<PendingGetCoalescer>(
      options_.max_batch, options_.max_batches_in_flight_per_node,
      options_.max_batch_wait, &timer_,
      [this, node](PendingGetBatch batch) {
        batch_sender_.Send(node, std::move(batch));
      },
      options_.max_queued_gets_per_node);
}

void ClientImpl::Post(std::function<void()> fn) {
  if (!ops_.Begin()) return;
  timer_.RunAt(absl::InfinitePast(), [this, fn = std::move(fn)] {
    fn();
    ops_.End();
  });
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

// --- ClientImpl: topology ---------------------------------------------------

absl::Status ClientImpl::Bootstrap() {
  absl::Status last = absl::UnavailableError("no seeds");
  // A seed that refused the token: the likely cause if none answers.
  std::optional<absl::Status> refused;
  for (const std::string& seed : options_.seeds) {
    NodeConn* node = router_.Conn(seed);
    v1::TopologyRequest req;
    v1::TopologyResponse resp;
    absl::Status status = Wait<absl::Status>([&](auto done) {
      runner_.SendUnary(
          node, absl::Now() + options_.deadline, &req, &resp,
          [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
            return n->cluster->PrepareAsyncTopology(ctx, *q, cq);
          },
          [done](AttemptResult result) { done(std::move(result.status)); });
    });
    if (status.ok()) status = router_.Install(resp);
    if (status.ok()) return status;
    last = absl::Status(status.code(),
                        absl::StrCat("seed ", seed, ": ", status.message()));
    if (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status)) {
      refused = last;
    }
  }
  if (refused.has_value()) return *refused;
  return absl::UnavailableError(
      absl::StrCat("no seed answered with a usable topology; last error: ",
                   last.ToString()));
}

void ClientImpl::FetchTopology(Router::FetchDone done) {
  auto req = std::make_shared<v1::TopologyRequest>();
  auto resp = std::make_shared<v1::TopologyResponse>();
  StartUnary(
      Route::Of(Route::Kind::kBootstrap), /*idempotent=*/true, req, resp,
      [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
        return n->cluster->PrepareAsyncTopology(ctx, *q, cq);
      },
      [resp, done = std::move(done)](absl::Status status) {
        done(std::move(status), *resp);
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
  StartWrite(
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
      absl::Status queued = node->coalescer->Enqueue(ns, touch, std::move(get));
      if (!queued.ok()) {  // backpressure: fails now, not retried
        GetOutcome outcome;
        outcome.session = absl::ResourceExhaustedError(absl::StrCat(
            "Get not sent to node ", node->address, ": ", queued.message(),
            " (ClientOptions::max_queued_gets_per_node)"));
        outcome.never_sent = true;
        get->done(std::move(outcome));
      }
    };
  } else {
    auto req = std::make_shared<v1::GetRequest>();
    auto resp = std::make_shared<v1::GetResponse>();
    req->set_namespace_(std::string(ns));
    req->set_id(std::string(id));
    req->set_skip_touch(!touch);
    send = [this, req, resp, out](NodeConn* node, absl::Time deadline,
                                  AttemptDone d) {
      runner_.SendUnary(
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
  StartWrite(
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
  StartWrite(
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
  StartWrite(
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
  return user_calls_.ListByUser(ns, user_id);
}

absl::StatusOr<SessionPage> ClientImpl::ListByUserPage(
    absl::string_view ns, absl::string_view user_id,
    const ListOptions& options) {
  return user_calls_.ListByUserPage(ns, user_id, options);
}

absl::Status ClientImpl::DestroyByHandle(absl::string_view ns,
                                         absl::string_view user_id,
                                         absl::string_view handle,
                                         Durability durability) {
  return user_calls_.DestroyByHandle(ns, user_id, handle, durability);
}

absl::StatusOr<int> ClientImpl::DestroyByUser(absl::string_view ns,
                                              absl::string_view user_id,
                                              absl::string_view except_id,
                                              Durability durability) {
  return user_calls_.DestroyByUser(ns, user_id, except_id, durability);
}

absl::StatusOr<int> ClientImpl::DestroyOtherDevices(
    absl::string_view ns, absl::string_view user_id,
    absl::string_view keep_handle, Durability durability) {
  return user_calls_.DestroyOtherDevices(ns, user_id, keep_handle, durability);
}

std::vector<absl::StatusOr<SessionData>> ClientImpl::BatchGet(
    absl::string_view ns, const std::vector<std::string>& ids, bool touch) {
  std::vector<absl::StatusOr<SessionData>> results(
      ids.size(), absl::InternalError("no result"));
  std::shared_ptr<const RoutingTable> topo = router_.Snapshot();
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
  absl::Status installed = router_.Install(*resp);
  if (!installed.ok()) {
    gpr_log(GPR_ERROR, "sesh client: cannot route by fetched topology: %s",
            installed.ToString().c_str());
  }
  return FromProto(*resp);
}

absl::StatusOr<std::string> ClientImpl::OwnerOf(absl::string_view id) {
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) return raw.status();
  std::shared_ptr<const RoutingTable> topo = router_.Snapshot();
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
  return FromProto(*resp);
}

absl::StatusOr<uint64_t> ClientImpl::Decommission(absl::string_view node_id) {
  auto req = std::make_shared<v1::DecommissionRequest>();
  req->set_node_id(std::string(node_id));
  auto resp = std::make_shared<v1::DecommissionResponse>();
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        Route::Of(Route::Kind::kAnyNode), /*idempotent=*/false, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->cluster->PrepareAsyncDecommission(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  return resp->epoch();
}

absl::StatusOr<BackupInfo> ClientImpl::Backup(absl::string_view node_id,
                                              absl::string_view dir) {
  auto req = std::make_shared<v1::BackupRequest>();
  req->set_dir(std::string(dir));
  auto resp = std::make_shared<v1::BackupResponse>();
  Route route = Route::Of(Route::Kind::kOneNode);
  route.node_id = std::string(node_id);
  absl::Status status = Wait<absl::Status>([&](StatusCallback done) {
    StartUnary(
        std::move(route), /*idempotent=*/false, req, resp,
        [](NodeConn* n, auto* ctx, auto* q, grpc::CompletionQueue* cq) {
          return n->cluster->PrepareAsyncBackup(ctx, *q, cq);
        },
        std::move(done));
  });
  if (!status.ok()) return status;
  const v1::BackupManifest& m = resp->manifest();
  return BackupInfo{m.node_id(), resp->checkpoint_dir(), resp->manifest_path(),
                    m.taken_at_ms(), m.records(), m.files(), m.bytes(),
                    m.hints()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  absl::StatusOr<std::shared_ptr<const ChannelConfig>> channel_config =
      MakeChannelConfig(options);
  if (!channel_config.ok()) return channel_config.status();
  auto client =
      std::make_unique<ClientImpl>(options, *std::move(channel_config));
  absl::Status status = client->Bootstrap();
  if (!status.ok()) return status;
  return std::unique_ptr<Client>(std::move(client));
}

}  // namespace sesh

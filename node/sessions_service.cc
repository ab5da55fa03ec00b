#include "node/sessions_service.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "replication/join.h"
#include "node/convert.h"
#include "replication/placement.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

using Stub = v1::Sessions::StubInterface::async_interface;

grpc::Status Unavailable(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(message));
}

grpc::Status Invalid(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      std::string(message));
}

// Validates the namespace and decodes the id, before any storage access.
absl::StatusOr<std::string> ValidateTarget(absl::string_view ns,
                                           absl::string_view id) {
  if (ns.empty()) return absl::InvalidArgumentError("namespace is required");
  return DecodeId(id);
}

// Adapts an absl::Status callback to a gRPC one (the coordinator speaks
// absl::Status).
std::function<void(absl::Status)> StatusTo(
    std::function<void(grpc::Status)> done) {
  return [done = std::move(done)](absl::Status s) { done(ToGrpcStatus(s)); };
}

// Finishes a unary reactor with the status it is given.
std::function<void(grpc::Status)> FinishWith(grpc::ServerUnaryReactor* reactor) {
  return [reactor](grpc::Status status) { reactor->Finish(status); };
}

std::map<std::string, std::string> ToMap(
    const google::protobuf::Map<std::string, std::string>& in) {
  return std::map<std::string, std::string>(in.begin(), in.end());
}


}  // namespace

void SessionsService::Offload(std::function<void()> fn) {
  if (pool_ == nullptr) {
    fn();
    return;
  }
  // A full pool runs it here rather than drop it: the call still answers.
  auto shared = std::make_shared<std::function<void()>>(std::move(fn));
  if (!pool_->TrySchedule([shared] { (*shared)(); })) (*shared)();
}

SessionsService::SessionsService(
    SessionStore* store, Cluster* cluster,
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const ServiceOptions& options, WorkerPool* pool)
    : store_(store),
      cluster_(cluster),
      options_(options),
      epoch_text_(absl::StrCat(cluster->epoch())),
      pool_(pool),
      coordinator_(cluster, store,
                   [this](std::function<void()> fn) { Offload(std::move(fn)); }),
      users_(store, cluster, &stubs_,
             UserSessions::Options{options.forward_timeout_ms,
                                   options.max_destroy_per_call},
             [this](const v1::DestroyRequest& request, Done done) {
               // DoDestroy needs the request until it answers.
               auto kept = std::make_shared<v1::DestroyRequest>(request);
               auto out = std::make_shared<v1::DestroyResponse>();
               CallInfo call;
               call.deadline = std::chrono::system_clock::now() +
                               std::chrono::milliseconds(
                                   options_.forward_timeout_ms);
               DoDestroy(*kept, out.get(), call,
                         [kept, out, done](grpc::Status s) { done(s); });
             }),
      stream_write_calls_(StreamWriteCalls()),
      get_streams_("StreamGet", options.auth,
                   [this](const v1::BatchGetRequest& request,
                          v1::BatchGetResponse* response, Done done) {
                     ServeStreamGet(request, response, std::move(done));
                   },
                   [cluster] { return cluster->epoch(); }),
      write_streams_("StreamWrite", options.auth,
                     [this](const v1::WriteBatchRequest& request,
                            v1::WriteBatchResponse* response, Done done) {
                       ServeStreamWrite(request, response, std::move(done));
                     },
                     [cluster] { return cluster->epoch(); }) {
  for (const auto& channel : channels) {
    stubs_.push_back(v1::Sessions::NewStub(channel));
  }
}

bool SessionsService::Admit(grpc::CallbackServerContext* ctx,
                            grpc::ServerUnaryReactor* reactor,
                            absl::string_view ns) const {
  grpc::Status admitted = options_.auth->ForNamespace(*ctx, ns);
  if (admitted.ok()) return true;
  reactor->Finish(admitted);
  return false;
}

SessionsService::CallInfo SessionsService::InfoOf(
    grpc::CallbackServerContext* ctx) const {
  CallInfo info;
  // Only the peer port carries forwarded calls; a client's metadata never
  // makes a call count as forwarded.
  info.forwarded = options_.auth->peer_port();
  info.deadline = ctx->deadline();
  return info;
}

SessionsService::CallInfo SessionsService::StreamCall() const {
  CallInfo info;
  info.forwarded = options_.auth->peer_port();
  // A stream has no deadline per message: forwarded calls take the forward
  // timeout alone.
  info.deadline = std::chrono::system_clock::time_point::max();
  return info;
}

WriteCalls SessionsService::StreamWriteCalls() {
  WriteCalls calls;
  calls.create = [this](const v1::CreateRequest& request,
                        v1::CreateResponse* response, Done done) {
    DoCreate(request, response, StreamCall(), std::move(done));
  };
  calls.update = [this](const v1::UpdateRequest& request,
                        v1::UpdateResponse* response, Done done) {
    DoUpdate(request, response, StreamCall(), std::move(done));
  };
  calls.destroy = [this](const v1::DestroyRequest& request,
                         v1::DestroyResponse* response, Done done) {
    DoDestroy(request, response, StreamCall(), std::move(done));
  };
  calls.touch = [this](const v1::TouchRequest& request,
                       v1::TouchResponse* response, Done done) {
    DoTouch(request, response, StreamCall(), std::move(done));
  };
  return calls;
}

grpc::ServerUnaryReactor* SessionsService::Start(
    grpc::CallbackServerContext* ctx) {
  ctx->AddTrailingMetadata(kEpochHeader, epoch_text_);
  return ctx->DefaultReactor();
}

Durability SessionsService::Effective(v1::Durability requested) const {
  switch (requested == v1::DURABILITY_DEFAULT ? options_.default_durability
                                              : requested) {
    case v1::ONE:
      return Durability::kOne;
    case v1::ALL:
      return Durability::kAll;
    default:
      return Durability::kQuorum;
  }
}

template <typename Request, typename Response>
void SessionsService::Forward(int node, AsyncMethod<Request, Response> method,
                              const Request& request, Response* response,
                              const CallInfo& call, uint32_t partition,
                              bool idempotent, std::function<void()> local,
                              Done done) {
  const bool may_run_here =
      local && idempotent &&
      cluster_->placement().Holds(cluster_->self_index(), partition);
  if (cluster_->isolated()) {  // fault injection: the peer is unreachable
    if (may_run_here) {
      local();
    } else {
      done(Unavailable("cut off from the partition's coordinator"));
    }
    return;
  }
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  auto ctx = std::make_shared<grpc::ClientContext>();
  const auto cap = std::chrono::system_clock::now() +
                   std::chrono::milliseconds(options_.forward_timeout_ms);
  // The caller's own deadline comes first: its expiry is the caller's
  // impatience, not the coordinator's silence.
  const bool callers_deadline = call.deadline < cap;
  ctx->set_deadline(std::min(call.deadline, cap));
  (stubs_[node]->async()->*method)(
      ctx.get(), &request, response,
      [this, ctx, node, may_run_here, callers_deadline,
       local = std::move(local), done = std::move(done)](grpc::Status status) {
        // A node that answered adds its epoch; no epoch means the call never
        // got an answer from a Sesh node (unreachable, or too slow).
        const bool answered =
            ctx->GetServerTrailingMetadata().count(kEpochHeader) > 0;
        const bool timed_out =
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
        const bool no_answer =
            !answered &&
            (status.error_code() == grpc::StatusCode::UNAVAILABLE || timed_out);
        if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
            status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          // The peer port refused this node, not the caller (whose token
          // was checked here): a membership change between the two
          // (docs/scaling.md). Nothing ran there.
          done(Unavailable(absl::StrFormat(
              "the partition's coordinator refused this node (%s); the "
              "membership is changing, retry",
              status.error_message())));
          return;
        }
        if (!no_answer || (timed_out && callers_deadline)) {
          done(status);
          return;
        }
        cluster_->MarkSuspect(node, absl::UnavailableError(absl::StrCat(
                                        "forwarded call: ",
                                        status.error_message())));
        if (may_run_here) {
          local();
          return;
        }
        done(Unavailable(absl::StrFormat(
            "the partition's coordinator did not answer (%s); the call may "
            "have been applied there",
            status.error_message())));
      });
}

template <typename Request, typename Response>
void SessionsService::Dispatch(AsyncMethod<Request, Response> method,
                               const Request& request, Response* response,
                               const CallInfo& call, bool idempotent,
                               LocalFn local, Done done) {
  absl::StatusOr<std::string> raw =
      ValidateTarget(request.namespace_(), request.id());
  if (!raw.ok()) {
    done(ToGrpcStatus(raw.status()));
    return;
  }
  const uint32_t partition = PartitionOf(*raw);
  std::function<void()> run_here = [local = std::move(local), raw = *raw,
                                    partition] { local(raw, partition); };
  Coordinator::Route route = coordinator_.RouteFor(partition, call.forwarded);
  switch (route.where) {
    case Coordinator::Where::kLocal:
      run_here();
      return;
    case Coordinator::Where::kForward:
      Forward(route.node, method, request, response, call, partition,
              idempotent, std::move(run_here), std::move(done));
      return;
    case Coordinator::Where::kUnavailable:
      done(Unavailable(absl::StrFormat(
          "no replica of partition %d is up and caught up", partition)));
      return;
  }
}

std::string SessionsService::MintLocalId() const {
  const int self = cluster_->self_index();
  const PlacementMap& placement = cluster_->placement();
  // A joining node is the primary of nothing: any id, forwarded.
  if (!cluster_->holds_data()) return NewRawId();
  // Expected tries: the node count.
  for (int attempt = 0; attempt < 100000; ++attempt) {
    std::string raw = NewRawId();
    if (placement.Primary(PartitionOf(raw)) == self) return raw;
  }
  return NewRawId();
}

void SessionsService::DoCreate(const v1::CreateRequest& request,
                               v1::CreateResponse* response,
                               const CallInfo& call, Done done) {
  CreateArgs args;
  args.ns = request.namespace_();
  args.user_id = request.user_id();
  args.attributes = ToMap(request.attributes());
  args.idle_timeout_ms = request.idle_timeout_ms();
  args.absolute_ttl_ms = request.absolute_ttl_ms();
  absl::Status valid = store_->ValidateCreate(args);
  if (!valid.ok()) {
    done(ToGrpcStatus(valid));
    return;
  }
  if ((!cluster_->serving() || !cluster_->holds_data()) && !call.forwarded) {
    // Catching up, or joining (no partition yet): let a node that serves
    // and holds data mint the session.
    for (int node = 0; node < cluster_->node_count(); ++node) {
      if (node != cluster_->self_index() && cluster_->IsUp(node) &&
          cluster_->IsHolder(node)) {
        Forward(node,
                static_cast<AsyncMethod<v1::CreateRequest,
                                        v1::CreateResponse>>(&Stub::Create),
                request, response, call, 0, /*idempotent=*/false, nullptr,
                std::move(done));
        return;
      }
    }
    done(Unavailable("this node is catching up and no peer is up"));
    return;
  }
  // A session with a user counts the user's sessions first: a scan.
  const bool scans = !request.user_id().empty();
  auto create = [this, &request, response, args = std::move(args),
                 done = std::move(done)]() mutable {
    std::string raw = MintLocalId();
    uint32_t partition = PartitionOf(raw);
    coordinator_.Mutate(
        partition, raw, Effective(request.durability()),
        Coordinator::Needs::kAnyCopy,
        [this, raw, args = std::move(args),
         response]() -> absl::StatusOr<std::vector<Record>> {
          absl::StatusOr<Record> created = store_->Create(raw, args);
          if (!created.ok()) return created.status();
          ToPublicSession(*created, response->mutable_session());
          return std::vector<Record>{*created};
        },
        StatusTo(std::move(done)));
  };
  if (scans) {
    Offload(std::move(create));
  } else {
    create();
  }
}

grpc::ServerUnaryReactor* SessionsService::Create(
    grpc::CallbackServerContext* ctx, const v1::CreateRequest* request,
    v1::CreateResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  DoCreate(*request, response, InfoOf(ctx), FinishWith(reactor));
  return reactor;
}

void SessionsService::Read(uint32_t partition, const std::string& raw,
                           absl::string_view ns, bool touch,
                           std::function<void(absl::StatusOr<Record>)> done) {
  coordinator_.Read(
      partition, raw,
      [this, partition, raw, ns = std::string(ns),
       touch]() -> absl::StatusOr<Record> {
        const int64_t before = store_->clock()->NowMs();
        absl::StatusOr<Record> record = store_->Get(ns, raw, touch);
        if (record.ok() && touch) {
          ReplicateIfTouched(partition, raw, before, *record);
        }
        return record;
      },
      std::move(done));
}

void SessionsService::ReplicateIfTouched(uint32_t partition,
                                         const std::string& raw,
                                         int64_t before, const Record& record) {
  // A touch recorded by this read set last_access to a time at or after
  // `before`; one that was not needed left it older.
  if (record.last_access_ms() >= before) {
    cluster_->ReplicateTouch(partition, raw, record.last_access_ms());
  }
}

void SessionsService::DoGet(const v1::GetRequest& request,
                            v1::GetResponse* response, const CallInfo& call,
                            Done done) {
  Dispatch(
      static_cast<AsyncMethod<v1::GetRequest, v1::GetResponse>>(&Stub::Get),
      request, response, call, /*idempotent=*/true,
      [this, &request, response, done](const std::string& raw,
                                       uint32_t partition) {
        Read(partition, raw, request.namespace_(), !request.skip_touch(),
             [response, done](absl::StatusOr<Record> record) {
               if (record.ok()) {
                 ToPublicSession(*record, response->mutable_session());
               }
               done(ToGrpcStatus(record.status()));
             });
      },
      done);
}

grpc::ServerUnaryReactor* SessionsService::Get(
    grpc::CallbackServerContext* ctx, const v1::GetRequest* request,
    v1::GetResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  DoGet(*request, response, InfoOf(ctx), FinishWith(reactor));
  return reactor;
}

void SessionsService::DoUpdate(const v1::UpdateRequest& request,
                               v1::UpdateResponse* response,
                               const CallInfo& call, Done done) {
  Dispatch(
      static_cast<AsyncMethod<v1::UpdateRequest, v1::UpdateResponse>>(
          &Stub::Update),
      request, response, call, /*idempotent=*/false,
      [this, &request, response, done](const std::string& raw,
                                       uint32_t partition) {
        UpdateArgs args;
        args.set = ToMap(request.set());
        args.remove.assign(request.remove().begin(), request.remove().end());
        args.expected_version = request.expected_version();
        args.touch = !request.skip_touch();
        coordinator_.Mutate(
            partition, raw, Effective(request.durability()),
            args.expected_version != 0 ? Coordinator::Needs::kCurrentCopy
                                       : Coordinator::Needs::kAnyCopy,
            [this, &request, response, raw,
             args]() -> absl::StatusOr<std::vector<Record>> {
              absl::StatusOr<Record> updated =
                  store_->Update(request.namespace_(), raw, args);
              if (!updated.ok()) return updated.status();
              ToPublicSession(*updated, response->mutable_session());
              return std::vector<Record>{*updated};
            },
            StatusTo(done));
      },
      done);
}

grpc::ServerUnaryReactor* SessionsService::Update(
    grpc::CallbackServerContext* ctx, const v1::UpdateRequest* request,
    v1::UpdateResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  DoUpdate(*request, response, InfoOf(ctx), FinishWith(reactor));
  return reactor;
}

void SessionsService::DoTouch(const v1::TouchRequest& request,
                              v1::TouchResponse* response,
                              const CallInfo& call, Done done) {
  Dispatch(
      static_cast<AsyncMethod<v1::TouchRequest, v1::TouchResponse>>(
          &Stub::Touch),
      request, response, call, /*idempotent=*/true,
      [this, &request, response, done](const std::string& raw,
                                       uint32_t partition) {
        Read(partition, raw, request.namespace_(), /*touch=*/true,
             [response, done](absl::StatusOr<Record> record) {
               if (record.ok()) {
                 response->set_last_access_ms(record->last_access_ms());
                 response->set_expires_at_ms(ExpiresAtMs(*record));
               }
               done(ToGrpcStatus(record.status()));
             });
      },
      done);
}

grpc::ServerUnaryReactor* SessionsService::Touch(
    grpc::CallbackServerContext* ctx, const v1::TouchRequest* request,
    v1::TouchResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  DoTouch(*request, response, InfoOf(ctx), FinishWith(reactor));
  return reactor;
}

void SessionsService::DoDestroy(const v1::DestroyRequest& request,
                                v1::DestroyResponse* response,
                                const CallInfo& call, Done done) {
  if (request.id().empty() && !request.handle().empty()) {
    DoDestroyByHandle(request, call, std::move(done));
    return;
  }
  Dispatch(
      static_cast<AsyncMethod<v1::DestroyRequest, v1::DestroyResponse>>(
          &Stub::Destroy),
      request, response, call, /*idempotent=*/true,
      [this, &request, done](const std::string& raw, uint32_t partition) {
        // Always writes a tombstone (SessionStore::Destroy), so it needs no
        // current copy: replicas merge it into theirs, and it wins.
        coordinator_.Mutate(
            partition, raw, Effective(request.durability()),
            Coordinator::Needs::kAnyCopy,
            [this, &request, raw]() -> absl::StatusOr<std::vector<Record>> {
              absl::StatusOr<std::optional<Record>> tombstone =
                  store_->Destroy(request.namespace_(), raw);
              if (!tombstone.ok()) return tombstone.status();
              std::vector<Record> out;
              if (tombstone->has_value()) out.push_back(**tombstone);
              return out;
            },
            StatusTo(done));
      },
      done);
}

void SessionsService::DoDestroyByHandle(const v1::DestroyRequest& request,
                                        const CallInfo& call, Done done) {
  // The user's sessions are gathered first: a scan of the user index.
  Offload([this, &request, deadline = call.deadline, done = std::move(done)] {
    users_.DestroyByHandle(request, deadline, done);
  });
}

grpc::ServerUnaryReactor* SessionsService::Destroy(
    grpc::CallbackServerContext* ctx, const v1::DestroyRequest* request,
    v1::DestroyResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  DoDestroy(*request, response, InfoOf(ctx), FinishWith(reactor));
  return reactor;
}

grpc::ServerUnaryReactor* SessionsService::Rotate(
    grpc::CallbackServerContext* ctx, const v1::RotateRequest* request,
    v1::RotateResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  Done done = FinishWith(reactor);
  Dispatch(
      static_cast<AsyncMethod<v1::RotateRequest, v1::RotateResponse>>(
          &Stub::Rotate),
      *request, response, InfoOf(ctx), /*idempotent=*/false,
      [this, request, response, done](const std::string& raw,
                                      uint32_t partition) {
        // The new id is minted in a partition this node is primary of; the
        // durability check covers the old id's partition, and the answer
        // waits for both partitions' replicas.
        std::string new_raw = MintLocalId();
        coordinator_.Mutate(
            partition, raw, Effective(request->durability()),
            Coordinator::Needs::kCurrentCopy,
            [this, request, response, raw,
             new_raw]() -> absl::StatusOr<std::vector<Record>> {
              absl::StatusOr<std::pair<Record, Record>> rotated =
                  store_->Rotate(request->namespace_(), raw, new_raw);
              if (!rotated.ok()) return rotated.status();
              ToPublicSession(rotated->first, response->mutable_session());
              return std::vector<Record>{rotated->first, rotated->second};
            },
            StatusTo(done));
      },
      done);
  return reactor;
}

grpc::ServerUnaryReactor* SessionsService::ListByUser(
    grpc::CallbackServerContext* ctx, const v1::ListByUserRequest* request,
    v1::ListByUserResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  coordinator_.CountServed(1);
  // The local part is a scan of the user index.
  Offload([this, request, response, reactor, call = InfoOf(ctx)] {
    users_.List(*request, response, call.forwarded, call.deadline,
                FinishWith(reactor));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionsService::DestroyByUser(
    grpc::CallbackServerContext* ctx, const v1::DestroyByUserRequest* request,
    v1::DestroyByUserResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  Offload([this, request, response, reactor, call = InfoOf(ctx)] {
    users_.DestroyAll(*request, response, call.deadline, FinishWith(reactor));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionsService::BatchGet(
    grpc::CallbackServerContext* ctx, const v1::BatchGetRequest* request,
    v1::BatchGetResponse* response) {
  grpc::ServerUnaryReactor* reactor = Start(ctx);
  if (!Admit(ctx, reactor, request->namespace_())) return reactor;
  ServeBatchGet(InfoOf(ctx), *request, response,
                [reactor](grpc::Status s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionsService::StreamGet(grpc::CallbackServerContext* ctx) {
  ctx->AddTrailingMetadata(kEpochHeader, epoch_text_);
  return get_streams_.Open(ctx);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionsService::StreamWrite(grpc::CallbackServerContext* ctx) {
  ctx->AddTrailingMetadata(kEpochHeader, epoch_text_);
  return write_streams_.Open(ctx);
}

void SessionsService::ServeStreamGet(const v1::BatchGetRequest& request,
                                     v1::BatchGetResponse* response,
                                     Done done) {
  ServeBatchGet(StreamCall(), request, response, std::move(done));
}

void SessionsService::ServeStreamWrite(const v1::WriteBatchRequest& request,
                                       v1::WriteBatchResponse* response,
                                       Done done) {
  if (request.ops_size() > options_.max_batch) {
    done(Invalid(absl::StrFormat(
        "max_batch: at most %d ops per StreamWrite message; nothing was "
        "applied",
        options_.max_batch)));
    return;
  }
  ServeWriteBatch(stream_write_calls_, request, response, std::move(done));
}

void SessionsService::EndIdleStreams() {
  EndIdleStreams(absl::Milliseconds(options_.stream_idle_timeout_ms));
}

void SessionsService::EndIdleStreams(absl::Duration timeout) {
  get_streams_.EndIdle(timeout);
  write_streams_.EndIdle(timeout);
}

void SessionsService::DrainStreams() {
  get_streams_.Drain();
  write_streams_.Drain();
}

void SessionsService::ServeBatchGet(const CallInfo& call,
                                    const v1::BatchGetRequest& request,
                                    v1::BatchGetResponse* response, Done done) {
  batch_get_calls_.fetch_add(1, std::memory_order_relaxed);
  if (request.namespace_().empty()) {
    done(Invalid("namespace is required"));
    return;
  }
  if (request.ids_size() > options_.max_batch) {
    done(Invalid(absl::StrFormat(
        "max_batch: at most %d ids per BatchGet", options_.max_batch)));
    return;
  }
  const int n = request.ids_size();
  for (int i = 0; i < n; ++i) response->add_results();
  if (n == 0) {
    done(grpc::Status::OK);
    return;
  }
  // Ids this node coordinates as their primary, under its read lease, are
  // read in one pass over storage and answered from it if the lease still
  // holds after the read (Coordinator::Read); the others (malformed,
  // forwarded elsewhere, failover, no lease) go one by one through the Get
  // path.
  const int self = cluster_->self_index();
  std::vector<int> fast;
  std::vector<std::string> fast_raw;
  std::vector<uint32_t> fast_partition;
  std::vector<int> slow;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::string> raw = DecodeId(request.ids(i));
    if (raw.ok()) {
      const uint32_t partition = PartitionOf(*raw);
      if (cluster_->placement().Primary(partition) == self &&
          cluster_->HasReadLease(partition) &&
          coordinator_.RouteFor(partition, call.forwarded).where ==
              Coordinator::Where::kLocal) {
        fast.push_back(i);
        fast_raw.push_back(std::move(*raw));
        fast_partition.push_back(partition);
        continue;
      }
    }
    slow.push_back(i);
  }
  if (!fast.empty()) {
    const int64_t before = store_->clock()->NowMs();
    std::vector<absl::StatusOr<Record>> records = store_->GetMany(
        request.namespace_(), fast_raw, !request.skip_touch());
    for (size_t j = 0; j < fast.size(); ++j) {
      if (!cluster_->HasReadLease(fast_partition[j])) {
        slow.push_back(fast[j]);
        continue;
      }
      coordinator_.CountServed(1);
      v1::BatchGetResult* result = response->mutable_results(fast[j]);
      const absl::StatusOr<Record>& record = records[j];
      result->set_code(static_cast<int>(record.status().code()));
      if (!record.ok()) {
        result->set_message(std::string(record.status().message()));
        continue;
      }
      if (!request.skip_touch()) {
        ReplicateIfTouched(fast_partition[j], fast_raw[j], before, *record);
      }
      ToPublicSession(*record, result->mutable_session());
    }
  }
  if (slow.empty()) {
    done(grpc::Status::OK);
    return;
  }
  auto join = std::make_shared<Join<grpc::Status>>(
      static_cast<int>(slow.size()),
      [done = std::move(done)](grpc::Status) { done(grpc::Status::OK); });
  for (int i : slow) {
    auto get = std::make_shared<v1::GetRequest>();
    get->set_namespace_(request.namespace_());
    get->set_id(request.ids(i));
    get->set_skip_touch(request.skip_touch());
    auto out = std::make_shared<v1::GetResponse>();
    v1::BatchGetResult* result = response->mutable_results(i);
    DoGet(*get, out.get(), call,
          [join, get, out, result](grpc::Status s) {
            result->set_code(static_cast<int>(s.error_code()));
            result->set_message(s.error_message());
            if (s.ok()) *result->mutable_session() = std::move(*out->mutable_session());
            join->Arrive(grpc::Status::OK);
          });
  }
}

}  // namespace sesh

#ifndef SESH_NODE_SESSIONS_SERVICE_H_
#define SESH_NODE_SESSIONS_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "node/backup.h"
#include "node/batch_streams.h"
#include "node/call_auth.h"
#include "node/user_sessions.h"
#include "node/write_batches.h"

#include "node/session_store.h"
#include "node/worker_pool.h"
#include "replication/anti_entropy.h"
#include "replication/cluster.h"
#include "absl/time/time.h"
#include "replication/coordinator.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {

// Trailing metadata on every answer: the node's membership epoch, so smart
// clients notice a topology change.
inline constexpr char kEpochHeader[] = "x-sesh-epoch";

struct ServiceOptions {
  // Who may call (required): the client port's tokens, or the peer port's
  // member certificates. Calls on the peer port are ones another node
  // forwarded: served here, never forwarded again.
  const CallAuth* auth = nullptr;
  // Cap on the deadline of a forwarded call (the caller's deadline also
  // applies).
  int64_t forward_timeout_ms = 2000;
  // Durability of writes that ask for DURABILITY_DEFAULT.
  v1::Durability default_durability = v1::QUORUM;
  // Most ids in one BatchGet.
  int max_batch = 1000;
  // Sessions one DestroyByUser call destroys at most.
  int max_destroy_per_call = 256;
  // A StreamGet or StreamWrite with no request for this long is ended
  // (UNAVAILABLE); see EndIdleStreams.
  int64_t stream_idle_timeout_ms = 300000;
};

// The Sessions service on gRPC's callback API, with StreamGet and
// StreamWrite taking raw bytes: a stream message that does not parse then
// ends the call with INVALID_ARGUMENT (the typed API reports it like the
// client's half-close).
using SessionsCallbackBase = v1::Sessions::WithCallbackMethod_Create<
    v1::Sessions::WithCallbackMethod_Get<v1::Sessions::WithCallbackMethod_Update<
        v1::Sessions::WithCallbackMethod_Touch<
            v1::Sessions::WithCallbackMethod_Destroy<
                v1::Sessions::WithCallbackMethod_Rotate<
                    v1::Sessions::WithCallbackMethod_ListByUser<
                        v1::Sessions::WithCallbackMethod_DestroyByUser<
                            v1::Sessions::WithCallbackMethod_BatchGet<
                                v1::Sessions::WithRawCallbackMethod_StreamGet<
                                    v1::Sessions::WithRawCallbackMethod_StreamWrite<
                                        v1::Sessions::Service>>>>>>>>>>>;

// The public Sessions API of a node: validates each request at the edge,
// serves it when this node coordinates the session's partition (the first up
// replica of its preference list), and otherwise forwards it once to the
// coordinator over the peer port. Every call is authorized first
// (ServiceOptions::auth). Reads, writes and their replication go through the
// Coordinator (replication/coordinator.h), which reads the other replicas
// first (read repair) unless this node is the primary holding its lease.
class SessionsService final : public SessionsCallbackBase {
 public:
  // channels[i]: the channel to node i's peer port, for forwarded calls
  // (this node's own entry is unused).
  // `pool` (may be null: work runs in place) runs storage work that must
  // not block gRPC's threads: creates that count a user's sessions, user
  // listings, read repair's writes.
  SessionsService(SessionStore* store, Cluster* cluster,
                  const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                  const ServiceOptions& options, WorkerPool* pool = nullptr);

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const v1::CreateRequest* request,
                                   v1::CreateResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const v1::UpdateRequest* request,
                                   v1::UpdateResponse* response) override;
  grpc::ServerUnaryReactor* Touch(grpc::CallbackServerContext* ctx,
                                  const v1::TouchRequest* request,
                                  v1::TouchResponse* response) override;
  grpc::ServerUnaryReactor* Destroy(grpc::CallbackServerContext* ctx,
                                    const v1::DestroyRequest* request,
                                    v1::DestroyResponse* response) override;
  grpc::ServerUnaryReactor* Rotate(grpc::CallbackServerContext* ctx,
                                   const v1::RotateRequest* request,
                                   v1::RotateResponse* response) override;
  grpc::ServerUnaryReactor* ListByUser(
      grpc::CallbackServerContext* ctx, const v1::ListByUserRequest* request,
      v1::ListByUserResponse* response) override;
  grpc::ServerUnaryReactor* DestroyByUser(
      grpc::CallbackServerContext* ctx,
      const v1::DestroyByUserRequest* request,
      v1::DestroyByUserResponse* response) override;
  grpc::ServerUnaryReactor* BatchGet(grpc::CallbackServerContext* ctx,
                                     const v1::BatchGetRequest* request,
                                     v1::BatchGetResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamGet(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamWrite(
      grpc::CallbackServerContext* ctx) override;

  // Calls this node served itself, and calls it forwarded to another node.
  uint64_t requests_served() const { return coordinator_.served(); }
  uint64_t batch_get_calls() const { return batch_get_calls_.load(); }
  uint64_t repair_reads() const { return coordinator_.repair_reads(); }
  uint64_t requests_forwarded() const { return forwarded_.load(); }

  // Ends the StreamGet and StreamWrite calls idle past
  // options.stream_idle_timeout_ms; the node calls it every second.
  void EndIdleStreams();
  // Ends those idle for `timeout` (zero: every stream between messages).
  void EndIdleStreams(absl::Duration timeout);
  // Ends every stream as the node stops (BatchStreams::Drain).
  void DrainStreams();

  // One message of a StreamGet or StreamWrite call, for streams held
  // elsewhere (node/service_proxies.h keeps a client's stream open across
  // membership changes). The caller authorized its namespace; `request`
  // and `response` stay valid until done runs.
  void ServeStreamGet(const v1::BatchGetRequest& request,
                      v1::BatchGetResponse* response,
                      std::function<void(grpc::Status)> done);
  void ServeStreamWrite(const v1::WriteBatchRequest& request,
                        v1::WriteBatchResponse* response,
                        std::function<void(grpc::Status)> done);

 private:
  using Done = std::function<void(grpc::Status)>;
  struct CallInfo {
    bool forwarded = false;
    std::chrono::system_clock::time_point deadline;
  };
  template <typename Request, typename Response>
  using AsyncMethod = void (v1::Sessions::StubInterface::async_interface::*)(
      grpc::ClientContext*, const Request*, Response*,
      std::function<void(grpc::Status)>);


  CallInfo InfoOf(grpc::CallbackServerContext* ctx) const;
  // The CallInfo of the work a stream message asks for.
  CallInfo StreamCall() const;
  // The unary write calls' work, for StreamWrite messages.
  WriteCalls StreamWriteCalls();
  // BatchGet's work, for the unary call and for each StreamGet message;
  // done may run before this returns.
  void ServeBatchGet(const CallInfo& call, const v1::BatchGetRequest& request,
                     v1::BatchGetResponse* response, Done done);
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx);
  Durability Effective(v1::Durability requested) const;

  // Sends the call to `node`. If no answer came back and this node holds
  // the partition, runs `local` instead, but only for a call that is
  // harmless to run twice (`idempotent`): a forwarded Update, Rotate or
  // Create may have been applied, and its answer is UNAVAILABLE saying so.
  // A timeout of the caller's own deadline says nothing of the
  // coordinator's health, so only a timeout of the forward cap marks it
  // suspect.
  template <typename Request, typename Response>
  void Forward(int node, AsyncMethod<Request, Response> method,
               const Request& request, Response* response,
               const CallInfo& call, uint32_t partition, bool idempotent,
               std::function<void()> local, Done done);
  // Runs a call on one session here: raw id, partition.
  using LocalFn = std::function<void(const std::string&, uint32_t)>;
  // Validates a call on one session (namespace, id) and serves it here with
  // `local`, forwards it to the partition's coordinator, or answers
  // UNAVAILABLE when no replica is up.
  template <typename Request, typename Response>
  void Dispatch(AsyncMethod<Request, Response> method, const Request& request,
                Response* response, const CallInfo& call, bool idempotent,
                LocalFn local, Done done);
  // Reads (and with touch, touches) a session this node coordinates,
  // through the Coordinator; the touch, if written, is queued for the
  // replicas.
  void Read(uint32_t partition, const std::string& raw, absl::string_view ns,
            bool touch, std::function<void(absl::StatusOr<Record>)> done);
  // After a touching read that started at `before`: queues the touch for
  // the replicas if the read recorded one.
  void ReplicateIfTouched(uint32_t partition, const std::string& raw,
                          int64_t before, const Record& record);

  // The work of the unary calls, shared with the streams: each answers
  // through done, and `request` and `response` stay valid until it runs.
  // The caller has authorized the request's namespace.
  void DoCreate(const v1::CreateRequest& request,
                v1::CreateResponse* response, const CallInfo& call,
                Done done);
  void DoGet(const v1::GetRequest& request, v1::GetResponse* response,
             const CallInfo& call, Done done);
  void DoUpdate(const v1::UpdateRequest& request,
                v1::UpdateResponse* response, const CallInfo& call,
                Done done);
  void DoTouch(const v1::TouchRequest& request, v1::TouchResponse* response,
               const CallInfo& call, Done done);
  // By id, or by handle when the id is empty and a handle is given.
  void DoDestroy(const v1::DestroyRequest& request,
                 v1::DestroyResponse* response, const CallInfo& call,
                 Done done);
  // The id-less DestroyRequest names its session by handle.
  void DoDestroyByHandle(const v1::DestroyRequest& request,
                         const CallInfo& call, Done done);
  // Authorizes a call on namespace `ns`; false (and the reactor finished
  // with the refusal) if it may not go on.
  bool Admit(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
             absl::string_view ns) const;
  // A fresh raw id in a partition this node is the primary of, so that
  // Create never needs a hop.
  std::string MintLocalId() const;
  // Runs fn on pool_ (in place if there is none or it is full).
  void Offload(std::function<void()> fn);

  // Constant after construction.
  SessionStore* const store_;
  Cluster* const cluster_;
  const ServiceOptions options_;
  const std::string epoch_text_;

  WorkerPool* const pool_;
  std::vector<std::unique_ptr<v1::Sessions::Stub>> stubs_;
  Coordinator coordinator_;
  UserSessions users_;
  std::atomic<uint64_t> batch_get_calls_{0};
  std::atomic<uint64_t> forwarded_{0};
  const WriteCalls stream_write_calls_;
  GetStreams get_streams_;
  WriteStreams write_streams_;
};

// Cluster.Topology and Cluster.NodeStats.
class ClusterService final : public v1::Cluster::CallbackService {
 public:
  // `anti_entropy` may be null (a single node). Topology needs any valid
  // token, NodeStats the admin scope (`auth`). NodeStats counts the calls
  // of `sessions` and of `forwarded` (the peer port's; may be null).
  ClusterService(SessionStore* store, Cluster* cluster,
                 const SessionsService* sessions,
                 const AntiEntropy* anti_entropy, const CallAuth* auth,
                 const SessionsService* forwarded = nullptr)
      : store_(store),
        cluster_(cluster),
        sessions_(sessions),
        forwarded_(forwarded),
        anti_entropy_(anti_entropy),
        auth_(auth) {}

  grpc::ServerUnaryReactor* Topology(grpc::CallbackServerContext* ctx,
                                     const v1::TopologyRequest* request,
                                     v1::TopologyResponse* response) override;
  grpc::ServerUnaryReactor* NodeStats(
      grpc::CallbackServerContext* ctx, const v1::NodeStatsRequest* request,
      v1::NodeStatsResponse* response) override;
  grpc::ServerUnaryReactor* Decommission(
      grpc::CallbackServerContext* ctx, const v1::DecommissionRequest* request,
      v1::DecommissionResponse* response) override;
  // Admin scope; runs on `backup` (set_backup), UNIMPLEMENTED without one.
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* ctx,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;
  // Set before serving; outlives the service.
  void set_backup(NodeBackup* backup) { backup_ = backup; }

  // Managed membership's part (node/membership_controller.h): fills
  // NodeStats' membership, and runs Decommission. Set before serving.
  struct MembershipHooks {
    std::function<void(v1::MembershipStats*)> stats;
    std::function<absl::StatusOr<uint64_t>(const std::string& node_id)>
        decommission;
  };
  void set_membership_hooks(MembershipHooks hooks) {
    hooks_ = std::move(hooks);
  }

 private:
  SessionStore* const store_;
  Cluster* const cluster_;
  const SessionsService* const sessions_;
  const SessionsService* const forwarded_;
  const AntiEntropy* const anti_entropy_;
  const CallAuth* const auth_;
  MembershipHooks hooks_;
  NodeBackup* backup_ = nullptr;
};

}  // namespace sesh

#endif  // SESH_NODE_SESSIONS_SERVICE_H_

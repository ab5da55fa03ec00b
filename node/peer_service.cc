#include "node/peer_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "node/convert.h"
#include "replication/placement.h"

namespace sesh {
namespace {

// Fault injection: an isolated node answers no peer.
grpc::ServerUnaryReactor* RefuseIfIsolated(grpc::CallbackServerContext* ctx,
                                           const Cluster* cluster) {
  if (!cluster->isolated()) return nullptr;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "isolated by fault injection"));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* PeerService::Apply(
    grpc::CallbackServerContext* ctx, const internal::ApplyRequest* request,
    internal::ApplyResponse* response) {
  if (grpc::ServerUnaryReactor* refused = RefuseIfIsolated(ctx, cluster_)) {
    return refused;
  }
  absl::Status status = absl::OkStatus();
  const PlacementMap& placement = cluster_->placement();
  const int from = placement.IndexOf(request->from_node());
  for (const internal::SessionRecord& record : request->records()) {
    absl::StatusOr<Record> merged = store_->Merge(record);
    if (!merged.ok()) {
      if (status.ok()) {
        // Logged once per call; the sender does not retry refused records.
        fprintf(stderr, "sesh-node %s: refused records from %s: %s\n",
                cluster_->self_id().c_str(), request->from_node().c_str(),
                std::string(merged.status().message()).c_str());
        status = merged.status();
      }
      continue;
    }
    const uint32_t partition = PartitionOf(record.id());
    if (placement.Primary(partition) != from &&
        !cluster_->VouchFor(partition, {*merged})) {
      auto* unvouched = response->mutable_unvouched_partitions();
      if (std::find(unvouched->begin(), unvouched->end(), partition) ==
          unvouched->end()) {
        unvouched->Add(partition);
      }
    }
  }
  for (const internal::Touch& touch : request->touches()) {
    absl::Status s = store_->MergeTouch(touch.id(), touch.last_access_ms());
    if (!s.ok() && status.ok()) status = s;
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Read(
    grpc::CallbackServerContext* ctx, const internal::ReadRequest* request,
    internal::ReadResponse* response) {
  if (grpc::ServerUnaryReactor* refused = RefuseIfIsolated(ctx, cluster_)) {
    return refused;
  }
  absl::Status status = absl::OkStatus();
  for (const std::string& raw_id : request->ids()) {
    if (raw_id.size() != kRawIdSize) continue;
    absl::StatusOr<std::optional<Record>> record = store_->ReadRaw(raw_id);
    if (!record.ok()) {
      status = record.status();
      break;
    }
    if (record->has_value()) *response->add_records() = **record;
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Fetch(
    grpc::CallbackServerContext* ctx, const internal::FetchRequest* request,
    internal::FetchResponse* response) {
  if (grpc::ServerUnaryReactor* refused = RefuseIfIsolated(ctx, cluster_)) {
    return refused;
  }
  const PlacementMap& placement = cluster_->placement();
  const int for_node = placement.IndexOf(request->for_node());
  const int limit = request->max_records() > 0 ? request->max_records() : 500;
  int count = 0;
  bool stopped_early = false;
  std::string last_key;
  absl::Status status = store_->ForEachInPartitions(
      request->first_partition(), request->last_partition(),
      request->after_key(),
      [&](const std::string& key, const Record& record) {
        if (count >= limit) {
          stopped_early = true;
          return false;
        }
        last_key = key;
        if (record.id().empty()) return true;  // a lone touch, no session
        if (for_node < 0 || placement.Holds(for_node, PartitionOf(record.id()))) {
          *response->add_records() = record;
          ++count;
        }
        return true;
      });
  response->set_last_key(last_key);
  response->set_done(!stopped_early);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Heartbeat(
    grpc::CallbackServerContext* ctx,
    const internal::HeartbeatRequest* request,
    internal::HeartbeatResponse* response) {
  if (grpc::ServerUnaryReactor* refused = RefuseIfIsolated(ctx, cluster_)) {
    return refused;
  }
  cluster_->CheckPeerEpoch(request->from_node(), request->epoch());
  if (request->epoch() == cluster_->epoch()) {
    cluster_->HeardFrom(request->from_node(), request->serving());
  }
  response->set_node_id(cluster_->self_id());
  response->set_epoch(cluster_->epoch());
  response->set_serving(cluster_->serving());
  response->set_hints_for_you(cluster_->HintsFor(request->from_node()));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

int64_t CatchUp(SessionStore* store, Cluster* cluster, int64_t timeout_ms) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int64_t merged = 0;
  for (int node = 0; node < cluster->node_count(); ++node) {
    if (node == cluster->self_index()) continue;
    const std::string& peer_id = cluster->placement().nodes()[node];
    std::string after_key;
    bool done = false;
    while (!done) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      internal::FetchRequest request;
      request.set_first_partition(0);
      request.set_last_partition(kPartitionCount - 1);
      request.set_for_node(cluster->self_id());
      request.set_after_key(after_key);
      request.set_max_records(1000);
      internal::FetchResponse response;
      grpc::Status status =
          cluster->PeerStub(node)->Fetch(&ctx, request, &response);
      if (!status.ok()) {
        if (std::chrono::steady_clock::now() > give_up) {
          fprintf(stderr,
                  "sesh-node %s: catch-up from %s failed (%s); serving "
                  "without it, read repair and hints will fill the gaps\n",
                  cluster->self_id().c_str(), peer_id.c_str(),
                  status.error_message().c_str());
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      for (const Record& record : response.records()) {
        if (store->Merge(record).ok()) ++merged;
      }
      after_key = response.last_key();
      done = response.done();
    }
  }
  return merged;
}

}  // namespace sesh

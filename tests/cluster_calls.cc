#include "tests/cluster_calls.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "replication/session_id.h"

namespace sesh {
namespace testing {

std::chrono::system_clock::time_point Deadline(int ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<std::optional<internal::SessionRecord>> ReadReplica(
    NodeProcess& node, const std::string& id) {
  auto stub = internal::Peer::NewStub(node.peer_channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  internal::ReadRequest request;
  absl::StatusOr<std::string> raw = DecodeId(id);
  if (!raw.ok()) return raw.status();
  request.add_ids(*raw);
  internal::ReadResponse response;
  grpc::Status status = stub->Read(&ctx, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  if (response.records_size() == 0) {
    return std::optional<internal::SessionRecord>();
  }
  return std::optional<internal::SessionRecord>(response.records(0));
}

grpc::Status ApplyTo(NodeProcess& node, const std::string& from_node,
                     const internal::SessionRecord& record) {
  auto stub = internal::Peer::NewStub(node.peer_channel(from_node));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  internal::ApplyRequest request;
  request.set_from_node(from_node);
  *request.add_records() = record;
  internal::ApplyResponse response;
  return stub->Apply(&ctx, request, &response);
}

namespace {

template <typename Request, typename Response>
grpc::Status CallThrough(NodeProcess& node,
                         grpc::Status (v1::Sessions::Stub::*method)(
                             grpc::ClientContext*, const Request&, Response*),
                         Request request, Response* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  request.set_namespace_("shop");
  return (node.SessionsStub().get()->*method)(&ctx, request, response);
}

}  // namespace

grpc::Status GetThrough(NodeProcess& node, const std::string& id,
                        v1::Session* out) {
  v1::GetRequest request;
  request.set_id(id);
  request.set_skip_touch(true);
  v1::GetResponse response;
  grpc::Status status =
      CallThrough(node, &v1::Sessions::Stub::Get, request, &response);
  if (status.ok() && out != nullptr) *out = response.session();
  return status;
}

std::string CreateThrough(NodeProcess& node) {
  v1::CreateRequest request;
  request.set_idle_timeout_ms(kTestIdleMs);
  request.set_durability(v1::ALL);
  v1::CreateResponse response;
  if (!CallThrough(node, &v1::Sessions::Stub::Create, request, &response)
           .ok()) {
    return "";
  }
  return response.session().id();
}

grpc::Status DestroyThrough(NodeProcess& node, const std::string& id) {
  v1::DestroyRequest request;
  request.set_id(id);
  request.set_durability(v1::QUORUM);
  v1::DestroyResponse response;
  return CallThrough(node, &v1::Sessions::Stub::Destroy, request, &response);
}

bool PollUntil(int64_t timeout_ms, int64_t interval_ms,
               const std::function<bool()>& done) {
  const int64_t give_up = NowMs() + timeout_ms;
  bool ok = done();
  while (!ok && NowMs() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    ok = done();
  }
  return ok;
}

bool SeesAsUp(NodeProcess& observer,
              const std::map<std::string, bool>& expect_up) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::TopologyResponse topology;
  if (!observer.ClusterStub()->Topology(&ctx, {}, &topology).ok()) return false;
  for (const v1::Node& n : topology.nodes()) {
    auto it = expect_up.find(n.id());
    if (it != expect_up.end() && n.up() != it->second) return false;
  }
  return true;
}

}  // namespace testing
}  // namespace sesh

#include "node/health_server.h"

#include <grpcpp/generic/generic_stub.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "node/convert.h"

namespace sesh {
namespace {

// grpc.health.v1 messages, encoded by hand: HealthCheckRequest is field 1
// (string service), HealthCheckResponse field 1 (enum status, SERVING = 1).
// Names are short (< 128 bytes), so the length is one varint byte.
std::string EncodeRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);
  out.push_back(static_cast<char>(service.size()));
  out += service;
  return out;
}

absl::StatusOr<bool> DecodeServing(const std::string& bytes) {
  if (bytes.empty()) return false;  // status UNKNOWN (0) is not encoded
  if (bytes.size() != 2 || bytes[0] != 0x08) {
    return absl::InternalError("health answer does not parse");
  }
  return bytes[1] == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    const std::string& address) {
  if (address.empty()) return std::unique_ptr<HealthServer>();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (--health_listen)"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus("", false);
  health->SetServingStatus(kLivenessService, true);
  return std::unique_ptr<HealthServer>(new HealthServer(std::move(server), port));
}

HealthServer::~HealthServer() {
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

NodeHealth::NodeHealth(std::vector<grpc::HealthCheckServiceInterface*> targets) {
  for (grpc::HealthCheckServiceInterface* t : targets) {
    if (t != nullptr) targets_.push_back(t);
  }
  for (grpc::HealthCheckServiceInterface* t : targets_) {
    t->SetServingStatus(kLivenessService, true);
  }
}

void NodeHealth::SetServingStatus(const std::string& service, bool serving) {
  if (service == kLivenessService) return;
  for (grpc::HealthCheckServiceInterface* t : targets_) {
    t->SetServingStatus(service, serving);
  }
}

void NodeHealth::SetServingStatus(bool serving) {
  for (grpc::HealthCheckServiceInterface* t : targets_) {
    t->SetServingStatus(serving);
    if (!serving) t->SetServingStatus(kLivenessService, true);
  }
}

absl::StatusOr<bool> CheckHealth(const std::string& address,
                                 const std::string& service,
                                 absl::Duration timeout) {
  if (service.size() >= 128) {
    return absl::InvalidArgumentError("health service name too long");
  }
  grpc::GenericStub stub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(timeout));
  const std::string request_bytes = EncodeRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check",
                 grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) {
    return absl::InternalError("health answer does not parse");
  }
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return DecodeServing(bytes);
}

}  // namespace sesh

#include "tests/etcd_process.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/node_process.h"

namespace sesh {
namespace testing {
namespace {

constexpr char kEtcd[] = "/usr/bin/etcd";

}  // namespace

EtcdProcess::EtcdProcess(std::string data_dir)
    : data_dir_(std::move(data_dir)),
      client_port_(PickFreePort()),
      peer_port_(PickFreePort()) {}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) Kill();
}

std::string EtcdProcess::address() const {
  return absl::StrCat("127.0.0.1:", client_port_);
}

std::shared_ptr<grpc::Channel> EtcdProcess::channel() {
  if (channel_ == nullptr) {
    channel_ =
        grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  return channel_;
}

absl::Status EtcdProcess::Start(int timeout_ms) {
  if (access(kEtcd, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "etcd is not installed (Debian package etcd-server; tools/setup.sh)");
  }
  const std::string client_url = absl::StrCat("http://", address());
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_port_);
  const std::vector<std::string> args = {
      kEtcd,
      "--name=test",
      absl::StrCat("--data-dir=", data_dir_),
      absl::StrCat("--listen-client-urls=", client_url),
      absl::StrCat("--advertise-client-urls=", client_url),
      absl::StrCat("--listen-peer-urls=", peer_url),
      absl::StrCat("--initial-advertise-peer-urls=", peer_url),
      absl::StrCat("--initial-cluster=test=", peer_url),
      "--log-level=warn",
  };
  const std::string log = data_dir_ + ".log";
  const pid_t pid = Spawn(args, log);
  if (pid < 0) return absl::InternalError("fork failed");
  pid_ = pid;
  return WaitUntilReady(&pid_, "etcd", log, timeout_ms, 50, [this] {
    // A fresh channel per probe: one that failed to connect would wait out
    // gRPC's reconnect backoff (seconds) after etcd is up.
    channel_.reset();
    auto kv = etcdserverpb::KV::NewStub(channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(500));
    etcdserverpb::RangeRequest request;
    request.set_key("probe");
    etcdserverpb::RangeResponse response;
    return kv->Range(&ctx, request, &response).ok();
  });
}

void EtcdProcess::Kill() {
  KillAndReap(&pid_);
  channel_.reset();
}

}  // namespace testing
}  // namespace sesh

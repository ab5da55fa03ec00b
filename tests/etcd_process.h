#ifndef SESH_TESTS_ETCD_PROCESS_H_
#define SESH_TESTS_ETCD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "etcd/rpc.grpc.pb.h"

namespace sesh {
namespace testing {

// A real single-member etcd (Debian's /usr/bin/etcd) for tests: client and
// peer URLs on 127.0.0.1 ports of PickFreePort, data in `data_dir`, its
// output in <data_dir>.log. Stops it (SIGKILL) on destruction.
class EtcdProcess {
 public:
  explicit EtcdProcess(std::string data_dir);
  ~EtcdProcess();

  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Starts etcd and waits until it answers a Range, at most timeout_ms.
  // FAILED_PRECONDITION when no etcd binary is installed.
  absl::Status Start(int timeout_ms = 20000);
  // kill -9, and reaps the process; Start again keeps the data and ports.
  void Kill();

  // host:port of the client URL.
  std::string address() const;
  std::shared_ptr<grpc::Channel> channel();

 private:
  const std::string data_dir_;
  const int client_port_;
  const int peer_port_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_ETCD_PROCESS_H_

#ifndef SESH_TESTS_NODE_PROCESS_H_
#define SESH_TESTS_NODE_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace testing {

// A free TCP port on 127.0.0.1, this process's until it exits: picked below
// the kernel's ephemeral range and reserved against other test processes by
// a lock file in /tmp/sesh-test-ports. Multi-node tests need every port
// before any node starts (for --peers), and again when a killed node restarts.
int PickFreePort();

// A real sesh-node child process for multi-process tests. The binary comes
// from the test's runfiles (data dependency //node:sesh-node). It serves
// with the test credentials (tests/test_credentials.h) unless extra_flags
// hold --insecure. Stops the process (SIGKILL) on destruction if still
// running.
class NodeProcess {
 public:
  NodeProcess(std::string node_id, int port, int peer_port,
              std::string data_dir, std::vector<std::string> extra_flags);
  ~NodeProcess();

  // Starts the process and waits until it serves (its port file appears),
  // at most timeout_ms. The node's stderr goes to <data_dir>.log.
  absl::Status Start(int timeout_ms = 20000);
  // kill -9, and reaps the process.
  void Kill();
  // SIGSTOP / SIGCONT: the process freezes (a hung node, or one cut off).
  void Pause();
  void Resume();
  // SIGTERM, and waits for a clean exit; returns the exit status.
  int Terminate();
  // Waits up to timeout_ms for the process to exit by itself (a node that
  // left the cluster); true if it did (it is reaped).
  bool WaitForExit(int timeout_ms);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  int peer_port() const { return peer_port_; }
  const std::string& id() const { return node_id_; }
  // The node's stderr.
  std::string log_path() const { return data_dir_ + ".log"; }
  std::string address() const;
  std::string peer_address() const;
  // The client port, with the admin token (every namespace).
  std::shared_ptr<grpc::Channel> channel();
  // The peer port, as node `as_node` (its certificate); empty: this node's
  // own id.
  std::shared_ptr<grpc::Channel> peer_channel(const std::string& as_node = "");
  std::unique_ptr<v1::Sessions::Stub> SessionsStub();
  std::unique_ptr<v1::Cluster::Stub> ClusterStub();

 private:
  bool insecure() const;

  const std::string node_id_;
  const int port_;
  const int peer_port_;
  const std::string data_dir_;
  const std::vector<std::string> extra_flags_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> peer_channels_;
};

// N nodes "n1".."nN" (N <= 6) on free loopback ports (a client port and a
// peer port each), with --peers naming them all,
// each in its own data dir under `dir`. Not started.
std::vector<std::unique_ptr<NodeProcess>> MakeCluster(
    int n, const std::string& dir, std::vector<std::string> extra_flags);

// Starts every node not running, then waits (up to timeout_ms) until every
// running node reports every running node up in its Topology.
absl::Status StartAndWait(std::vector<std::unique_ptr<NodeProcess>>& nodes,
                          int timeout_ms = 30000);

// Waits until every running node sees the running ones up and the others
// down.
absl::Status WaitForView(std::vector<std::unique_ptr<NodeProcess>>& nodes,
                         int timeout_ms = 30000);

// Path of a binary in the test's runfiles, e.g. "node/sesh-node".
std::string RunfilePath(const std::string& relative);

// Starts args[0] (a path) with `args`, its stdout and stderr appended to
// `log`; the child's pid, or -1 if fork failed.
pid_t Spawn(std::vector<std::string> args, const std::string& log);

// Polls `ready` every poll_ms until it holds (OK), the child *pid exits
// (INTERNAL; *pid set to -1) or timeout_ms pass (DEADLINE_EXCEEDED). `name`
// and `log` go into the error.
absl::Status WaitUntilReady(pid_t* pid, const std::string& name,
                            const std::string& log, int timeout_ms,
                            int poll_ms, const std::function<bool()>& ready);

// SIGKILL to *pid if it runs, reaps it, sets *pid to -1.
void KillAndReap(pid_t* pid);

// A fresh temp directory for this test.
std::string NewTempDir(const std::string& name);

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_NODE_PROCESS_H_

#include "tests/node_process.h"

#include <filesystem>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace testing {
namespace {

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace

int PickFreePort() {
  // Below the kernel's ephemeral range: bind(0) and connect() never hand
  // these out, so a killed node's port is still free when it restarts.
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int low = std::max(1024, ephemeral_low - 16384);
  const int span = ephemeral_low - low;
  const char* lock_dir = "/tmp/sesh-test-ports";
  mkdir(lock_dir, 0777);
  std::random_device random;
  const int start = static_cast<int>(random() % std::max(span, 1));
  for (int i = 0; i < span; ++i) {
    const int port = low + (start + i) % span;
    // Other test processes skip a port whose lock file is held; the lock
    // lives as long as this process (the fd is never closed).
    const std::string lock = absl::StrCat(lock_dir, "/", port);
    int lock_fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lock_fd < 0) continue;
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      close(lock_fd);
      continue;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool available =
        bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (available) return port;
    close(lock_fd);
  }
  return 0;  // nothing free: the node fails to start and says so
}

absl::Status WaitUntilReady(pid_t* pid, const std::string& name,
                            const std::string& log, int timeout_ms,
                            int poll_ms, const std::function<bool()>& ready) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      *pid = -1;
      return absl::InternalError(
          absl::StrCat(name, " exited at start; see ", log));
    }
    if (ready()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      name, " not ready within ", timeout_ms, " ms; see ", log));
}

void KillAndReap(pid_t* pid) {
  if (*pid <= 0) return;
  kill(*pid, SIGKILL);
  int status = 0;
  waitpid(*pid, &status, 0);
  *pid = -1;
}

pid_t Spawn(std::vector<std::string> args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      dup2(fd, 1);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string RunfilePath(const std::string& relative) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr) {
    return absl::StrCat(srcdir, "/", workspace ? workspace : "sesh", "/",
                        relative);
  }
  return relative;
}

std::string NewTempDir(const std::string& name) {
  static int counter = 0;
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base ? base : "/tmp", "/", name, "_",
                                 getpid(), "_", counter++);
  mkdir(dir.c_str(), 0755);
  return dir;
}

NodeProcess::NodeProcess(std::string node_id, int port, int peer_port,
                         std::string data_dir,
                         std::vector<std::string> extra_flags)
    : node_id_(std::move(node_id)),
      port_(port),
      peer_port_(peer_port),
      data_dir_(std::move(data_dir)),
      extra_flags_(std::move(extra_flags)) {}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill();
  // RocksDB preallocates tens of MB per node; the log stays for debugging.
  std::filesystem::remove_all(data_dir_);
}

std::string NodeProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::string NodeProcess::peer_address() const {
  return absl::StrCat("127.0.0.1:", peer_port_);
}

bool NodeProcess::insecure() const {
  return std::find(extra_flags_.begin(), extra_flags_.end(), "--insecure") !=
         extra_flags_.end();
}

absl::Status NodeProcess::Start(int timeout_ms) {
  const std::string port_file = data_dir_ + ".port";
  unlink(port_file.c_str());
  // A channel to the previous process may hold a dead socket.
  channel_.reset();
  peer_channels_.clear();
  std::vector<std::string> args = {
      RunfilePath("node/sesh-node"),
      absl::StrCat("--node_id=", node_id_),
      absl::StrCat("--listen=", address()),
      absl::StrCat("--data_dir=", data_dir_),
      absl::StrCat("--port_file=", port_file),
      absl::StrCat("--peer_listen=", peer_address()),
  };
  if (!insecure()) {
    std::vector<std::string> secure = SecureNodeFlags(node_id_);
    args.insert(args.end(), secure.begin(), secure.end());
  }
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  const std::string log = data_dir_ + ".log";
  pid_ = Spawn(args, log);
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    if (access(port_file.c_str(), F_OK) == 0) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat(
          "sesh-node ", node_id_, " exited at start: ", Tail(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("sesh-node ", node_id_, " did not start: ", Tail(log)));
}

void NodeProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

namespace {

// True once every thread of pid is stopped (state T in /proc): kill()
// returns before the signal has stopped threads running on other CPUs.
bool AllThreadsStopped(pid_t pid) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return true;  // gone: nothing runs
  bool stopped = true;
  while (struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(absl::StrCat(tasks, "/", entry->d_name, "/stat"));
    std::string line;
    std::getline(stat, line);
    // "tid (comm) S ...": the state follows the last ')'.
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() &&
        line[paren + 2] != 'T' && line[paren + 2] != 't') {
      stopped = false;
    }
  }
  closedir(dir);
  return stopped;
}

}  // namespace

void NodeProcess::Pause() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!AllThreadsStopped(pid_) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void NodeProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

int NodeProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

bool NodeProcess::WaitForExit(int timeout_ms) {
  if (pid_ <= 0) return true;
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::shared_ptr<grpc::Channel> NodeProcess::channel() {
  if (channel_ == nullptr) {
    channel_ = insecure() ? ClientChannel(address(), "", /*tls=*/false)
                          : ClientChannel(address(), Credentials().admin_token);
  }
  return channel_;
}

std::shared_ptr<grpc::Channel> NodeProcess::peer_channel(
    const std::string& as_node) {
  const std::string as = as_node.empty() ? node_id_ : as_node;
  std::shared_ptr<grpc::Channel>& channel = peer_channels_[as];
  if (channel == nullptr) {
    channel = insecure()
                  ? grpc::CreateChannel(peer_address(),
                                        grpc::InsecureChannelCredentials())
                  : PeerChannel(peer_address(), node_id_, as);
  }
  return channel;
}

std::unique_ptr<v1::Sessions::Stub> NodeProcess::SessionsStub() {
  return v1::Sessions::NewStub(channel());
}

std::unique_ptr<v1::Cluster::Stub> NodeProcess::ClusterStub() {
  return v1::Cluster::NewStub(channel());
}

std::vector<std::unique_ptr<NodeProcess>> MakeCluster(
    int n, const std::string& dir, std::vector<std::string> extra_flags) {
  std::vector<int> ports;
  std::vector<int> peer_ports;
  std::string peers;
  for (int i = 1; i <= n; ++i) {
    ports.push_back(PickFreePort());
    peer_ports.push_back(PickFreePort());
    absl::StrAppend(&peers, i > 1 ? "," : "", "n", i, "=127.0.0.1:",
                    ports.back(), "/127.0.0.1:", peer_ports.back());
  }
  extra_flags.push_back(absl::StrCat("--peers=", peers));
  std::vector<std::unique_ptr<NodeProcess>> nodes;
  for (int i = 1; i <= n; ++i) {
    nodes.push_back(std::make_unique<NodeProcess>(
        absl::StrCat("n", i), ports[i - 1], peer_ports[i - 1],
        absl::StrCat(dir, "/n", i),
        extra_flags));
  }
  return nodes;
}

absl::Status StartAndWait(std::vector<std::unique_ptr<NodeProcess>>& nodes,
                          int timeout_ms) {
  // Start them all before waiting: each node catches up from its peers.
  std::vector<std::thread> starters;
  std::vector<absl::Status> results(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i]->running()) continue;
    starters.emplace_back(
        [&, i] { results[i] = nodes[i]->Start(timeout_ms); });
  }
  for (std::thread& t : starters) t.join();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return WaitForView(nodes, timeout_ms);
}

absl::Status WaitForView(std::vector<std::unique_ptr<NodeProcess>>& nodes,
                         int timeout_ms) {
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < give_up) {
    bool all = true;
    for (auto& node : nodes) {
      if (!node->running()) continue;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(1));
      v1::TopologyRequest request;
      v1::TopologyResponse response;
      if (!node->ClusterStub()->Topology(&ctx, request, &response).ok()) {
        all = false;
        break;
      }
      for (const v1::Node& n : response.nodes()) {
        for (auto& other : nodes) {
          if (other->id() == n.id() && other->running() != n.up()) {
            all = false;
          }
        }
      }
    }
    if (all) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("the cluster did not settle");
}

}  // namespace testing
}  // namespace sesh

#include "bench/redis_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "replication/session_id.h"

namespace sesh {
namespace load {

namespace {

absl::Status SplitHostPort(const std::string& addr, std::string* host,
                           std::string* port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--addr: want host:port, got '", addr, "'"));
  }
  *host = addr.substr(0, colon);
  *port = addr.substr(colon + 1);
  return absl::OkStatus();
}

// RESP encoding of one command.
void AppendCommand(std::string* out,
                   std::initializer_list<absl::string_view> args) {
  absl::StrAppend(out, "*", args.size(), "\r\n");
  for (absl::string_view a : args) {
    absl::StrAppend(out, "$", a.size(), "\r\n", a, "\r\n");
  }
}

class RedisTarget;

// One caller's connection, driven by its driver's epoll without blocking.
// One command in flight at a time (no pipelining, like a session library
// serving one request), but for a write and its WAIT.
class RedisConn : public EventHandler {
 public:
  RedisConn(RedisTarget* target, Caller* caller)
      : target_(target), caller_(caller) {}
  ~RedisConn() override { Close(); }

  absl::Status Connect(const std::string& host, const std::string& port);
  bool connected() const { return fd_ >= 0; }
  // Sends `replies` pipelined commands; each reply comes to
  // RedisTarget::OnReply, replies_left() of them still to come.
  void Send(std::string commands, int replies = 1);
  int replies_left() const { return replies_left_; }
  void OnEvent(uint32_t events) override;

  // Per-operation state, owned by RedisTarget.
  int step = 0;
  std::string new_key;
  Outcome saved;
  // The reply to a write whose WAIT's reply is still to come (type and
  // integer only).
  redisReply write_reply{};
  bool waiting = false;

 private:
  void Flush();
  // Ends the connection; the operation in flight (if any) fails with IO.
  void Fail(bool in_handler);
  void Close();

  RedisTarget* const target_;
  Caller* const caller_;
  int fd_ = -1;
  redisReader* reader_ = nullptr;
  std::string out_;
  size_t out_off_ = 0;
  bool want_out_ = false;
  bool busy_ = false;
  int replies_left_ = 0;
};

class RedisTarget : public Target {
 public:
  static absl::StatusOr<std::unique_ptr<RedisTarget>> Create(
      const RedisFlags& flags, const std::string& addr, int value_bytes) {
    std::string host, port;
    absl::Status s = SplitHostPort(addr, &host, &port);
    if (!s.ok()) return s;
    return std::unique_ptr<RedisTarget>(
        new RedisTarget(flags, host, port, value_bytes));
  }

  ~RedisTarget() override { conns_.clear(); }

  // SET key blob EX idle, pipelined --preload_inflight deep on one
  // connection.
  absl::StatusOr<std::vector<std::string>> Preload(int64_t n) override {
    int port = 0;
    if (!absl::SimpleAtoi(port_, &port)) {
      return absl::InvalidArgumentError("--addr: bad port");
    }
    timeval tv{5, 0};
    redisContext* ctx = redisConnectWithTimeout(host_.c_str(), port, tv);
    if (ctx == nullptr || ctx->err) {
      std::string err = ctx ? ctx->errstr : "out of memory";
      if (ctx) redisFree(ctx);
      return absl::UnavailableError(
          absl::StrCat("redis at ", host_, ":", port_, ": ", err));
    }
    std::vector<std::string> keys;
    keys.reserve(n);
    std::mt19937_64 rng(2000);
    const int depth = std::max(1, flags_.preload_inflight);
    const std::string ex = absl::StrCat(idle_s_);
    const int64_t start = NowNs();
    absl::Status status;
    for (int64_t i = 0; i < n && status.ok();) {
      int batch = 0;
      for (; batch < depth && i < n; ++batch, ++i) {
        keys.push_back(NewKey());
        const std::string value = RandomText(rng, value_bytes_);
        const char* argv[] = {"SET", keys.back().c_str(), value.data(), "EX",
                              ex.c_str()};
        const size_t argvlen[] = {3, keys.back().size(), value.size(), 2,
                                  ex.size()};
        redisAppendCommandArgv(ctx, 5, argv, argvlen);
      }
      for (int j = 0; j < batch; ++j) {
        void* reply = nullptr;
        if (redisGetReply(ctx, &reply) != REDIS_OK || reply == nullptr) {
          status = absl::UnavailableError(
              absl::StrCat("redis preload: ", ctx->errstr));
          break;
        }
        auto* r = static_cast<redisReply*>(reply);
        if (r->type == REDIS_REPLY_ERROR && status.ok()) {
          status = absl::InternalError(
              absl::StrCat("redis preload: ", std::string(r->str, r->len)));
        }
        freeReplyObject(reply);
      }
    }
    if (status.ok() && wait_replicas_ > 0) {
      // The replicas hold the whole working set before the phases.
      auto* r = static_cast<redisReply*>(
          redisCommand(ctx, "WAIT %d 60000", wait_replicas_));
      if (r == nullptr || r->type != REDIS_REPLY_INTEGER ||
          r->integer < wait_replicas_) {
        status = absl::DeadlineExceededError(
            "redis preload: the replicas did not acknowledge it in 60 s");
      }
      if (r != nullptr) freeReplyObject(r);
    }
    redisFree(ctx);
    if (!status.ok()) return status;
    std::fprintf(stderr, "[redis preload] %lld keys in %.1f s\n",
                 static_cast<long long>(n),
                 static_cast<double>(NowNs() - start) / 1e9);
    return keys;
  }

  absl::Status Attach(Caller* c) override {
    conns_.push_back(std::make_unique<RedisConn>(this, c));
    c->conn = conns_.back().get();
    return conns_.back()->Connect(host_, port_);
  }

  bool LooksLikeKey(absl::string_view key) const override {
    return absl::StartsWith(key, kKeyPrefix);
  }

  void Start(Caller* c) override {
    auto* conn = static_cast<RedisConn*>(c->conn);
    if (!conn->connected()) {
      absl::Status s = conn->Connect(host_, port_);
      if (!s.ok()) {
        Outcome o;
        o.done_ns = NowNs();
        o.code = absl::StatusCode::kUnavailable;
        o.error = "IO";
        c->driver->Post(c, std::move(o));
        return;
      }
    }
    conn->step = 0;
    conn->new_key.clear();
    conn->waiting = false;
    std::string cmd;
    switch (c->op) {
      case kGetTouch:
        AppendCommand(&cmd, {"GETEX", c->key, "EX", ex_});
        break;
      case kGet:
        AppendCommand(&cmd, {"GET", c->key});
        break;
      case kUpdate:
        AppendCommand(&cmd, {"SET", c->key, values_.Pick(c->rng), "EX", ex_});
        SendWrite(conn, std::move(cmd));
        return;
      case kCreate:
        conn->new_key = NewKey();
        AppendCommand(&cmd,
                      {"SET", conn->new_key, values_.Pick(c->rng), "EX", ex_});
        SendWrite(conn, std::move(cmd));
        return;
      case kRotate:  // its WAIT follows the DEL
        conn->new_key = NewKey();
        AppendCommand(&cmd,
                      {"SET", conn->new_key, values_.Pick(c->rng), "EX", ex_});
        break;
      case kDestroy:
        AppendCommand(&cmd, {"DEL", c->key});
        SendWrite(conn, std::move(cmd));
        return;
      case kNumOps:
        break;
    }
    conn->Send(std::move(cmd));
  }

  // Sends a write, and WAIT after it with --redis_wait_replicas.
  void SendWrite(RedisConn* conn, std::string cmd) {
    if (wait_replicas_ == 0) {
      conn->Send(std::move(cmd));
      return;
    }
    AppendCommand(&cmd, {"WAIT", wait_n_, wait_timeout_ms_});
    conn->Send(std::move(cmd), 2);
  }

  // A reply to the connection's command in flight.
  void OnReply(RedisConn* conn, Caller* c, const redisReply* r) {
    if (conn->replies_left() > 0) {  // a write's reply; its WAIT's follows
      conn->write_reply = redisReply{};
      conn->write_reply.type = r->type;
      conn->write_reply.integer = r->integer;
      conn->waiting = true;
      return;
    }
    Outcome o;
    o.done_ns = NowNs();
    if (conn->waiting) {  // WAIT's reply: then the operation goes on as if
      conn->waiting = false;  // the write's reply had just come
      if (r->type != REDIS_REPLY_ERROR &&
          conn->write_reply.type != REDIS_REPLY_ERROR &&
          (r->type != REDIS_REPLY_INTEGER || r->integer < wait_replicas_)) {
        o.code = absl::StatusCode::kDeadlineExceeded;
        o.error = "WAIT_SHORT";  // fewer replicas acknowledged in time
        if (c->op == kDestroy && conn->step == 1) {
          conn->saved.refill_error = o.error;
          o = std::move(conn->saved);
        }
        c->driver->CompleteOnDriverThread(c, std::move(o));
        return;
      }
      if (r->type != REDIS_REPLY_ERROR) r = &conn->write_reply;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      o.code = absl::StatusCode::kInternal;
      o.error = "REDIS_ERR";
      if (c->op == kDestroy && conn->step == 1) {
        conn->saved.refill_error = o.error;
        o = std::move(conn->saved);
      }
      c->driver->CompleteOnDriverThread(c, std::move(o));
      return;
    }
    switch (c->op) {
      case kGetTouch:
      case kGet:
        if (r->type == REDIS_REPLY_NIL) {
          o.code = absl::StatusCode::kNotFound;
          o.error = "NOT_FOUND";
        }
        break;
      case kUpdate:
        break;
      case kCreate:
        o.new_key = std::move(conn->new_key);
        break;
      case kRotate:
        if (conn->step == 0) {  // SET new done; now DEL old
          conn->step = 1;
          std::string cmd;
          AppendCommand(&cmd, {"DEL", c->key});
          SendWrite(conn, std::move(cmd));
          return;
        }
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
          // The old session was gone: what Sesh reports as NOT_FOUND. The
          // new key is orphaned (it expires).
          o.code = absl::StatusCode::kNotFound;
          o.error = "NOT_FOUND";
        } else {
          o.new_key = std::move(conn->new_key);
        }
        break;
      case kDestroy:
        if (conn->step == 0) {  // DEL done (measured); now the replacement
          conn->saved = std::move(o);
          conn->step = 1;
          conn->new_key = NewKey();
          std::string cmd;
          AppendCommand(&cmd, {"SET", conn->new_key, values_.Pick(c->rng),
                               "EX", ex_});
          SendWrite(conn, std::move(cmd));
          return;
        }
        o = std::move(conn->saved);
        o.new_key = std::move(conn->new_key);
        break;
      case kNumOps:
        break;
    }
    c->driver->CompleteOnDriverThread(c, std::move(o));
  }

 private:
  static constexpr char kKeyPrefix[] = "sess:";

  RedisTarget(const RedisFlags& flags, std::string host, std::string port,
              int value_bytes)
      : flags_(flags),
        host_(std::move(host)),
        port_(std::move(port)),
        value_bytes_(static_cast<size_t>(value_bytes)),
        idle_s_(flags.idle_timeout_s),
        ex_(absl::StrCat(idle_s_)),
        wait_replicas_(flags.redis_wait_replicas),
        wait_n_(absl::StrCat(wait_replicas_)),
        wait_timeout_ms_(
            absl::StrCat(flags.redis_wait_timeout_ms)),
        values_(value_bytes_, 4096, 8) {}

  // connect-redis style: prefix + the same 43-character id Sesh mints.
  static std::string NewKey() { return absl::StrCat(kKeyPrefix, EncodeId(NewRawId())); }

  const RedisFlags flags_;
  const std::string host_;
  const std::string port_;
  const size_t value_bytes_;
  const int64_t idle_s_;
  const std::string ex_;
  const int wait_replicas_;
  const std::string wait_n_;
  const std::string wait_timeout_ms_;
  const ValuePool values_;
  std::vector<std::unique_ptr<RedisConn>> conns_;
};

absl::Status RedisConn::Connect(const std::string& host,
                                const std::string& port) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", host));
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to redis at ", host, ":", port));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
  reader_ = redisReaderCreate();
  caller_->driver->Watch(fd_, this, EPOLLIN);
  return absl::OkStatus();
}

void RedisConn::Close() {
  if (fd_ >= 0) {
    caller_->driver->Unwatch(fd_);
    close(fd_);
    fd_ = -1;
  }
  if (reader_ != nullptr) {
    redisReaderFree(reader_);
    reader_ = nullptr;
  }
  out_.clear();
  out_off_ = 0;
  want_out_ = false;
  replies_left_ = 0;
}

void RedisConn::Send(std::string commands, int replies) {
  busy_ = true;
  replies_left_ = replies;
  if (out_off_ == out_.size()) {
    out_ = std::move(commands);
    out_off_ = 0;
  } else {
    out_.append(commands);
  }
  Flush();
}

void RedisConn::Flush() {
  while (out_off_ < out_.size()) {
    const ssize_t n = send(fd_, out_.data() + out_off_, out_.size() - out_off_,
                           MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!want_out_) {
        want_out_ = true;
        caller_->driver->Rewatch(fd_, this, EPOLLIN | EPOLLOUT);
      }
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    Fail(/*in_handler=*/false);
    return;
  }
  if (want_out_) {
    want_out_ = false;
    caller_->driver->Rewatch(fd_, this, EPOLLIN);
  }
}

void RedisConn::OnEvent(uint32_t events) {
  if (fd_ < 0) return;
  if (events & EPOLLOUT) Flush();
  if (fd_ < 0) return;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) return;
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      redisReaderFeed(reader_, buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    Fail(/*in_handler=*/true);  // closed or broken
    return;
  }
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
      Fail(/*in_handler=*/true);
      return;
    }
    if (reply == nullptr) return;
    busy_ = --replies_left_ > 0;
    // May send the operation's next command (busy_ again) or complete it.
    target_->OnReply(this, caller_, static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    if (fd_ < 0) return;
  }
}

void RedisConn::Fail(bool in_handler) {
  const bool was_busy = busy_;
  busy_ = false;
  Close();
  if (!was_busy) return;
  Outcome o;
  o.done_ns = NowNs();
  o.code = absl::StatusCode::kUnavailable;
  o.error = "IO";
  if (in_handler) {
    caller_->driver->CompleteOnDriverThread(caller_, std::move(o));
  } else {
    caller_->driver->Post(caller_, std::move(o));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> CreateRedisTarget(
    const RedisFlags& flags, const std::string& addr, int value_bytes) {
  absl::StatusOr<std::unique_ptr<RedisTarget>> t =
      RedisTarget::Create(flags, addr, value_bytes);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Target>(*std::move(t));
}

}  // namespace load
}  // namespace sesh

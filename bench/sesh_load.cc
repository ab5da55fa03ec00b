// sesh-load: drives a Sesh cluster (through sesh::Client) or a Redis server
// with the same web-session mix, and reports throughput and latency
// percentiles per operation.
//
//   sesh-load --target=sesh --addr=127.0.0.1:7801,127.0.0.1:7802
//       --tls_ca=certs/ca.pem --token_file=certs/token.bench
//       --keys=100000 --concurrency=64 --duration_s=10 --json_out=out.json
//   sesh-load --target=redis --addr=127.0.0.1:6390 --mix=get_touch:100
//       --rates=10000,20000,30000 --json_out=sweep.json
//   sesh-load --target=redis --addr=127.0.0.1:6390 --redis_wait_replicas=1
//       --mix=update:100 --json_out=durable.json   # a primary with replicas
//
// Model. --concurrency callers each run one operation at a time. They are
// spread over --threads driver threads, each an event loop (epoll): a Sesh
// caller issues asynchronous client calls whose callbacks hand the result
// back to its driver; a Redis caller owns one connection, driven without
// blocking. So neither target needs a thread per caller, and both are
// measured by the same code.
//   - Closed loop (--rate=0): a caller issues its next operation as soon as
//     the previous one completes. Measures peak throughput.
//   - Open loop (--rate=R): each caller has a fixed schedule of R/concurrency
//     operations per second (staggered across callers). If the previous
//     operation is still running when the next is due, the next one starts
//     late, but its latency is measured from its scheduled (intended) start,
//     so a server that stalls cannot hide the stall by slowing the client
//     down (no coordinated omission; wrk2's model). A caller that fell
//     behind works through the operations scheduled inside the window after
//     it ends, for at most another window; throughput is then measured over
//     the time it took ("elapsed_s"), and operations still unstarted are
//     reported as "unstarted_at_end".
// Each phase runs --warmup_s (not recorded) then --duration_s; an operation
// is recorded if its intended start falls in the measured window. --rates
// runs one phase per rate (a sweep).
//
// Operations (--mix, weights), Sesh / Redis (what session libraries send;
// connect-redis writes the whole session on every change):
//   get_touch  Get(touch=true)          / GETEX key EX idle
//   get        Get(touch=false)         / GET key
//   update     Update one attribute     / SET key <whole blob> EX idle
//   create     Create                   / SET newkey blob EX idle
//   rotate     Rotate                   / SET newkey blob EX idle, DEL key
//   destroy    Destroy                  / DEL key
// With --redis_wait_replicas=N, each Redis write is followed by WAIT N
// (pipelined with it, one round trip): the comparison for Sesh's QUORUM
// writes. A rotate waits once, after its DEL (WAIT covers every earlier
// write of the connection). GETEX is not followed by WAIT, as a Sesh touch
// is not replicated before the reply either.
// A created session replaces a random key of the working set (the old one is
// abandoned, as by a user who never comes back), rotate replaces its key,
// and a destroyed session is replaced by a new one (created after the
// destroy is measured, not itself measured), so the working set keeps
// --keys sessions. Keys are picked uniformly.
//
// Errors are counted per operation and code. NOT_FOUND for a key that
// another caller destroyed or rotated meanwhile is expected and counted as
// NOT_FOUND_expected; everything else is unexpected.
//
// Touches written (Sesh, with --admin_token_file or --insecure): the nodes'
// NodeStats counters, summed over the cluster and read at the start and end
// of each measured window, give the share of touching reads that moved
// last_access far enough to be recorded (the nodes' --touch_write_fraction
// of the idle timeout): touches_written_share in the JSON.
//
// Latencies go to log-bucketed histograms (1% relative bucket width, 1 µs to
// 60 s): p50 / p90 / p99 / p99.9 are accurate to about ±0.5%.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/sesh/client.h"
#include "replication/session_id.h"

ABSL_FLAG(std::string, target, "sesh", "What to drive: sesh or redis.");
ABSL_FLAG(std::string, addr, "127.0.0.1:7701",
          "sesh: comma-separated host:port seeds; redis: host:port.");
ABSL_FLAG(int64_t, keys, 100000,
          "Sessions in the working set (preloaded unless --skip_preload). "
          "Default 100000.");
ABSL_FLAG(int, value_bytes, 512,
          "Session payload in bytes: split over 4 attributes for sesh, one "
          "blob for redis. Default 512.");
ABSL_FLAG(int, concurrency, 64,
          "Concurrent callers (operations in flight at most). Default 64.");
ABSL_FLAG(int, threads, 2,
          "Driver threads (event loops) the callers are spread over. "
          "Default 2.");
ABSL_FLAG(double, duration_s, 10, "Measured seconds per phase. Default 10.");
ABSL_FLAG(double, warmup_s, 1,
          "Seconds run before each phase's measurement, not recorded. "
          "Default 1.");
ABSL_FLAG(std::string, mix, "get_touch:85,update:7,create:4,rotate:2,destroy:2",
          "Operation weights, op:weight,... with ops get_touch, get, update, "
          "create, rotate, destroy. Default the web mix "
          "get_touch:85,update:7,create:4,rotate:2,destroy:2.");
ABSL_FLAG(double, rate, 0,
          "Total operations per second (open loop); 0 = closed loop. "
          "Default 0.");
ABSL_FLAG(std::string, rates, "",
          "Comma-separated rates in operations per second: one phase per "
          "rate, 0 meaning closed loop (a sweep). Overrides --rate.");
ABSL_FLAG(std::string, json_out, "", "Write the results as JSON to this file.");
ABSL_FLAG(std::string, keys_file, "",
          "Keys of the working set, one a line: written after the preload and "
          "again at exit (rotate/destroy change them); read instead of "
          "preloading with --skip_preload.");
ABSL_FLAG(bool, skip_preload, false,
          "Reuse the keys of --keys_file (from an earlier run against the same "
          "server) instead of preloading.");
ABSL_FLAG(int64_t, idle_timeout_s, 1800,
          "Idle timeout of the sessions in seconds (sesh idle_timeout_ms, "
          "redis EX). Default 1800.");
ABSL_FLAG(std::string, session_namespace, "bench",
          "Sesh namespace of the sessions. Default bench.");
ABSL_FLAG(int, preload_inflight, 128,
          "Creates in flight while preloading (sesh), SETs per pipeline "
          "(redis). Default 128.");
ABSL_FLAG(std::string, durability, "DEFAULT",
          "Sesh: durability of every write (update, create, rotate, destroy): "
          "DEFAULT (the node's, QUORUM), ONE, QUORUM or ALL.");
ABSL_FLAG(int64_t, sesh_deadline_ms, 2000,
          "sesh::ClientOptions::deadline in milliseconds. Default 2000.");
ABSL_FLAG(bool, sesh_coalesce_gets, true,
          "sesh::ClientOptions::coalesce_gets. Default true.");
ABSL_FLAG(int, sesh_max_batch, 64,
          "sesh::ClientOptions::max_batch. Default 64.");
ABSL_FLAG(bool, sesh_stream_gets, true,
          "sesh::ClientOptions::stream_gets: batches over one StreamGet call "
          "per node instead of unary RPCs. Default true.");
ABSL_FLAG(int64_t, sesh_max_batch_wait_us, 1000,
          "sesh::ClientOptions::max_batch_wait in microseconds. Default 1000 "
          "(the client's default).");
ABSL_FLAG(int, sesh_batches_in_flight, 1,
          "sesh::ClientOptions::max_batches_in_flight_per_node. Default 1 "
          "(the client's default).");
ABSL_FLAG(std::string, tls_ca, "",
          "Sesh: PEM file of the CA that signed the nodes' certificates; "
          "required unless --insecure. Default none.");
ABSL_FLAG(std::string, tls_cert, "",
          "Sesh: PEM file of a client certificate, for nodes run with "
          "--tls_client_ca; with --tls_key. Default none.");
ABSL_FLAG(std::string, tls_key, "",
          "Sesh: PEM file of the private key of --tls_cert. Default none.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Sesh: name to check in every node's certificate instead of the "
          "host of its address. Default none (the host).");
ABSL_FLAG(std::string, token_file, "",
          "Sesh: file whose first line is the token of "
          "--session_namespace, sent with every call. Default none.");
ABSL_FLAG(std::string, admin_token_file, "",
          "Sesh: file whose first line is an admin token, used only for "
          "NodeStats: every node's touch counters are read at the start and "
          "end of each measured window (touches_written_share). With "
          "--insecure they are read without a token. Default none.");
ABSL_FLAG(int, redis_wait_replicas, 0,
          "Redis: follow each write with WAIT <this> "
          "<--redis_wait_timeout_ms>, pipelined with it; fewer "
          "acknowledgements is an error (WAIT_SHORT). For a primary with "
          "replicas. Default 0: no WAIT.");
ABSL_FLAG(int64_t, redis_wait_timeout_ms, 2000,
          "Redis: the timeout of each WAIT in milliseconds. Default 2000.");
ABSL_FLAG(bool, insecure, false,
          "Sesh: plaintext, for nodes run with --insecure; excludes --tls_*. "
          "Default false.");
ABSL_FLAG(std::string, server_pids, "",
          "Comma-separated PIDs of local server processes (sesh-node, "
          "redis-server) whose CPU time is sampled over each measured window "
          "from /proc, to report server CPU per operation. Optional.");
ABSL_FLAG(bool, absl_deadlock_detection, false,
          "Keep abseil's mutex deadlock detection on. Debian's abseil is "
          "built without NDEBUG, so it is on by default and takes a global "
          "lock on every Mutex::Lock; sesh-node turns it off, and so does "
          "sesh-load unless this is set. Default false.");
ABSL_FLAG(bool, progress, true,
          "Print a progress line on stderr once per second. Default true.");

namespace sesh {
namespace load {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

enum Op : int { kGetTouch, kGet, kUpdate, kCreate, kRotate, kDestroy, kNumOps };
constexpr const char* kOpNames[kNumOps] = {"get_touch", "get",    "update",
                                           "create",    "rotate", "destroy"};

// --- Histogram --------------------------------------------------------------

// Log-bucketed latency histogram: bucket 0 holds < 1 µs, bucket b >= 1 holds
// [1 µs * r^(b-1), 1 µs * r^b) with r = 1.01, the last bucket everything from
// 60 s up. One writer thread (Record); any thread may read concurrently
// (relaxed atomics: a reader sees a slightly stale but sane histogram).
class Histogram {
 public:
  Histogram() { Reset(); }

  void Record(int64_t ns) {
    auto bump = [](std::atomic<uint64_t>& a, uint64_t by) {
      a.store(a.load(std::memory_order_relaxed) + by,
              std::memory_order_relaxed);
    };
    bump(counts_[BucketOf(ns)], 1);
    bump(count_, 1);
    bump(sum_ns_, static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
    if (ns > max_ns_.load(std::memory_order_relaxed)) {
      max_ns_.store(ns, std::memory_order_relaxed);
    }
  }

  void Add(const Histogram& o) {
    for (int b = 0; b < kBuckets; ++b) {
      counts_[b].fetch_add(o.counts_[b].load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
    }
    count_.fetch_add(o.count(), std::memory_order_relaxed);
    sum_ns_.fetch_add(o.sum_ns_.load(std::memory_order_relaxed),
                      std::memory_order_relaxed);
    max_ns_.store(std::max(max_ns(), o.max_ns()), std::memory_order_relaxed);
  }

  void Reset() {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    sum_ns_.store(0, std::memory_order_relaxed);
    max_ns_.store(0, std::memory_order_relaxed);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t max_ns() const { return max_ns_.load(std::memory_order_relaxed); }
  double MeanUs() const {
    uint64_t n = count();
    return n == 0 ? 0
                  : static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) /
                        static_cast<double>(n) / 1000.0;
  }

  // The q-quantile (0 < q <= 1) in µs: the geometric middle of the bucket
  // holding it, never above the maximum seen. 0 if empty.
  double PercentileUs(double q) const {
    uint64_t n = 0;
    for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
    if (n == 0) return 0;
    const uint64_t rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(n))));
    uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts_[b].load(std::memory_order_relaxed);
      if (seen >= rank) {
        const double mid =
            b == 0 ? 0.5 : kMinUs * std::pow(kRatio, static_cast<double>(b) - 0.5);
        return std::min(mid, static_cast<double>(max_ns()) / 1000.0);
      }
    }
    return static_cast<double>(max_ns()) / 1000.0;
  }

 private:
  static constexpr double kMinUs = 1.0;
  static constexpr double kMaxUs = 60e6;
  static constexpr double kRatio = 1.01;
  // 1 + ceil(ln(kMaxUs / kMinUs) / ln(kRatio)) = 1 + 1801, plus the top one.
  static constexpr int kBuckets = 1803;

  static int BucketOf(int64_t ns) {
    const double us = static_cast<double>(ns) / 1000.0;
    if (us < kMinUs) return 0;
    const int b = 1 + static_cast<int>(std::log(us / kMinUs) / std::log(kRatio));
    return std::min(b, kBuckets - 1);
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> count_;
  std::atomic<uint64_t> sum_ns_;
  std::atomic<int64_t> max_ns_;
};

// --- Mix, values, keys ------------------------------------------------------

class Mix {
 public:
  static absl::StatusOr<Mix> Parse(absl::string_view spec) {
    Mix mix;
    for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(part, absl::MaxSplits(':', 1));
      int op = -1;
      for (int i = 0; i < kNumOps; ++i) {
        if (kv.first == kOpNames[i]) op = i;
      }
      int weight = 0;
      if (op < 0 || !absl::SimpleAtoi(kv.second, &weight) || weight < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--mix: bad entry '", part, "'"));
      }
      mix.weights_[op] += weight;
    }
    int total = 0;
    for (int i = 0; i < kNumOps; ++i) {
      total += mix.weights_[i];
      mix.cumulative_[i] = total;
    }
    if (total == 0) return absl::InvalidArgumentError("--mix: all weights 0");
    mix.total_ = total;
    return mix;
  }

  Op Pick(std::mt19937_64& rng) const {
    const int x = static_cast<int>(rng() % static_cast<uint64_t>(total_));
    for (int i = 0; i < kNumOps; ++i) {
      if (x < cumulative_[i]) return static_cast<Op>(i);
    }
    return kGetTouch;
  }

  bool Has(Op op) const { return weights_[op] > 0; }

 private:
  std::array<int, kNumOps> weights_{};
  std::array<int, kNumOps> cumulative_{};
  int total_ = 0;
};

// n random characters of [A-Za-z0-9-_]: incompressible enough that RocksDB's
// block compression cannot shrink sessions below what Redis stores.
std::string RandomText(std::mt19937_64& rng, size_t n) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string s(n, ' ');
  uint64_t bits = 0;
  int left = 0;
  for (char& c : s) {
    if (left == 0) {
      bits = rng();
      left = 10;
    }
    c = kChars[bits & 63];
    bits >>= 6;
    --left;
  }
  return s;
}

// A fixed pool of random values, so that operations don't spend load
// generator CPU on making fresh ones. Read-only after construction.
class ValuePool {
 public:
  ValuePool(size_t value_bytes, int count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < count; ++i) values_.push_back(RandomText(rng, value_bytes));
  }
  const std::string& Pick(std::mt19937_64& rng) const {
    return values_[rng() % values_.size()];
  }

 private:
  std::vector<std::string> values_;
};

// The working set of keys, shared by all callers. Thread-safe.
//
// Each slot also tracks enough to tell whether a NOT_FOUND is explained by
// another caller: `gen` changes whenever the slot gets a new key, and
// `pending` counts destroys / rotates of its key in flight.
class KeyTable {
 public:
  struct Read {
    std::string key;
    uint64_t gen = 0;
  };

  explicit KeyTable(std::vector<std::string> keys)
      : slots_(keys.size()), stripes_(new absl::Mutex[kStripes]) {
    for (size_t i = 0; i < keys.size(); ++i) slots_[i].key = std::move(keys[i]);
  }

  size_t size() const { return slots_.size(); }

  // The key at `slot`; with `removing`, the caller is about to destroy or
  // rotate it (call Release when done).
  Read Get(size_t slot, bool removing) {
    absl::MutexLock lock(&stripes_[slot % kStripes]);
    Slot& s = slots_[slot];
    if (removing) ++s.pending;
    return {s.key, s.gen};
  }
  // Ends a removal started by Get(slot, true); puts `new_key` in the slot if
  // not empty and the slot still holds `old_key`.
  void Release(size_t slot, const std::string& old_key, std::string new_key) {
    absl::MutexLock lock(&stripes_[slot % kStripes]);
    Slot& s = slots_[slot];
    --s.pending;
    if (!new_key.empty() && s.key == old_key) {
      s.key = std::move(new_key);
      ++s.gen;
    }
  }
  void Set(size_t slot, std::string key) {
    absl::MutexLock lock(&stripes_[slot % kStripes]);
    slots_[slot].key = std::move(key);
    ++slots_[slot].gen;
  }
  // True if a NOT_FOUND for a key read as `read` is explained by another
  // caller's destroy or rotate. `removing`: the asker is itself a removal
  // that has not called Release yet.
  bool ChangedByOthers(size_t slot, const Read& read, bool removing) {
    absl::MutexLock lock(&stripes_[slot % kStripes]);
    const Slot& s = slots_[slot];
    return s.gen != read.gen || s.pending > (removing ? 1 : 0);
  }
  std::vector<std::string> Snapshot() {
    std::vector<std::string> out(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      absl::MutexLock lock(&stripes_[i % kStripes]);
      out[i] = slots_[i].key;
    }
    return out;
  }

 private:
  struct Slot {
    std::string key;
    uint64_t gen = 0;
    int pending = 0;
  };
  static constexpr size_t kStripes = 1024;
  // slots_[i] is guarded by stripes_[i % kStripes].
  std::vector<Slot> slots_;
  std::unique_ptr<absl::Mutex[]> stripes_;
};

// --- Callers and drivers ----------------------------------------------------

// How an operation ended.
struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  // Error label when code is not kOk (e.g. "UNAVAILABLE", "REDIS_ERR").
  std::string error;
  // When the measured part ended (for destroy: before the replacement).
  int64_t done_ns = 0;
  // create / rotate / destroy's replacement: the new key, if any.
  std::string new_key;
  // destroy: the replacement could not be created (the label).
  std::string refill_error;
};

Outcome OutcomeOf(const absl::Status& s) {
  Outcome o;
  o.done_ns = NowNs();
  o.code = s.code();
  if (!s.ok()) o.error = absl::StatusCodeToString(s.code());
  return o;
}

class Driver;

struct Caller {
  int index = 0;
  Driver* driver = nullptr;
  std::mt19937_64 rng;
  // The operation in flight.
  Op op = kGetTouch;
  size_t slot = 0;
  std::string key;
  uint64_t key_gen = 0;
  int64_t intended_ns = 0;
  // Schedule: the next operation is due at next_ns. Open loop: next_ns =
  // first_ns + k * interval_ns.
  int64_t first_ns = 0;
  int64_t interval_ns = 0;
  int64_t k = 0;
  int64_t next_ns = 0;
  // Target-specific (the Redis connection).
  void* conn = nullptr;
};

class Target {
 public:
  virtual ~Target() = default;
  // Creates n sessions and returns their keys.
  virtual absl::StatusOr<std::vector<std::string>> Preload(int64_t n) = 0;
  // Sets up a caller before the first phase (on the main thread).
  virtual absl::Status Attach(Caller* caller) = 0;
  // Starts caller->op on caller->key. Runs on the caller's driver thread;
  // must not block; ends, on any thread, with caller->driver->Post(),
  // never inside Start itself.
  virtual void Start(Caller* caller) = 0;
  // Checks that a key read from --keys_file belongs to this target.
  virtual bool LooksLikeKey(absl::string_view key) const = 0;
};

// Something watched by a driver's epoll.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvent(uint32_t events) = 0;
};

struct PhaseSpec {
  double rate = 0;  // 0: closed loop
  int concurrency = 1;
  int64_t start_ns = 0;
  int64_t measure_ns = 0;
  int64_t end_ns = 0;
};

// What one driver measured in one phase.
struct DriverStats {
  std::array<Histogram, kNumOps> hist;
  // Written by the driver thread only; read after it joined.
  std::array<std::map<std::string, uint64_t>, kNumOps> errors;
  std::atomic<uint64_t> unexpected_errors{0};
  std::atomic<uint64_t> expected_errors{0};
  uint64_t unstarted_at_end = 0;
  // Completion of the last measured operation.
  int64_t last_done_ns = 0;
  bool drained = true;

  void Reset() {
    for (auto& h : hist) h.Reset();
    for (auto& e : errors) e.clear();
    unexpected_errors = 0;
    expected_errors = 0;
    unstarted_at_end = 0;
    last_done_ns = 0;
    drained = true;
  }
};

// An event loop running a set of callers. RunPhase runs on its own thread;
// Post may be called from any thread.
class Driver {
 public:
  Driver(Target* target, KeyTable* keys, const Mix* mix)
      : target_(target), keys_(keys), mix_(mix) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    mail_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    mail_handler_.fn = [this](uint32_t) {
      // One read resets an eventfd's counter: no second read to find it
      // empty (a syscall per wake-up is a measurable share of the client's
      // CPU at low rates).
      uint64_t v;
      (void)!read(mail_fd_, &v, sizeof(v));
      DrainMail();
    };
    Watch(mail_fd_, &mail_handler_, EPOLLIN);
  }

  ~Driver() {
    close(mail_fd_);
    close(epfd_);
  }

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  void AddCaller(Caller* c) {
    c->driver = this;
    callers_.push_back(c);
  }

  bool Watch(int fd, EventHandler* h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  void Rewatch(int fd, EventHandler* h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
  void Unwatch(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

  // Hands a finished operation back to the driver. Any thread; on the
  // driver's own thread it is queued and processed after the current event.
  void Post(Caller* c, Outcome o) {
    bool wake;
    {
      absl::MutexLock lock(&mail_mu_);
      mail_.emplace_back(c, std::move(o));
      wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (wake) {
      const uint64_t one = 1;
      (void)!write(mail_fd_, &one, sizeof(one));
    }
  }

  DriverStats& stats() { return stats_; }

  // Ends the caller's operation. Driver thread only, from an event handler
  // (never from inside Target::Start: use Post there).
  void CompleteOnDriverThread(Caller* c, Outcome o) { Complete(c, std::move(o)); }

  void RunPhase(const PhaseSpec& spec) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // open-loop schedule precision
    spec_ = spec;
    stats_.Reset();
    inflight_ = 0;
    timers_ = {};
    const size_t n = static_cast<size_t>(spec.concurrency);
    for (Caller* c : callers_) {
      c->k = 0;
      if (spec.rate > 0) {
        c->interval_ns = static_cast<int64_t>(1e9 * static_cast<double>(n) / spec.rate);
        c->first_ns = spec.start_ns +
                      static_cast<int64_t>(1e9 * c->index / spec.rate);
      } else {
        c->interval_ns = 0;
        c->first_ns = spec.start_ns;
      }
      c->next_ns = c->first_ns;
      timers_.push({c->next_ns, c});
    }
    // Open loop: a caller that fell behind keeps working through the
    // operations scheduled inside the window after the window ends (their
    // latency counts from their scheduled start), for at most another
    // window's length; what is left then is reported as unstarted.
    const int64_t issue_until = spec.end_ns + (spec.end_ns - spec.measure_ns);
    constexpr int64_t kDrainNs = 15'000'000'000;  // > any client deadline
    std::array<epoll_event, 256> events;
    for (;;) {
      const int64_t now = NowNs();
      while (!timers_.empty() && timers_.top().first <= now &&
             now < issue_until) {
        Caller* c = timers_.top().second;
        timers_.pop();
        Issue(c, now);
      }
      const bool issuing = !timers_.empty() && now < issue_until;
      if (now >= spec.end_ns && inflight_ == 0 && !issuing) break;
      if (now >= issue_until + kDrainNs) {
        stats_.drained = false;
        break;
      }
      int64_t wake;
      if (now < spec.end_ns) {
        wake = timers_.empty() ? spec.end_ns
                               : std::min(timers_.top().first, spec.end_ns);
      } else if (issuing) {
        wake = std::min(timers_.top().first, issue_until);
      } else {
        wake = issue_until + kDrainNs;
      }
      // epoll_pwait2 takes a nanosecond timeout: no timer fd to arm and
      // read per operation, which matters on a small machine.
      const int64_t wait_ns = std::clamp<int64_t>(wake - now, 0, 1'000'000'000);
      timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000),
                       static_cast<long>(wait_ns % 1'000'000'000)};
      const int got = epoll_pwait2(epfd_, events.data(),
                                   static_cast<int>(events.size()), &timeout,
                                   nullptr);
      for (int i = 0; i < got; ++i) {
        static_cast<EventHandler*>(events[i].data.ptr)->OnEvent(events[i].events);
      }
    }
    // Open loop: scheduled operations that never started.
    if (spec.rate > 0) {
      while (!timers_.empty()) timers_.pop();
      for (Caller* c : callers_) {
        int64_t from = std::max(c->next_ns, spec.measure_ns);
        // Align `from` to the caller's schedule.
        if (from > c->next_ns && c->interval_ns > 0) {
          from = c->next_ns + ((from - c->next_ns + c->interval_ns - 1) /
                               c->interval_ns) * c->interval_ns;
        }
        if (from < spec.end_ns && c->interval_ns > 0) {
          stats_.unstarted_at_end += static_cast<uint64_t>(
              (spec.end_ns - from + c->interval_ns - 1) / c->interval_ns);
        }
      }
    }
  }

 private:
  struct FnHandler : EventHandler {
    std::function<void(uint32_t)> fn;
    void OnEvent(uint32_t events) override { fn(events); }
  };
  using Timer = std::pair<int64_t, Caller*>;

  void DrainMail() {
    std::vector<std::pair<Caller*, Outcome>> mail;
    {
      absl::MutexLock lock(&mail_mu_);
      mail.swap(mail_);
      wake_pending_ = false;
    }
    for (auto& [c, o] : mail) Complete(c, std::move(o));
  }

  void Issue(Caller* c, int64_t now) {
    c->op = mix_->Pick(c->rng);
    c->slot = static_cast<size_t>(c->rng() % keys_->size());
    KeyTable::Read read = keys_->Get(c->slot, IsRemoval(c->op));
    c->key = std::move(read.key);
    c->key_gen = read.gen;
    c->intended_ns = spec_.rate > 0 ? c->next_ns : now;
    ++inflight_;
    target_->Start(c);
  }

  static bool IsRemoval(Op op) { return op == kRotate || op == kDestroy; }

  void Complete(Caller* c, Outcome o) {
    --inflight_;
    const bool ok = o.code == absl::StatusCode::kOk;
    const bool measured =
        c->intended_ns >= spec_.measure_ns && c->intended_ns < spec_.end_ns;
    if (measured) {
      stats_.last_done_ns = std::max(stats_.last_done_ns, o.done_ns);
      if (ok) {
        stats_.hist[c->op].Record(o.done_ns - c->intended_ns);
      } else {
        std::string label = o.error;
        bool expected = false;
        if (o.code == absl::StatusCode::kNotFound &&
            keys_->ChangedByOthers(c->slot, {std::string(), c->key_gen},
                                   IsRemoval(c->op))) {
          label = "NOT_FOUND_expected";  // destroyed / rotated meanwhile
          expected = true;
        }
        ++stats_.errors[c->op][label];
        (expected ? stats_.expected_errors : stats_.unexpected_errors)
            .fetch_add(1, std::memory_order_relaxed);
      }
      if (!o.refill_error.empty()) {
        ++stats_.errors[c->op]["refill_" + o.refill_error];
        stats_.unexpected_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (IsRemoval(c->op)) {
      keys_->Release(c->slot, c->key, ok ? std::move(o.new_key) : std::string());
    } else if (c->op == kCreate && ok) {
      // The new session takes a random slot; the old one is abandoned.
      keys_->Set(c->slot, std::move(o.new_key));
    }
    const int64_t now = NowNs();
    if (spec_.rate > 0) {
      ++c->k;
      c->next_ns = c->first_ns + c->k * c->interval_ns;
    } else {
      c->next_ns = now;
    }
    if (c->next_ns >= spec_.end_ns) return;
    // Through the timer heap even when due, so that one busy connection
    // cannot starve the others' events.
    timers_.push({c->next_ns, c});
  }

  // Constant after construction.
  Target* const target_;
  KeyTable* const keys_;
  const Mix* const mix_;
  int epfd_ = -1;
  int mail_fd_ = -1;
  FnHandler mail_handler_;
  std::vector<Caller*> callers_;

  // Driver thread only.
  PhaseSpec spec_;
  int64_t inflight_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  DriverStats stats_;

  absl::Mutex mail_mu_;
  std::vector<std::pair<Caller*, Outcome>> mail_ ABSL_GUARDED_BY(mail_mu_);
  bool wake_pending_ ABSL_GUARDED_BY(mail_mu_) = false;
};

// --- Sesh -------------------------------------------------------------------

// Runs blocking calls (Client::Rotate has no async form) off the driver
// threads.
class WorkPool {
 public:
  explicit WorkPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Loop(); });
    }
  }
  ~WorkPool() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }
  void Run(std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(fn));
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](WorkPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
              return p->stop_ || !p->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stop_
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Client options from the flags, with the token of token_file (none if
// empty).
absl::StatusOr<ClientOptions> SeshClientOptions(const std::string& addrs,
                                                const std::string& token_file) {
  ClientOptions options;
  options.seeds = absl::StrSplit(addrs, ',', absl::SkipEmpty());
  options.deadline = absl::Milliseconds(absl::GetFlag(FLAGS_sesh_deadline_ms));
  options.coalesce_gets = absl::GetFlag(FLAGS_sesh_coalesce_gets);
  options.max_batch = absl::GetFlag(FLAGS_sesh_max_batch);
  options.max_batch_wait =
      absl::Microseconds(absl::GetFlag(FLAGS_sesh_max_batch_wait_us));
  options.stream_gets = absl::GetFlag(FLAGS_sesh_stream_gets);
  options.max_batches_in_flight_per_node =
      absl::GetFlag(FLAGS_sesh_batches_in_flight);
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (!options.insecure && absl::GetFlag(FLAGS_tls_ca).empty()) {
    return absl::InvalidArgumentError(
        "--tls_ca=FILE is required (or --insecure, for nodes run with "
        "--insecure)");
  }
  return LoadTlsFiles(std::move(options), absl::GetFlag(FLAGS_tls_ca),
                      absl::GetFlag(FLAGS_tls_cert),
                      absl::GetFlag(FLAGS_tls_key), token_file);
}

// The nodes' touch counters (NodeStats), summed over the cluster, through a
// client of its own that holds the admin token. Main thread only.
class TouchCounters {
 public:
  struct Sample {
    uint64_t requested = 0;
    uint64_t written = 0;
  };

  // Fails if the topology or a node's NodeStats cannot be read (e.g.
  // PERMISSION_DENIED: not an admin token).
  static absl::StatusOr<std::unique_ptr<TouchCounters>> Connect(
      const std::string& addrs, const std::string& token_file) {
    absl::StatusOr<ClientOptions> options =
        SeshClientOptions(addrs, token_file);
    if (!options.ok()) return options.status();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*options);
    if (!client.ok()) return client.status();
    absl::StatusOr<TopologyInfo> topology = (*client)->Topology();
    if (!topology.ok()) return topology.status();
    auto counters = std::unique_ptr<TouchCounters>(new TouchCounters);
    counters->client_ = *std::move(client);
    for (const NodeInfo& n : topology->nodes) {
      counters->node_ids_.push_back(n.id);
    }
    absl::StatusOr<Sample> first = counters->Read();
    if (!first.ok()) return first.status();
    return counters;
  }

  absl::StatusOr<Sample> Read() {
    Sample sum;
    for (const std::string& id : node_ids_) {
      absl::StatusOr<NodeStatsInfo> stats = client_->NodeStats(id);
      if (!stats.ok()) return stats.status();
      sum.requested += stats->touches_requested;
      sum.written += stats->touches_written;
    }
    return sum;
  }

 private:
  TouchCounters() = default;

  std::unique_ptr<Client> client_;
  std::vector<std::string> node_ids_;
};

class SeshTarget : public Target {
 public:
  static absl::StatusOr<std::unique_ptr<SeshTarget>> Connect(
      const std::string& addrs, int value_bytes, int concurrency) {
    absl::StatusOr<ClientOptions> loaded =
        SeshClientOptions(addrs, absl::GetFlag(FLAGS_token_file));
    if (!loaded.ok()) return loaded.status();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*loaded);
    if (!client.ok()) return client.status();
    return std::unique_ptr<SeshTarget>(
        new SeshTarget(*std::move(client), value_bytes, concurrency));
  }

  ~SeshTarget() override {
    pool_.reset();    // no Rotate in flight after this
    client_.reset();  // waits for the async calls in flight
  }

  absl::StatusOr<std::vector<std::string>> Preload(int64_t n) override {
    std::vector<std::string> keys(n);
    // Creates go out asynchronously, --preload_inflight at a time; failed
    // slots are retried in a second and third pass.
    struct State {
      absl::Mutex mu;
      int window = 1;
      int inflight ABSL_GUARDED_BY(mu) = 0;
      int64_t done ABSL_GUARDED_BY(mu) = 0;
      int64_t failed ABSL_GUARDED_BY(mu) = 0;
      std::string last_error ABSL_GUARDED_BY(mu);
    };
    const bool progress = absl::GetFlag(FLAGS_progress);
    for (int pass = 0; pass < 3; ++pass) {
      std::vector<int64_t> todo;
      for (int64_t i = 0; i < n; ++i) {
        if (keys[i].empty()) todo.push_back(i);
      }
      if (todo.empty()) break;
      State st;
      st.window = std::max(1, absl::GetFlag(FLAGS_preload_inflight));
      std::mt19937_64 rng(1000 + pass);
      const int64_t start = NowNs();
      int64_t next_report = start + 1'000'000'000;
      for (int64_t i : todo) {
        CreateOptions options = FreshCreateOptions(rng);
        {
          absl::MutexLock lock(&st.mu);
          st.mu.Await(absl::Condition(
              +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
                return s->inflight < s->window;
              },
              &st));
          ++st.inflight;
        }
        client_->CreateAsync(
            ns_, options, [&st, &keys, i](absl::StatusOr<SessionData> r) {
              absl::MutexLock lock(&st.mu);
              if (r.ok()) {
                keys[i] = std::move(r->id);
              } else {
                ++st.failed;
                st.last_error = r.status().ToString();
              }
              ++st.done;
              --st.inflight;
            });
        if (progress && NowNs() >= next_report) {
          next_report += 1'000'000'000;
          absl::MutexLock lock(&st.mu);
          std::fprintf(stderr, "[sesh preload] %lld/%zu created, %.0f/s\n",
                       static_cast<long long>(st.done), todo.size(),
                       static_cast<double>(st.done) * 1e9 /
                           static_cast<double>(NowNs() - start));
        }
      }
      absl::MutexLock lock(&st.mu);
      st.mu.Await(absl::Condition(
          +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
            return s->inflight == 0;
          },
          &st));
      std::fprintf(stderr,
                   "[sesh preload] pass %d: %lld created in %.1f s, %lld "
                   "failed%s%s\n",
                   pass + 1, static_cast<long long>(st.done - st.failed),
                   static_cast<double>(NowNs() - start) / 1e9,
                   static_cast<long long>(st.failed),
                   st.failed > 0 ? ", last: " : "", st.last_error.c_str());
    }
    for (const std::string& k : keys) {
      if (k.empty()) {
        return absl::UnavailableError("preload: some creates kept failing");
      }
    }
    return keys;
  }

  absl::Status Attach(Caller*) override { return absl::OkStatus(); }

  bool LooksLikeKey(absl::string_view key) const override {
    return key.size() == kIdChars;
  }

  void Start(Caller* c) override {
    switch (c->op) {
      case kGetTouch:
      case kGet:
        client_->GetAsync(ns_, c->key, c->op == kGetTouch,
                          [c](absl::StatusOr<SessionData> r) {
                            c->driver->Post(c, OutcomeOf(r.status()));
                          });
        return;
      case kUpdate: {
        UpdateOptions options;
        options.set["a1"] = attr_values_.Pick(c->rng);
        options.durability = durability_;
        client_->UpdateAsync(ns_, c->key, options,
                             [c](absl::StatusOr<SessionData> r) {
                               c->driver->Post(c, OutcomeOf(r.status()));
                             });
        return;
      }
      case kCreate:
        client_->CreateAsync(ns_, PooledCreateOptions(c->rng),
                             [c](absl::StatusOr<SessionData> r) {
                               Outcome o = OutcomeOf(r.status());
                               if (r.ok()) o.new_key = std::move(r->id);
                               c->driver->Post(c, std::move(o));
                             });
        return;
      case kRotate:
        pool_->Run([this, c] {
          absl::StatusOr<SessionData> r =
              client_->Rotate(ns_, c->key, durability_);
          Outcome o = OutcomeOf(r.status());
          if (r.ok()) o.new_key = std::move(r->id);
          c->driver->Post(c, std::move(o));
        });
        return;
      case kDestroy: {
        // The replacement's options are made here, on the driver thread,
        // which owns c->rng.
        auto refill = std::make_shared<CreateOptions>(PooledCreateOptions(c->rng));
        client_->DestroyAsync(
            ns_, c->key, durability_,
            [this, c, refill](absl::Status s) {
              Outcome o = OutcomeOf(s);
              if (!s.ok()) {
                c->driver->Post(c, std::move(o));
                return;
              }
              client_->CreateAsync(
                  ns_, *refill,
                  [c, o = std::move(o)](absl::StatusOr<SessionData> r) mutable {
                    if (r.ok()) {
                      o.new_key = std::move(r->id);
                    } else {
                      o.refill_error = absl::StatusCodeToString(r.status().code());
                    }
                    c->driver->Post(c, std::move(o));
                  });
            });
        return;
      }
      case kNumOps:
        break;
    }
  }

 private:
  SeshTarget(std::unique_ptr<Client> client, int value_bytes, int concurrency)
      : client_(std::move(client)),
        ns_(absl::GetFlag(FLAGS_session_namespace)),
        attr_bytes_(std::max(1, value_bytes / kAttributes)),
        idle_timeout_ms_(absl::GetFlag(FLAGS_idle_timeout_s) * 1000),
        attr_values_(attr_bytes_, 4096, 7),
        pool_(std::make_unique<WorkPool>(std::max(2, concurrency / 8))),
        durability_(ParseDurability(absl::GetFlag(FLAGS_durability))) {}

  static Durability ParseDurability(const std::string& text) {
    if (text == "ONE") return Durability::kOne;
    if (text == "QUORUM") return Durability::kQuorum;
    if (text == "ALL") return Durability::kAll;
    return Durability::kDefault;
  }

  static constexpr int kAttributes = 4;

  CreateOptions FreshCreateOptions(std::mt19937_64& rng) const {
    CreateOptions options;
    options.idle_timeout_ms = idle_timeout_ms_;
    for (int i = 0; i < kAttributes; ++i) {
      options.attributes[absl::StrCat("a", i)] = RandomText(rng, attr_bytes_);
    }
    return options;
  }
  CreateOptions PooledCreateOptions(std::mt19937_64& rng) const {
    CreateOptions options;
    options.idle_timeout_ms = idle_timeout_ms_;
    options.durability = durability_;
    for (int i = 0; i < kAttributes; ++i) {
      options.attributes[absl::StrCat("a", i)] = attr_values_.Pick(rng);
    }
    return options;
  }

  std::unique_ptr<Client> client_;
  const std::string ns_;
  const size_t attr_bytes_;
  const int64_t idle_timeout_ms_;
  const ValuePool attr_values_;
  std::unique_ptr<WorkPool> pool_;
  const Durability durability_;
};


// --- Redis ------------------------------------------------------------------

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
      const std::string& addr, int value_bytes) {
    std::string host, port;
    absl::Status s = SplitHostPort(addr, &host, &port);
    if (!s.ok()) return s;
    return std::unique_ptr<RedisTarget>(
        new RedisTarget(host, port, value_bytes));
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
    const int depth = std::max(1, absl::GetFlag(FLAGS_preload_inflight));
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

  RedisTarget(std::string host, std::string port, int value_bytes)
      : host_(std::move(host)),
        port_(std::move(port)),
        value_bytes_(static_cast<size_t>(value_bytes)),
        idle_s_(absl::GetFlag(FLAGS_idle_timeout_s)),
        ex_(absl::StrCat(idle_s_)),
        wait_replicas_(absl::GetFlag(FLAGS_redis_wait_replicas)),
        wait_n_(absl::StrCat(wait_replicas_)),
        wait_timeout_ms_(
            absl::StrCat(absl::GetFlag(FLAGS_redis_wait_timeout_ms))),
        values_(value_bytes_, 4096, 8) {}

  // connect-redis style: prefix + the same 43-character id Sesh mints.
  static std::string NewKey() { return absl::StrCat(kKeyPrefix, EncodeId(NewRawId())); }

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

// --- Phases, results, JSON --------------------------------------------------

// CPU seconds used so far by this process and by the --server_pids.
struct CpuSample {
  int64_t at_ns = 0;
  double client_s = 0;
  double server_s = 0;
};

double ProcCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  // After "pid (comm)": state is field 3; utime and stime are fields 14, 15.
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ');
  double utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtod(f[11], &utime) ||
      !absl::SimpleAtod(f[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CpuSample SampleCpu(const std::vector<int>& server_pids) {
  CpuSample s;
  s.at_ns = NowNs();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.client_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  for (int pid : server_pids) s.server_s += ProcCpuSeconds(pid);
  return s;
}

struct PhaseResult {
  double rate = 0;
  double duration_s = 0;
  // From the start of the measured window to the last measured completion:
  // longer than duration_s when an open loop fell behind its schedule.
  // Throughputs are counts over elapsed_s.
  double elapsed_s = 0;
  // CPU cores busy over the measured window (-1: not sampled).
  double client_cores = -1;
  double server_cores = -1;
  std::unique_ptr<std::array<Histogram, kNumOps>> hist =
      std::make_unique<std::array<Histogram, kNumOps>>();
  std::unique_ptr<Histogram> all = std::make_unique<Histogram>();
  std::array<std::map<std::string, uint64_t>, kNumOps> errors;
  uint64_t unexpected_errors = 0;
  uint64_t expected_errors = 0;
  uint64_t unstarted_at_end = 0;
  bool drained = true;
  // The nodes' touch counters over the measured window (-1: not read).
  int64_t touches_requested = -1;
  int64_t touches_written = -1;
};

std::string PhaseLabel(double rate) {
  return rate > 0 ? absl::StrFormat("open %.0f/s", rate) : "closed loop";
}

PhaseResult RunPhase(const std::string& target_name,
                     const std::vector<std::unique_ptr<Driver>>& drivers,
                     const std::vector<int>& server_pids,
                     TouchCounters* touches, double rate, int concurrency,
                     double warmup_s, double duration_s) {
  PhaseSpec spec;
  spec.rate = rate;
  spec.concurrency = concurrency;
  spec.start_ns = NowNs() + 20'000'000;
  spec.measure_ns = spec.start_ns + static_cast<int64_t>(warmup_s * 1e9);
  spec.end_ns = spec.measure_ns + static_cast<int64_t>(duration_s * 1e9);

  std::atomic<int> running{static_cast<int>(drivers.size())};
  std::vector<std::thread> threads;
  for (const auto& d : drivers) {
    threads.emplace_back([&running, &spec, driver = d.get()] {
      driver->RunPhase(spec);
      running.fetch_sub(1);
    });
  }
  const bool progress = absl::GetFlag(FLAGS_progress);
  const std::string label = PhaseLabel(rate);
  int64_t next_tick = spec.measure_ns + 1'000'000'000;
  uint64_t last_count = 0;
  int64_t last_ns = spec.measure_ns;
  CpuSample cpu_start, cpu_end;
  // Read outside the CPU window: NodeStats costs the nodes CPU too.
  std::optional<absl::StatusOr<TouchCounters::Sample>> touch_start, touch_end;
  while (running.load() > 0) {
    absl::SleepFor(absl::Milliseconds(20));
    const int64_t now = NowNs();
    if (cpu_start.at_ns == 0 && now >= spec.measure_ns) {
      if (touches != nullptr) touch_start = touches->Read();
      cpu_start = SampleCpu(server_pids);
    }
    if (cpu_end.at_ns == 0 && now >= spec.end_ns) {
      cpu_end = SampleCpu(server_pids);
      if (touches != nullptr) touch_end = touches->Read();
    }
    if (!progress || now < next_tick) continue;
    next_tick += 1'000'000'000;
    Histogram merged;
    uint64_t unexpected = 0, expected = 0;
    for (const auto& d : drivers) {
      for (const Histogram& h : d->stats().hist) merged.Add(h);
      unexpected += d->stats().unexpected_errors.load();
      expected += d->stats().expected_errors.load();
    }
    const uint64_t count = merged.count();
    std::fprintf(stderr,
                 "[%s %s] %4.0f s: %8.0f ops/s, p99 %8.0f us so far, errors "
                 "%llu (+%llu expected)%s\n",
                 target_name.c_str(), label.c_str(),
                 static_cast<double>(now - spec.measure_ns) / 1e9,
                 static_cast<double>(count - last_count) * 1e9 /
                     static_cast<double>(std::max<int64_t>(1, now - last_ns)),
                 merged.PercentileUs(0.99),
                 static_cast<unsigned long long>(unexpected),
                 static_cast<unsigned long long>(expected),
                 now >= spec.end_ns ? " (draining)" : "");
    last_count = count;
    last_ns = now;
  }
  for (std::thread& t : threads) t.join();
  // The load may end before the main thread wakes past end_ns.
  if (touch_start.has_value() && !touch_end.has_value()) {
    touch_end = touches->Read();
  }

  PhaseResult result;
  result.rate = rate;
  result.duration_s = duration_s;
  int64_t last_done_ns = 0;
  for (const auto& d : drivers) {
    last_done_ns = std::max(last_done_ns, d->stats().last_done_ns);
  }
  result.elapsed_s = std::max(
      duration_s, static_cast<double>(last_done_ns - spec.measure_ns) / 1e9);
  if (cpu_start.at_ns != 0 && cpu_end.at_ns > cpu_start.at_ns) {
    const double wall = static_cast<double>(cpu_end.at_ns - cpu_start.at_ns) / 1e9;
    result.client_cores = (cpu_end.client_s - cpu_start.client_s) / wall;
    if (!server_pids.empty()) {
      result.server_cores = (cpu_end.server_s - cpu_start.server_s) / wall;
    }
  }
  if (touch_start.has_value() && touch_start->ok() && touch_end->ok()) {
    result.touches_requested = static_cast<int64_t>(
        (*touch_end)->requested - (*touch_start)->requested);
    result.touches_written = static_cast<int64_t>(
        (*touch_end)->written - (*touch_start)->written);
  } else if (touch_start.has_value()) {
    const absl::Status& failed = touch_start->ok() ? touch_end->status()
                                                   : touch_start->status();
    std::fprintf(stderr, "sesh-load: no touch counts for this phase: %s\n",
                 failed.ToString().c_str());
  }
  for (const auto& d : drivers) {
    DriverStats& s = d->stats();
    for (int op = 0; op < kNumOps; ++op) {
      (*result.hist)[op].Add(s.hist[op]);
      result.all->Add(s.hist[op]);
      for (const auto& [code, n] : s.errors[op]) result.errors[op][code] += n;
    }
    result.unexpected_errors += s.unexpected_errors.load();
    result.expected_errors += s.expected_errors.load();
    result.unstarted_at_end += s.unstarted_at_end;
    result.drained = result.drained && s.drained;
  }
  return result;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.3f", v);
}

std::string StatsJson(const Histogram& h, double duration_s) {
  return absl::StrCat(
      "{\"count\": ", h.count(), ", \"ops_per_s\": ",
      JsonNumber(static_cast<double>(h.count()) / duration_s),
      ", \"mean_us\": ", JsonNumber(h.MeanUs()),
      ", \"p50_us\": ", JsonNumber(h.PercentileUs(0.50)),
      ", \"p90_us\": ", JsonNumber(h.PercentileUs(0.90)),
      ", \"p99_us\": ", JsonNumber(h.PercentileUs(0.99)),
      ", \"p999_us\": ", JsonNumber(h.PercentileUs(0.999)),
      ", \"max_us\": ", JsonNumber(static_cast<double>(h.max_ns()) / 1000.0),
      "}");
}

std::string CpuJson(double cores) {
  return cores < 0 ? "null" : JsonNumber(cores);
}

std::string CpuPerOpJson(double cores, const PhaseResult& r) {
  const double ops_per_s = static_cast<double>(r.all->count()) / r.elapsed_s;
  if (cores < 0 || ops_per_s <= 0) return "null";
  return JsonNumber(cores * 1e6 / ops_per_s);
}

std::string TouchesJson(const PhaseResult& r) {
  if (r.touches_requested < 0) {
    return "\"touches_requested\": null, \"touches_written\": null, "
           "\"touches_written_share\": null";
  }
  return absl::StrCat(
      "\"touches_requested\": ", r.touches_requested,
      ", \"touches_written\": ", r.touches_written,
      ", \"touches_written_share\": ",
      r.touches_requested > 0
          ? JsonNumber(static_cast<double>(r.touches_written) /
                       static_cast<double>(r.touches_requested))
          : "null");
}

std::string ErrorsJson(
    const std::array<std::map<std::string, uint64_t>, kNumOps>& errors) {
  std::vector<std::string> ops;
  for (int op = 0; op < kNumOps; ++op) {
    if (errors[op].empty()) continue;
    std::vector<std::string> codes;
    for (const auto& [code, n] : errors[op]) {
      codes.push_back(absl::StrCat(JsonString(code), ": ", n));
    }
    ops.push_back(absl::StrCat(JsonString(kOpNames[op]), ": {",
                               absl::StrJoin(codes, ", "), "}"));
  }
  return absl::StrCat("{", absl::StrJoin(ops, ", "), "}");
}

void PrintPhase(const std::string& target, const PhaseResult& r,
                const Mix& mix) {
  std::printf("%s, %s, %.1f s (%.1f s to finish): %.0f ops/s total%s\n",
              target.c_str(), PhaseLabel(r.rate).c_str(), r.duration_s,
              r.elapsed_s,
              static_cast<double>(r.all->count()) / r.elapsed_s,
              r.drained ? "" : " (NOT DRAINED)");
  std::printf("  %-10s %10s %10s %9s %9s %9s %9s %9s\n", "op", "count",
              "ops/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us");
  for (int op = 0; op < kNumOps; ++op) {
    if (!mix.Has(static_cast<Op>(op))) continue;
    const Histogram& h = (*r.hist)[op];
    std::printf("  %-10s %10llu %10.0f %9.0f %9.0f %9.0f %9.0f %9.0f\n",
                kOpNames[op], static_cast<unsigned long long>(h.count()),
                static_cast<double>(h.count()) / r.elapsed_s,
                h.PercentileUs(0.5), h.PercentileUs(0.9),
                h.PercentileUs(0.99), h.PercentileUs(0.999),
                static_cast<double>(h.max_ns()) / 1000.0);
  }
  if (r.client_cores >= 0) {
    const double ops_per_s = static_cast<double>(r.all->count()) / r.elapsed_s;
    std::printf("  cpu: sesh-load %.2f cores (%.1f us/op)", r.client_cores,
                ops_per_s > 0 ? r.client_cores * 1e6 / ops_per_s : 0.0);
    if (r.server_cores >= 0) {
      std::printf(", servers %.2f cores (%.1f us/op)", r.server_cores,
                  ops_per_s > 0 ? r.server_cores * 1e6 / ops_per_s : 0.0);
    }
    std::printf("\n");
  }
  if (r.touches_requested >= 0) {
    std::printf("  touches written by the nodes: %lld of %lld (%.1f%%)\n",
                static_cast<long long>(r.touches_written),
                static_cast<long long>(r.touches_requested),
                r.touches_requested > 0
                    ? 100.0 * static_cast<double>(r.touches_written) /
                          static_cast<double>(r.touches_requested)
                    : 0.0);
  }
  if (r.rate > 0) {
    std::printf("  unstarted at end: %llu\n",
                static_cast<unsigned long long>(r.unstarted_at_end));
  }
  std::printf("  errors: %llu unexpected, %llu expected %s\n",
              static_cast<unsigned long long>(r.unexpected_errors),
              static_cast<unsigned long long>(r.expected_errors),
              ErrorsJson(r.errors).c_str());
  std::fflush(stdout);
}

absl::Status WriteKeys(const std::string& path, const std::string& target,
                       const std::vector<std::string>& keys) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# sesh-load keys target=" << target << "\n";
    for (const std::string& k : keys) out << k << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename to ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadKeys(const std::string& path,
                                                  const Target& target) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!target.LooksLikeKey(line)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": not a key of this --target (wrong file?)"));
    }
    keys.push_back(line);
  }
  if (keys.empty()) return absl::InvalidArgumentError(path + ": no keys");
  return keys;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "sesh-load: %s\n", s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Drives a Sesh cluster or a Redis server with a web-session mix and "
      "reports throughput and latency percentiles per operation.\n"
      "  sesh-load --target=sesh|redis --addr=... [--rate=N | --rates=...]");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_absl_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }

  const std::string target_name = absl::GetFlag(FLAGS_target);
  const std::string addr = absl::GetFlag(FLAGS_addr);
  const int64_t n_keys = absl::GetFlag(FLAGS_keys);
  const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const std::string keys_file = absl::GetFlag(FLAGS_keys_file);
  if (n_keys < 1 || value_bytes < 4 || concurrency < 1 || duration_s <= 0 ||
      warmup_s < 0 || absl::GetFlag(FLAGS_threads) < 1 ||
      absl::GetFlag(FLAGS_idle_timeout_s) < 1 ||
      absl::GetFlag(FLAGS_redis_wait_replicas) < 0 ||
      absl::GetFlag(FLAGS_redis_wait_timeout_ms) < 0) {
    return Fail(absl::InvalidArgumentError(
        "need --keys >= 1, --value_bytes >= 4, --concurrency >= 1, "
        "--threads >= 1, --duration_s > 0, --warmup_s >= 0, "
        "--idle_timeout_s >= 1, --redis_wait_replicas >= 0, "
        "--redis_wait_timeout_ms >= 0"));
  }
  absl::StatusOr<Mix> mix = Mix::Parse(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) return Fail(mix.status());
  std::vector<double> rates;
  if (!absl::GetFlag(FLAGS_rates).empty()) {
    for (absl::string_view r :
         absl::StrSplit(absl::GetFlag(FLAGS_rates), ',', absl::SkipEmpty())) {
      double v;
      if (!absl::SimpleAtod(r, &v) || v < 0) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("--rates: bad rate '", r, "'")));
      }
      rates.push_back(v);
    }
  } else {
    rates.push_back(absl::GetFlag(FLAGS_rate));
  }
  if (rates.empty() || rates[0] < 0) {
    return Fail(absl::InvalidArgumentError("--rate must be >= 0"));
  }
  if (absl::GetFlag(FLAGS_skip_preload) && keys_file.empty()) {
    return Fail(absl::InvalidArgumentError("--skip_preload needs --keys_file"));
  }

  std::vector<int> server_pids;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_server_pids),
                                            ',', absl::SkipEmpty())) {
    int pid;
    if (!absl::SimpleAtoi(p, &pid) || pid <= 0) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--server_pids: bad pid '", p, "'")));
    }
    server_pids.push_back(pid);
  }

  std::unique_ptr<Target> target;
  std::unique_ptr<TouchCounters> touches;
  if (target_name == "sesh") {
    absl::StatusOr<std::unique_ptr<SeshTarget>> t =
        SeshTarget::Connect(addr, value_bytes, concurrency);
    if (!t.ok()) return Fail(t.status());
    target = *std::move(t);
    const std::string admin_token_file = absl::GetFlag(FLAGS_admin_token_file);
    if (!admin_token_file.empty() || absl::GetFlag(FLAGS_insecure)) {
      absl::StatusOr<std::unique_ptr<TouchCounters>> c =
          TouchCounters::Connect(addr, admin_token_file);
      if (!c.ok()) {
        return Fail(absl::Status(
            c.status().code(),
            absl::StrCat("reading NodeStats (--admin_token_file): ",
                         c.status().message())));
      }
      touches = *std::move(c);
    }
  } else if (target_name == "redis") {
    absl::StatusOr<std::unique_ptr<RedisTarget>> t =
        RedisTarget::Create(addr, value_bytes);
    if (!t.ok()) return Fail(t.status());
    target = *std::move(t);
  } else {
    return Fail(absl::InvalidArgumentError("--target must be sesh or redis"));
  }

  std::vector<std::string> initial_keys;
  double preload_s = -1;
  if (absl::GetFlag(FLAGS_skip_preload)) {
    absl::StatusOr<std::vector<std::string>> k = ReadKeys(keys_file, *target);
    if (!k.ok()) return Fail(k.status());
    initial_keys = *std::move(k);
  } else {
    const int64_t start = NowNs();
    absl::StatusOr<std::vector<std::string>> k = target->Preload(n_keys);
    if (!k.ok()) return Fail(k.status());
    preload_s = static_cast<double>(NowNs() - start) / 1e9;
    initial_keys = *std::move(k);
    if (!keys_file.empty()) {
      absl::Status s = WriteKeys(keys_file, target_name, initial_keys);
      if (!s.ok()) return Fail(s);
    }
  }
  KeyTable keys(std::move(initial_keys));

  const int n_threads = std::min(absl::GetFlag(FLAGS_threads), concurrency);
  std::vector<std::unique_ptr<Driver>> drivers;
  for (int i = 0; i < n_threads; ++i) {
    drivers.push_back(std::make_unique<Driver>(target.get(), &keys, &*mix));
  }
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < concurrency; ++i) {
    auto c = std::make_unique<Caller>();
    c->index = i;
    c->rng.seed(0x5e5 + i);
    drivers[i % n_threads]->AddCaller(c.get());
    absl::Status s = target->Attach(c.get());
    if (!s.ok()) return Fail(s);
    callers.push_back(std::move(c));
  }

  std::vector<PhaseResult> results;
  bool all_drained = true;
  for (double rate : rates) {
    results.push_back(
        RunPhase(target_name, drivers, server_pids, touches.get(), rate,
                 concurrency, warmup_s, duration_s));
    PrintPhase(target_name, results.back(), *mix);
    all_drained = all_drained && results.back().drained;
    if (!results.back().drained) break;  // callers may still be in flight
  }

  if (!keys_file.empty()) {
    absl::Status s = WriteKeys(keys_file, target_name, keys.Snapshot());
    if (!s.ok()) std::fprintf(stderr, "sesh-load: %s\n", s.ToString().c_str());
  }

  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) {
    std::array<std::map<std::string, uint64_t>, kNumOps> all_errors;
    uint64_t unexpected = 0, expected = 0;
    std::vector<std::string> phases;
    for (const PhaseResult& r : results) {
      std::vector<std::string> ops;
      for (int op = 0; op < kNumOps; ++op) {
        if (!mix->Has(static_cast<Op>(op))) continue;
        ops.push_back(absl::StrCat(JsonString(kOpNames[op]), ": ",
                                   StatsJson((*r.hist)[op], r.elapsed_s)));
        for (const auto& [code, n] : r.errors[op]) all_errors[op][code] += n;
      }
      unexpected += r.unexpected_errors;
      expected += r.expected_errors;
      phases.push_back(absl::StrCat(
          "    {\"rate\": ", JsonNumber(r.rate), ", \"mode\": ",
          JsonString(r.rate > 0 ? "open" : "closed"),
          ", \"duration_s\": ", JsonNumber(r.duration_s),
          ", \"elapsed_s\": ", JsonNumber(r.elapsed_s),
          ", \"total_ops_per_s\": ",
          JsonNumber(static_cast<double>(r.all->count()) / r.elapsed_s),
          ", \"unstarted_at_end\": ", r.unstarted_at_end,
          ", \"client_cpu_cores\": ", CpuJson(r.client_cores),
          ", \"client_cpu_us_per_op\": ", CpuPerOpJson(r.client_cores, r),
          ", \"server_cpu_cores\": ", CpuJson(r.server_cores),
          ", \"server_cpu_us_per_op\": ", CpuPerOpJson(r.server_cores, r),
          ",\n     ", TouchesJson(r),
          ", \"drained\": ", r.drained ? "true" : "false",
          ",\n     \"ops\": {", absl::StrJoin(ops, ",\n             "),
          "},\n     \"all\": ", StatsJson(*r.all, r.elapsed_s),
          ",\n     \"errors\": ", ErrorsJson(r.errors),
          ", \"unexpected_errors\": ", r.unexpected_errors,
          ", \"expected_errors\": ", r.expected_errors, "}"));
    }
    std::string json = absl::StrCat(
        "{\n  \"target\": ", JsonString(target_name),
        ",\n  \"addr\": ", JsonString(addr), ",\n  \"keys\": ", keys.size(),
        ",\n  \"value_bytes\": ", value_bytes,
        ",\n  \"concurrency\": ", concurrency, ",\n  \"threads\": ", n_threads,
        ",\n  \"mix\": ", JsonString(absl::GetFlag(FLAGS_mix)),
        ",\n  \"idle_timeout_s\": ", absl::GetFlag(FLAGS_idle_timeout_s),
        ",\n  \"redis_wait_replicas\": ",
        target_name == "redis" ? absl::GetFlag(FLAGS_redis_wait_replicas) : 0,
        ",\n  \"warmup_s\": ", JsonNumber(warmup_s),
        ",\n  \"preload_s\": ", preload_s < 0 ? "null" : JsonNumber(preload_s),
        ",\n  \"phases\": [\n", absl::StrJoin(phases, ",\n"),
        "\n  ],\n  \"errors\": ", ErrorsJson(all_errors),
        ",\n  \"unexpected_errors\": ", unexpected,
        ",\n  \"expected_errors\": ", expected, "\n}\n");
    std::ofstream out(json_out, std::ios::trunc);
    out << json;
    if (!out) {
      return Fail(absl::InternalError(absl::StrCat("cannot write ", json_out)));
    }
  }

  if (!all_drained) {
    // Operations are still in flight past every deadline: don't wait for
    // them in the destructors.
    std::fprintf(stderr, "sesh-load: operations did not drain; exiting\n");
    std::fflush(nullptr);
    std::_Exit(3);
  }
  target.reset();
  drivers.clear();
  return 0;
}

}  // namespace
}  // namespace load
}  // namespace sesh

int main(int argc, char** argv) { return sesh::load::Main(argc, argv); }

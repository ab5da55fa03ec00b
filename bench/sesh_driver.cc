#include "bench/sesh_driver.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replication/session_id.h"

namespace sesh {
namespace load {

namespace {

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

class SeshTarget : public Target {
 public:
  static absl::StatusOr<std::unique_ptr<SeshTarget>> Connect(
      const SeshFlags& flags, const std::string& addrs, int value_bytes,
      int concurrency) {
    absl::StatusOr<ClientOptions> loaded =
        SeshClientOptions(flags, addrs, flags.token_file);
    if (!loaded.ok()) return loaded.status();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*loaded);
    if (!client.ok()) return client.status();
    return std::unique_ptr<SeshTarget>(
        new SeshTarget(*std::move(client), value_bytes, concurrency, flags));
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
    const bool progress = flags_.progress;
    for (int pass = 0; pass < 3; ++pass) {
      std::vector<int64_t> todo;
      for (int64_t i = 0; i < n; ++i) {
        if (keys[i].empty()) todo.push_back(i);
      }
      if (todo.empty()) break;
      State st;
      st.window = std::max(1, flags_.preload_inflight);
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
  SeshTarget(std::unique_ptr<Client> client, int value_bytes, int concurrency,
             const SeshFlags& flags)
      : flags_(flags),
        client_(std::move(client)),
        ns_(flags.session_namespace),
        attr_bytes_(std::max(1, value_bytes / kAttributes)),
        idle_timeout_ms_(flags.idle_timeout_s * 1000),
        attr_values_(attr_bytes_, 4096, 7),
        pool_(std::make_unique<WorkPool>(std::max(2, concurrency / 8))),
        durability_(ParseDurability(flags.durability)) {}

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

  const SeshFlags flags_;
  std::unique_ptr<Client> client_;
  const std::string ns_;
  const size_t attr_bytes_;
  const int64_t idle_timeout_ms_;
  const ValuePool attr_values_;
  std::unique_ptr<WorkPool> pool_;
  const Durability durability_;
};

}  // namespace

absl::StatusOr<ClientOptions> SeshClientOptions(const SeshFlags& flags,
                                                const std::string& addrs,
                                                const std::string& token_file) {
  ClientOptions options;
  options.seeds = absl::StrSplit(addrs, ',', absl::SkipEmpty());
  options.deadline = absl::Milliseconds(flags.sesh_deadline_ms);
  options.coalesce_gets = flags.sesh_coalesce_gets;
  options.max_batch = flags.sesh_max_batch;
  options.max_batch_wait =
      absl::Microseconds(flags.sesh_max_batch_wait_us);
  options.stream_gets = flags.sesh_stream_gets;
  options.stream_writes = flags.sesh_stream_writes;
  options.max_batches_in_flight_per_node =
      flags.sesh_batches_in_flight;
  options.insecure = flags.insecure;
  options.tls_server_name = flags.tls_server_name;
  if (!options.insecure && flags.tls_ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls_ca=FILE is required (or --insecure, for nodes run with "
        "--insecure)");
  }
  return LoadTlsFiles(std::move(options), flags.tls_ca, flags.tls_cert,
                      flags.tls_key, token_file);
}

absl::StatusOr<std::unique_ptr<TouchCounters>> TouchCounters::Connect(
    const SeshFlags& flags, const std::string& addrs,
    const std::string& token_file) {
  absl::StatusOr<ClientOptions> options =
      SeshClientOptions(flags, addrs, token_file);
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

absl::StatusOr<TouchCounters::Sample> TouchCounters::Read() {
  Sample sum;
  for (const std::string& id : node_ids_) {
    absl::StatusOr<NodeStatsInfo> stats = client_->NodeStats(id);
    if (!stats.ok()) return stats.status();
    sum.requested += stats->touches_requested;
    sum.written += stats->touches_written;
  }
  return sum;
}

absl::StatusOr<std::unique_ptr<Target>> ConnectSeshTarget(
    const SeshFlags& flags, const std::string& addrs, int value_bytes,
    int concurrency) {
  absl::StatusOr<std::unique_ptr<SeshTarget>> t =
      SeshTarget::Connect(flags, addrs, value_bytes, concurrency);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Target>(*std::move(t));
}

}  // namespace load
}  // namespace sesh

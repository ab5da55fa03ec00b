// SessionStore micro-benchmarks at 10^4, 10^5 and 10^6 live sessions of
// 512 bytes of data (4 attributes of 128 bytes; about 620 bytes stored), so
// that the cost of a larger store shows:
//
//   bazel run -c opt //bench:store_bench -- --benchmark_filter=GetTouch
//
// One store per size, preloaded on first use with store Create calls (the
// 10^6 one takes 30-60 s and about 1 GB of disk) and shared by every
// benchmark of that size, in a temporary directory under /tmp that is
// removed at exit. The stores use the node's defaults (StoreOptions).
//
// Time. The store runs on a FakeClock started at the real time. Update
// advances it by 1 ms per operation; the touching benchmarks advance it so
// that each session comes back every 10 s of fake time whatever the size
// (see RunGetTouch), so the share of touches that write (the "write_frac"
// counter: a touch that wrote returns last_access_ms == now) is the same at
// every size and GetTouch shows how the same work scales with the data. The
// preload spreads creation over 20 s of fake time, so the sessions'
// last_access values are staggered as in steady state from the start.
// BM_GetTouchAlwaysWrite (touch_write_fraction = 0) isolates the cost of a
// recorded touch (in the store's touch table, persisted every 250 ms of
// fake time as the node does). The store is reopened when a benchmark needs
// the other fraction; the data stays.
//
// BM_Create runs last: it adds sessions, so it would otherwise change the
// size the later benchmarks run at.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "replication/clock.h"
#include "node/session_store.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

constexpr char kNamespace[] = "bench";
constexpr int kAttributes = 4;
// Per attribute: 512 bytes of session data, as sesh-load sends (and as the
// 512-byte values of the Redis comparison). The stored record, with its ids,
// timestamps and per-attribute stamps, is larger: "record_bytes".
constexpr size_t kValueBytes = 128;
constexpr int64_t kIdleTimeoutMs = 30 * 60 * 1000;
constexpr double kDefaultTouchFraction = 0.01;

// As sesh-node's main() does: Debian's abseil is built without NDEBUG, so
// mutex deadlock detection is on by default and adds a global lock to every
// Mutex::Lock (the store's stripes included). benchmark_main owns main(),
// hence a static initializer.
const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

std::string RandomValue(std::mt19937_64& rng, size_t n) {
  static constexpr char kChars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(n, ' ');
  for (char& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

CreateArgs MakeCreateArgs(std::mt19937_64& rng) {
  CreateArgs args;
  args.ns = kNamespace;
  args.idle_timeout_ms = kIdleTimeoutMs;
  for (int i = 0; i < kAttributes; ++i) {
    args.attributes[absl::StrCat("a", i)] = RandomValue(rng, kValueBytes);
  }
  return args;
}

struct StoreFixture {
  explicit StoreFixture(std::string p)
      : path(std::move(p)), clock(SystemClock()->NowMs()) {}

  const std::string path;
  FakeClock clock;
  double touch_write_fraction = -1;
  std::unique_ptr<SessionStore> store;
  // Raw ids of the preloaded sessions.
  std::vector<std::string> ids;
  // Picks the sessions. Shared by all runs of all benchmarks on this store:
  // Google Benchmark calls a benchmark several times (growing iteration
  // counts), and restarting a sequence would revisit the sessions the
  // previous run just read (warm cache) or touched (no write).
  std::mt19937_64 rng{42};
  size_t record_bytes = 0;
};

// The stores, one per size, alive until exit. Not thread-safe: benchmarks
// here are single-threaded.
class Stores {
 public:
  static Stores& Instance() {
    static Stores* stores = new Stores;  // never destroyed; see CleanUp
    return *stores;
  }

  // The store of `sessions` live sessions opened with touch_write_fraction,
  // preloading (or reopening) it if needed. nullptr and *error on failure.
  StoreFixture* For(int64_t sessions, double touch_write_fraction,
                    std::string* error) {
    std::unique_ptr<StoreFixture>& f = fixtures_[sessions];
    if (f == nullptr) {
      if (root_.empty()) {
        char tmpl[] = "/tmp/sesh_store_bench.XXXXXX";
        if (mkdtemp(tmpl) == nullptr) {
          *error = "mkdtemp failed";
          return nullptr;
        }
        root_ = tmpl;
      }
      f = std::make_unique<StoreFixture>(
          absl::StrCat(root_, "/", sessions));
    }
    if (f->store != nullptr &&
        f->touch_write_fraction == touch_write_fraction) {
      return f.get();
    }
    f->store.reset();  // flushes and closes; the data stays
    StoreOptions options;
    options.path = f->path;
    options.touch_write_fraction = touch_write_fraction;
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options, &f->clock);
    if (!store.ok()) {
      *error = store.status().ToString();
      return nullptr;
    }
    f->store = *std::move(store);
    f->touch_write_fraction = touch_write_fraction;
    if (!cleanup_registered_) {
      // Registered after RocksDB's own statics exist, so it runs before they
      // are destroyed: the stores are closed while RocksDB still works.
      std::atexit(&Stores::CleanUp);
      cleanup_registered_ = true;
    }
    if (f->ids.empty()) {
      absl::Status s = Preload(f.get(), sessions);
      if (!s.ok()) {
        *error = s.ToString();
        return nullptr;
      }

    }
    return f.get();
  }

 private:
  static void CleanUp() {
    Stores& self = Instance();
    self.fixtures_.clear();  // closes every store
    if (!self.root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(self.root_, ec);
    }
  }

  // Creates `n` sessions with store Create calls on a few threads.
  static absl::Status Preload(StoreFixture* f, int64_t n) {
    const absl::Time start = absl::Now();
    std::fprintf(stderr, "store_bench: preloading %lld sessions in %s ...\n",
                 static_cast<long long>(n), f->path.c_str());
    f->ids.resize(n);
    for (std::string& id : f->ids) id = NewRawId();
    const int threads = static_cast<int>(std::clamp<unsigned>(
        std::thread::hardware_concurrency(), 1, 4));
    absl::Mutex mu;
    absl::Status first_error;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::mt19937_64 rng(t + 1);
        double spread_ms = 0;
        for (int64_t i = t; i < n; i += threads) {
          absl::StatusOr<Record> r =
              f->store->Create(f->ids[i], MakeCreateArgs(rng));
          if (!r.ok()) {
            absl::MutexLock lock(&mu);
            if (first_error.ok()) first_error = r.status();
            return;
          }
          if (i == 0) f->record_bytes = r->ByteSizeLong();
          // Spread creation over 20 s of fake time (about 1 ms per 1000
          // sessions for 10^6), so last_access values are staggered as in
          // steady state (see RunGetTouch).
          if (t == 0) {
            spread_ms += 20000.0 * threads / static_cast<double>(n);
            if (spread_ms >= 1) {
              f->clock.AdvanceMs(static_cast<int64_t>(spread_ms));
              spread_ms -= static_cast<double>(static_cast<int64_t>(spread_ms));
            }
          }
        }
      });
    }
    for (std::thread& w : workers) w.join();
    if (!first_error.ok()) return first_error;
    // One pass over the data warms RocksDB's block cache, as on a node that
    // has served these sessions for a while: the benchmarks measure a warm
    // store (each run reads only a sample of the 10^6 sessions, so without
    // this nearly every read would be a first, cold one).
    // Point reads, as served sessions are: scans do not fill the cache.
    for (const std::string& id : f->ids) {
      absl::StatusOr<Record> r = f->store->Get(kNamespace, id, /*touch=*/false);
      if (!r.ok()) return r.status();
    }
    std::fprintf(stderr, "store_bench: preloaded %lld sessions in %.1f s\n",
                 static_cast<long long>(n),
                 absl::ToDoubleSeconds(absl::Now() - start));
    return absl::OkStatus();
  }

  std::string root_;
  bool cleanup_registered_ = false;
  std::map<int64_t, std::unique_ptr<StoreFixture>> fixtures_;
};

StoreFixture* FixtureOrSkip(benchmark::State& state, double fraction) {
  std::string error;
  StoreFixture* f = Stores::Instance().For(state.range(0), fraction, &error);
  if (f == nullptr) state.SkipWithError(error.c_str());
  return f;
}

void SetCommonCounters(benchmark::State& state, const StoreFixture& f) {
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(f.record_bytes);
}

void BM_Get(benchmark::State& state) {
  StoreFixture* f = FixtureOrSkip(state, kDefaultTouchFraction);
  if (f == nullptr) return;
  std::mt19937_64& rng = f->rng;
  for (auto _ : state) {
    const std::string& id = f->ids[rng() % f->ids.size()];
    absl::StatusOr<Record> r = f->store->Get(kNamespace, id, /*touch=*/false);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r->version());
  }
  SetCommonCounters(state, *f);
}

// Get with touch. The fake clock advances so that, whatever the store's
// size, a session comes back every kRevisitMs of fake time (traffic grows
// with the number of sessions, as it does when a site grows): the share of
// touches that write is then the same at every size (1 / (1 + 18 s / 10 s),
// about 36%, at the default fraction), and the benchmark shows how the cost
// of the same work scales with the data.
constexpr double kRevisitMs = 10000;
// Touches are recorded in the store's in-memory touch table; the node writes
// the table to RocksDB every --touch_persist_interval_ms (1000 ms), and so
// does the benchmark, by fake time, inside the timed loop: a touch's cost
// includes its share of the batch write.
constexpr int64_t kPersistIntervalMs = 1000;

void RunGetTouch(benchmark::State& state, double fraction) {
  StoreFixture* f = FixtureOrSkip(state, fraction);
  if (f == nullptr) return;
  std::mt19937_64& rng = f->rng;
  int64_t writes = 0;
  const double step_ms = kRevisitMs / static_cast<double>(f->ids.size());
  double pending_ms = 0;
  int64_t next_persist_ms = f->clock.NowMs() + kPersistIntervalMs;
  for (auto _ : state) {
    pending_ms += step_ms;
    if (pending_ms >= 1) {
      const int64_t whole = static_cast<int64_t>(pending_ms);
      f->clock.AdvanceMs(whole);
      pending_ms -= static_cast<double>(whole);
      if (f->clock.NowMs() >= next_persist_ms) {
        next_persist_ms = f->clock.NowMs() + kPersistIntervalMs;
        absl::StatusOr<int64_t> persisted = f->store->PersistTouches();
        if (!persisted.ok()) {
          state.SkipWithError(persisted.status().ToString().c_str());
          return;
        }
      }
    }
    const std::string& id = f->ids[rng() % f->ids.size()];
    absl::StatusOr<Record> r = f->store->Get(kNamespace, id, /*touch=*/true);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    if (r->last_access_ms() == f->clock.NowMs()) ++writes;
  }
  // Outside the timed loop: the rest of the table, for the next benchmark.
  absl::StatusOr<int64_t> persisted = f->store->PersistTouches();
  if (!persisted.ok()) {
    state.SkipWithError(persisted.status().ToString().c_str());
    return;
  }
  SetCommonCounters(state, *f);
  state.counters["write_frac"] =
      state.iterations() == 0
          ? 0
          : static_cast<double>(writes) / static_cast<double>(state.iterations());
}

void BM_GetTouch(benchmark::State& state) {
  RunGetTouch(state, kDefaultTouchFraction);
}

void BM_GetTouchAlwaysWrite(benchmark::State& state) {
  RunGetTouch(state, /*fraction=*/0.0);
}

// Replaces one attribute (and slides the expiry, as Update does by default).
void BM_Update(benchmark::State& state) {
  StoreFixture* f = FixtureOrSkip(state, kDefaultTouchFraction);
  if (f == nullptr) return;
  std::mt19937_64& rng = f->rng;
  std::vector<std::string> values;
  for (int i = 0; i < 16; ++i) values.push_back(RandomValue(rng, kValueBytes));
  UpdateArgs args;
  for (auto _ : state) {
    f->clock.AdvanceMs(1);
    const std::string& id = f->ids[rng() % f->ids.size()];
    args.set["a1"] = values[rng() % values.size()];
    absl::StatusOr<Record> r = f->store->Update(kNamespace, id, args);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r->version());
  }
  SetCommonCounters(state, *f);
}

// A new session with a fresh id (minted inside the loop, as a node does).
void BM_Create(benchmark::State& state) {
  StoreFixture* f = FixtureOrSkip(state, kDefaultTouchFraction);
  if (f == nullptr) return;
  std::mt19937_64 rng(45);
  const CreateArgs args = MakeCreateArgs(rng);
  for (auto _ : state) {
    absl::StatusOr<Record> r = f->store->Create(NewRawId(), args);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r->version());
  }
  SetCommonCounters(state, *f);
}

#define SESH_STORE_SIZES \
  Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond)

BENCHMARK(BM_Get)->SESH_STORE_SIZES;
BENCHMARK(BM_GetTouch)->SESH_STORE_SIZES;
BENCHMARK(BM_GetTouchAlwaysWrite)->SESH_STORE_SIZES;
BENCHMARK(BM_Update)->SESH_STORE_SIZES;
BENCHMARK(BM_Create)->SESH_STORE_SIZES;

}  // namespace
}  // namespace sesh

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

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/load_driver.h"
#include "bench/load_report.h"
#include "bench/load_workload.h"
#include "bench/redis_driver.h"
#include "bench/sesh_driver.h"

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
ABSL_FLAG(bool, sesh_stream_writes, true,
          "sesh::ClientOptions::stream_writes: concurrent writes to a node "
          "as messages of one StreamWrite call; false: a unary call each");
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

SeshFlags SeshFlagsFromFlags() {
  SeshFlags f;
  f.sesh_deadline_ms = absl::GetFlag(FLAGS_sesh_deadline_ms);
  f.sesh_coalesce_gets = absl::GetFlag(FLAGS_sesh_coalesce_gets);
  f.sesh_max_batch = absl::GetFlag(FLAGS_sesh_max_batch);
  f.sesh_stream_gets = absl::GetFlag(FLAGS_sesh_stream_gets);
  f.sesh_stream_writes = absl::GetFlag(FLAGS_sesh_stream_writes);
  f.sesh_max_batch_wait_us = absl::GetFlag(FLAGS_sesh_max_batch_wait_us);
  f.sesh_batches_in_flight = absl::GetFlag(FLAGS_sesh_batches_in_flight);
  f.insecure = absl::GetFlag(FLAGS_insecure);
  f.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  f.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  f.tls_key = absl::GetFlag(FLAGS_tls_key);
  f.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  f.token_file = absl::GetFlag(FLAGS_token_file);
  f.session_namespace = absl::GetFlag(FLAGS_session_namespace);
  f.idle_timeout_s = absl::GetFlag(FLAGS_idle_timeout_s);
  f.durability = absl::GetFlag(FLAGS_durability);
  f.preload_inflight = absl::GetFlag(FLAGS_preload_inflight);
  f.progress = absl::GetFlag(FLAGS_progress);
  return f;
}

RedisFlags RedisFlagsFromFlags() {
  RedisFlags f;
  f.preload_inflight = absl::GetFlag(FLAGS_preload_inflight);
  f.idle_timeout_s = absl::GetFlag(FLAGS_idle_timeout_s);
  f.redis_wait_replicas = absl::GetFlag(FLAGS_redis_wait_replicas);
  f.redis_wait_timeout_ms = absl::GetFlag(FLAGS_redis_wait_timeout_ms);
  return f;
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
    const SeshFlags sesh_flags = SeshFlagsFromFlags();
    absl::StatusOr<std::unique_ptr<Target>> t =
        ConnectSeshTarget(sesh_flags, addr, value_bytes, concurrency);
    if (!t.ok()) return Fail(t.status());
    target = *std::move(t);
    const std::string admin_token_file = absl::GetFlag(FLAGS_admin_token_file);
    if (!admin_token_file.empty() || absl::GetFlag(FLAGS_insecure)) {
      absl::StatusOr<std::unique_ptr<TouchCounters>> c =
          TouchCounters::Connect(sesh_flags, addr, admin_token_file);
      if (!c.ok()) {
        return Fail(absl::Status(
            c.status().code(),
            absl::StrCat("reading NodeStats (--admin_token_file): ",
                         c.status().message())));
      }
      touches = *std::move(c);
    }
  } else if (target_name == "redis") {
    absl::StatusOr<std::unique_ptr<Target>> t =
        CreateRedisTarget(RedisFlagsFromFlags(), addr, value_bytes);
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
      for (int op = 0; op < kNumOps; ++op) {
        if (!mix->Has(static_cast<Op>(op))) continue;
        for (const auto& [code, n] : r.errors[op]) all_errors[op][code] += n;
      }
      unexpected += r.unexpected_errors;
      expected += r.expected_errors;
      phases.push_back(PhaseJson(r, *mix));
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

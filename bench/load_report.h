// sesh-load's measurements and their reports: latency histograms, CPU
// samples, one phase's results, the printed summary and the JSON fields.
// See sesh_load.cc.
#ifndef SESH_BENCH_LOAD_REPORT_H_
#define SESH_BENCH_LOAD_REPORT_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bench/load_workload.h"

namespace sesh {
namespace load {

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

  void Add(const Histogram& o);

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
  double PercentileUs(double q) const;

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

// --- Phases, results, JSON --------------------------------------------------

// CPU seconds used so far by this process and by the --server_pids.
struct CpuSample {
  int64_t at_ns = 0;
  double client_s = 0;
  double server_s = 0;
};

CpuSample SampleCpu(const std::vector<int>& server_pids);

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

// "open R/s" or "closed loop".
std::string PhaseLabel(double rate);

// JSON text of a string (quoted, escaped) and of a number (%.3f; null if
// not finite).
std::string JsonString(absl::string_view s);
std::string JsonNumber(double v);
// {"count": ..., "ops_per_s": ..., "mean_us": ..., "p50_us": ..., ...}
std::string StatsJson(const Histogram& h, double duration_s);
// CPU cores, null if not sampled (< 0).
std::string CpuJson(double cores);
// CPU µs per operation over the phase, null if not sampled.
std::string CpuPerOpJson(double cores, const PhaseResult& r);
// The "touches_requested", "touches_written", "touches_written_share"
// fields (without braces).
std::string TouchesJson(const PhaseResult& r);
// {"op": {"CODE": n, ...}, ...}, the operations with errors only.
std::string ErrorsJson(
    const std::array<std::map<std::string, uint64_t>, kNumOps>& errors);
// One element of the JSON "phases" array: the operations of `mix`.
std::string PhaseJson(const PhaseResult& r, const Mix& mix);

// The human-readable summary of a phase, on stdout.
void PrintPhase(const std::string& target, const PhaseResult& r,
                const Mix& mix);

}  // namespace load
}  // namespace sesh

#endif  // SESH_BENCH_LOAD_REPORT_H_

#include "bench/load_report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sesh {
namespace load {

void Histogram::Add(const Histogram& o) {
  for (int b = 0; b < kBuckets; ++b) {
    counts_[b].fetch_add(o.counts_[b].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  }
  count_.fetch_add(o.count(), std::memory_order_relaxed);
  sum_ns_.fetch_add(o.sum_ns_.load(std::memory_order_relaxed),
                    std::memory_order_relaxed);
  max_ns_.store(std::max(max_ns(), o.max_ns()), std::memory_order_relaxed);
}

double Histogram::PercentileUs(double q) const {
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

namespace {

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

}  // namespace

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

std::string PhaseLabel(double rate) {
  return rate > 0 ? absl::StrFormat("open %.0f/s", rate) : "closed loop";
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

std::string PhaseJson(const PhaseResult& r, const Mix& mix) {
  std::vector<std::string> ops;
  for (int op = 0; op < kNumOps; ++op) {
    if (!mix.Has(static_cast<Op>(op))) continue;
    ops.push_back(absl::StrCat(JsonString(kOpNames[op]), ": ",
                               StatsJson((*r.hist)[op], r.elapsed_s)));
  }
  return absl::StrCat(
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
      ", \"expected_errors\": ", r.expected_errors, "}");
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

}  // namespace load
}  // namespace sesh

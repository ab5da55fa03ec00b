// Metrics for Prometheus: counters, gauges and histograms in families with a
// fixed set of label names, plus callback families read at scrape time, all
// rendered in the Prometheus text exposition format 0.0.4.
//
// The hot path is lock-free: a family hands out a series (Counter, Gauge,
// Histogram) once per label values, under a lock; callers keep the pointer
// and update it with relaxed atomics. Render() takes the registry's lock and
// each family's, never a series'.
//
// Thread-safe. Families and series live as long as the registry.

#ifndef SESH_METRICS_REGISTRY_H_
#define SESH_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace sesh {
namespace metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// Monotonic count. Increment is one relaxed atomic add.
class Counter {
 public:
  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value);
  void Add(double delta);
  double value() const;

 private:
  std::atomic<uint64_t> bits_{0};  // a double's bits; 0 is 0.0
};

// Observations counted into buckets with fixed upper bounds (`le`), plus
// their sum. Observe is one relaxed add on a bucket and a compare-and-swap
// loop on the sum.
class Histogram {
 public:
  // `bounds` strictly increasing and finite; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), the last one being +Inf.
  std::vector<uint64_t> BucketCounts() const;
  double sum() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_bits_{0};
};

// What a callback family reports at scrape time: one sample per call of
// Add, label values in the family's label order.
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual void Add(std::vector<std::string> label_values, double value) = 0;
  // A family without labels.
  void Add(double value) { Add({}, value); }
};

using Collect = std::function<void(SampleSink*)>;

// Series of one metric keyed by label values. T is Counter, Gauge or
// Histogram.
template <typename T>
class Family {
 public:
  // The series for these label values, created on first use. The pointer
  // stays valid for the registry's life: look it up once, keep it.
  // INVALID_ARGUMENT if the count of values differs from the label names'.
  absl::StatusOr<T*> WithLabels(std::vector<std::string> label_values);

 private:
  friend class Registry;
  Family(std::vector<std::string> label_names, std::vector<double> bounds)
      : label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_
      ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Each Add* errors with INVALID_ARGUMENT for a name or label name that is
  // not valid in Prometheus (label names starting "__" and "le" on a
  // histogram included), and ALREADY_EXISTS for a name registered before.
  // A counter's name should end in _total.
  absl::StatusOr<Family<Counter>*> AddCounter(
      absl::string_view name, absl::string_view help,
      std::vector<std::string> label_names = {});
  absl::StatusOr<Family<Gauge>*> AddGauge(
      absl::string_view name, absl::string_view help,
      std::vector<std::string> label_names = {});
  // `bounds` strictly increasing and finite (INVALID_ARGUMENT otherwise).
  absl::StatusOr<Family<Histogram>*> AddHistogram(
      absl::string_view name, absl::string_view help,
      std::vector<std::string> label_names, std::vector<double> bounds);
  // A counter or gauge family whose samples `collect` reports at each
  // Render, from whatever the caller already keeps. `collect` runs on the
  // rendering thread under the registry's lock, so it must not call the
  // registry; samples with the wrong count of label values are dropped.
  absl::Status AddCallback(absl::string_view name, absl::string_view help,
                           MetricType type, std::vector<std::string> label_names,
                           Collect collect);

  // Every family in registration order, each with its # HELP and # TYPE
  // lines and its series sorted by label values (callback samples in the
  // order reported). A family with no series is left out.
  std::string Render() const;

 private:
  struct Entry;

  absl::Status Admit(absl::string_view name,
                     const std::vector<std::string>& label_names,
                     MetricType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

// The text format's pieces, exposed for tests.
// A sample value: integers as integers, otherwise the shortest decimal that
// reads back as the same double; +Inf, -Inf, NaN.
std::string FormatValue(double value);
// A label value with backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view value);

}  // namespace metrics
}  // namespace sesh

#endif  // SESH_METRICS_REGISTRY_H_

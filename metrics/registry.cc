#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sesh {
namespace metrics {
namespace {

uint64_t ToBits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

double FromBits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

void AtomicAdd(std::atomic<uint64_t>* bits, double delta) {
  uint64_t old = bits->load(std::memory_order_relaxed);
  while (!bits->compare_exchange_weak(old, ToBits(FromBits(old) + delta),
                                      std::memory_order_relaxed)) {
  }
}

bool ValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' ||
                    (allow_colon && c == ':') ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool ValidBounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

// HELP text: backslash and newline escaped.
std::string EscapeHelp(absl::string_view help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` with an extra label appended (the histogram's le), or ""
// for no labels at all.
std::string LabelSet(const std::vector<std::string>& names,
                     const std::vector<std::string>& values,
                     absl::string_view extra_name = "",
                     absl::string_view extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", names[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, names.empty() ? "" : ",", extra_name, "=\"",
                    extra_value, "\"");
  }
  out.push_back('}');
  return out;
}

template <typename T>
std::unique_ptr<T> MakeSeries(const std::vector<double>&) {
  return std::make_unique<T>();
}
template <>
std::unique_ptr<Histogram> MakeSeries<Histogram>(
    const std::vector<double>& bounds) {
  return std::make_unique<Histogram>(bounds);
}

class VectorSink : public SampleSink {
 public:
  explicit VectorSink(size_t label_count) : label_count_(label_count) {}
  using SampleSink::Add;
  void Add(std::vector<std::string> label_values, double value) override {
    if (label_values.size() != label_count_) return;
    samples.emplace_back(std::move(label_values), value);
  }
  std::vector<std::pair<std::vector<std::string>, double>> samples;

 private:
  const size_t label_count_;
};

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '"') {
      out.append("\\\"");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Gauge::Set(double value) {
  bits_.store(ToBits(value), std::memory_order_relaxed);
}

void Gauge::Add(double delta) { AtomicAdd(&bits_, delta); }

double Gauge::value() const {
  return FromBits(bits_.load(std::memory_order_relaxed));
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  // The first bucket whose bound is >= value (le is inclusive).
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_bits_, value);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

double Histogram::sum() const {
  return FromBits(sum_bits_.load(std::memory_order_relaxed));
}

template <typename T>
absl::StatusOr<T*> Family<T>::WithLabels(
    std::vector<std::string> label_values) {
  if (label_values.size() != label_names_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(label_values.size(), " label values for ",
                     label_names_.size(), " label names"));
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& series = series_[std::move(label_values)];
  if (series == nullptr) series = MakeSeries<T>(bounds_);
  return series.get();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// One registered family: exactly one of the four pointers is set.
struct Registry::Entry {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<std::string> label_names;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  Collect collect;
};

Registry::Registry() = default;
Registry::~Registry() = default;

absl::Status Registry::Admit(absl::string_view name,
                             const std::vector<std::string>& label_names,
                             MetricType type) {
  if (!ValidName(name, /*allow_colon=*/true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid metric name '", name, "'"));
  }
  for (const std::string& label : label_names) {
    if (!ValidName(label, /*allow_colon=*/false) ||
        absl::StartsWith(label, "__") ||
        (type == MetricType::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label name '", label, "' on ", name));
    }
  }
  for (const std::unique_ptr<Entry>& entry : entries_) {
    if (entry->name == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, " registered twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Family<Counter>*> Registry::AddCounter(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  absl::Status admitted = Admit(name, label_names, MetricType::kCounter);
  if (!admitted.ok()) return admitted;
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = MetricType::kCounter;
  entry->label_names = label_names;
  entry->counters.reset(new Family<Counter>(std::move(label_names), {}));
  Family<Counter>* family = entry->counters.get();
  entries_.push_back(std::move(entry));
  return family;
}

absl::StatusOr<Family<Gauge>*> Registry::AddGauge(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  absl::Status admitted = Admit(name, label_names, MetricType::kGauge);
  if (!admitted.ok()) return admitted;
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = MetricType::kGauge;
  entry->label_names = label_names;
  entry->gauges.reset(new Family<Gauge>(std::move(label_names), {}));
  Family<Gauge>* family = entry->gauges.get();
  entries_.push_back(std::move(entry));
  return family;
}

absl::StatusOr<Family<Histogram>*> Registry::AddHistogram(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!ValidBounds(bounds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket bounds of ", name,
                     " must be finite and strictly increasing"));
  }
  absl::MutexLock lock(&mu_);
  absl::Status admitted = Admit(name, label_names, MetricType::kHistogram);
  if (!admitted.ok()) return admitted;
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = MetricType::kHistogram;
  entry->label_names = label_names;
  entry->histograms.reset(
      new Family<Histogram>(std::move(label_names), std::move(bounds)));
  Family<Histogram>* family = entry->histograms.get();
  entries_.push_back(std::move(entry));
  return family;
}

absl::Status Registry::AddCallback(absl::string_view name,
                                   absl::string_view help, MetricType type,
                                   std::vector<std::string> label_names,
                                   Collect collect) {
  if (type == MetricType::kHistogram) {
    return absl::InvalidArgumentError("callback histograms are not supported");
  }
  absl::MutexLock lock(&mu_);
  absl::Status admitted = Admit(name, label_names, type);
  if (!admitted.ok()) return admitted;
  auto entry = std::make_unique<Entry>();
  entry->name = std::string(name);
  entry->help = std::string(help);
  entry->type = type;
  entry->label_names = std::move(label_names);
  entry->collect = std::move(collect);
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

std::string Registry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::unique_ptr<Entry>& entry : entries_) {
    const std::string& name = entry->name;
    const std::vector<std::string>& names = entry->label_names;
    std::string body;
    if (entry->counters != nullptr) {
      absl::MutexLock family_lock(&entry->counters->mu_);
      for (const auto& [values, counter] : entry->counters->series_) {
        absl::StrAppend(&body, name, LabelSet(names, values), " ",
                        counter->value(), "\n");
      }
    } else if (entry->gauges != nullptr) {
      absl::MutexLock family_lock(&entry->gauges->mu_);
      for (const auto& [values, gauge] : entry->gauges->series_) {
        absl::StrAppend(&body, name, LabelSet(names, values), " ",
                        FormatValue(gauge->value()), "\n");
      }
    } else if (entry->histograms != nullptr) {
      absl::MutexLock family_lock(&entry->histograms->mu_);
      for (const auto& [values, histogram] : entry->histograms->series_) {
        const std::vector<uint64_t> counts = histogram->BucketCounts();
        const std::vector<double>& bounds = histogram->bounds();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le =
              i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          absl::StrAppend(&body, name, "_bucket",
                          LabelSet(names, values, "le", le), " ", cumulative,
                          "\n");
        }
        absl::StrAppend(&body, name, "_sum", LabelSet(names, values), " ",
                        FormatValue(histogram->sum()), "\n", name, "_count",
                        LabelSet(names, values), " ", cumulative, "\n");
      }
    } else if (entry->collect) {
      VectorSink sink(names.size());
      entry->collect(&sink);
      for (const auto& [values, value] : sink.samples) {
        absl::StrAppend(&body, name, LabelSet(names, values), " ",
                        FormatValue(value), "\n");
      }
    }
    if (body.empty()) continue;
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(entry->help), "\n",
                    "# TYPE ", name, " ", TypeName(entry->type), "\n", body);
  }
  return out;
}

}  // namespace metrics
}  // namespace sesh

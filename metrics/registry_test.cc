#include "metrics/registry.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace sesh {
namespace metrics {
namespace {

TEST(RegistryTest, Render_CounterWithLabels_SortedSeriesWithHelpAndType) {
  Registry registry;
  Family<Counter>* family =
      *registry.AddCounter("sesh_calls_total", "Calls served.", {"method"});
  (*family->WithLabels({"Get"}))->Increment(3);
  (*family->WithLabels({"Create"}))->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_calls_total Calls served.\n"
            "# TYPE sesh_calls_total counter\n"
            "sesh_calls_total{method=\"Create\"} 1\n"
            "sesh_calls_total{method=\"Get\"} 3\n");
}

TEST(RegistryTest, Render_GaugeWithoutLabels_NoBraces) {
  Registry registry;
  Gauge* gauge = *(*registry.AddGauge("sesh_up", "1 when up."))->WithLabels({});
  gauge->Set(2.5);
  gauge->Add(-1);
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_up 1 when up.\n"
            "# TYPE sesh_up gauge\n"
            "sesh_up 1.5\n");
}

TEST(RegistryTest, Render_Histogram_CumulativeBucketsSumAndCount) {
  Registry registry;
  Family<Histogram>* family = *registry.AddHistogram(
      "sesh_latency_seconds", "Latency.", {"method"}, {0.001, 0.01, 0.1});
  Histogram* h = *family->WithLabels({"Get"});
  h->Observe(0.0005);
  h->Observe(0.001);  // le is inclusive
  h->Observe(0.05);
  h->Observe(3);
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_latency_seconds Latency.\n"
            "# TYPE sesh_latency_seconds histogram\n"
            "sesh_latency_seconds_bucket{method=\"Get\",le=\"0.001\"} 2\n"
            "sesh_latency_seconds_bucket{method=\"Get\",le=\"0.01\"} 2\n"
            "sesh_latency_seconds_bucket{method=\"Get\",le=\"0.1\"} 3\n"
            "sesh_latency_seconds_bucket{method=\"Get\",le=\"+Inf\"} 4\n"
            "sesh_latency_seconds_sum{method=\"Get\"} 3.0515\n"
            "sesh_latency_seconds_count{method=\"Get\"} 4\n");
}

TEST(RegistryTest, Render_HistogramWithoutLabels_OnlyLe) {
  Registry registry;
  Family<Histogram>* family =
      *registry.AddHistogram("sesh_size_bytes", "Sizes.", {}, {10});
  (*family->WithLabels({}))->Observe(20);
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_size_bytes Sizes.\n"
            "# TYPE sesh_size_bytes histogram\n"
            "sesh_size_bytes_bucket{le=\"10\"} 0\n"
            "sesh_size_bytes_bucket{le=\"+Inf\"} 1\n"
            "sesh_size_bytes_sum 20\n"
            "sesh_size_bytes_count 1\n");
}

TEST(RegistryTest, Render_LabelValueAndHelp_Escaped) {
  Registry registry;
  Family<Gauge>* family =
      *registry.AddGauge("sesh_g", "A \\ help\nline.", {"peer"});
  (*family->WithLabels({"a\"b\\c\nd"}))->Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_g A \\\\ help\\nline.\n"
            "# TYPE sesh_g gauge\n"
            "sesh_g{peer=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, Render_Callback_SamplesInReportedOrder) {
  Registry registry;
  int scrapes = 0;
  ASSERT_TRUE(registry
                  .AddCallback("sesh_peer_up", "Peer up.", MetricType::kGauge,
                               {"peer"},
                               [&scrapes](SampleSink* sink) {
                                 ++scrapes;
                                 sink->Add({"n3"}, 1);
                                 sink->Add({"n2"}, 0);
                                 sink->Add({"too", "many"}, 5);  // dropped
                               })
                  .ok());
  ASSERT_TRUE(registry
                  .AddCallback("sesh_swept_total", "Swept.",
                               MetricType::kCounter, {},
                               [](SampleSink* sink) { sink->Add(7); })
                  .ok());
  EXPECT_EQ(registry.Render(),
            "# HELP sesh_peer_up Peer up.\n"
            "# TYPE sesh_peer_up gauge\n"
            "sesh_peer_up{peer=\"n3\"} 1\n"
            "sesh_peer_up{peer=\"n2\"} 0\n"
            "# HELP sesh_swept_total Swept.\n"
            "# TYPE sesh_swept_total counter\n"
            "sesh_swept_total 7\n");
  EXPECT_EQ(scrapes, 1);
}

TEST(RegistryTest, Render_FamilyWithoutSeries_LeftOut) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("sesh_none_total", "Nothing.", {"a"}).ok());
  ASSERT_TRUE(registry
                  .AddCallback("sesh_empty", "Empty.", MetricType::kGauge, {},
                               [](SampleSink*) {})
                  .ok());
  EXPECT_EQ(registry.Render(), "");
}

TEST(RegistryTest, AddCounter_SameNameTwice_AlreadyExists) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("sesh_x_total", "X.").ok());
  EXPECT_EQ(registry.AddGauge("sesh_x_total", "X.").status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, AddGauge_InvalidNames_InvalidArgument) {
  Registry registry;
  EXPECT_EQ(registry.AddGauge("9lives", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddGauge("sesh-dash", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddGauge("sesh_ok", "x", {"__reserved"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddGauge("sesh_ok", "x", {"a:b"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.AddGauge("sesh:ok", "x", {"a_1"}).ok());
}

TEST(RegistryTest, AddHistogram_LeLabelOrUnsortedBounds_InvalidArgument) {
  Registry registry;
  EXPECT_EQ(registry.AddHistogram("sesh_h", "x", {"le"}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("sesh_h", "x", {}, {2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry
                .AddHistogram("sesh_h", "x", {},
                              {1, std::numeric_limits<double>::infinity()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, WithLabels_WrongCount_InvalidArgument) {
  Registry registry;
  Family<Counter>* family = *registry.AddCounter("sesh_c_total", "C.", {"a"});
  EXPECT_EQ(family->WithLabels({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(family->WithLabels({"x", "y"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, WithLabels_SameValues_SameSeries) {
  Registry registry;
  Family<Counter>* family = *registry.AddCounter("sesh_c_total", "C.", {"a"});
  EXPECT_EQ(*family->WithLabels({"x"}), *family->WithLabels({"x"}));
  EXPECT_NE(*family->WithLabels({"x"}), *family->WithLabels({"y"}));
}

TEST(RegistryTest, Increment_ConcurrentThreads_NoLostUpdates) {
  Registry registry;
  Counter* counter = *(*registry.AddCounter("sesh_c_total", "C."))->WithLabels({});
  Histogram* histogram =
      *(*registry.AddHistogram("sesh_h_seconds", "H.", {}, {0.5}))
           ->WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter->Increment();
        histogram->Observe(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter->value(), 40000u);
  EXPECT_EQ(histogram->BucketCounts(), (std::vector<uint64_t>{0, 40000}));
  EXPECT_EQ(histogram->sum(), 40000.0);
}

TEST(FormatValueTest, FormatValue_SpecialAndFractional_PrometheusSpelling) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(12345678901), "12345678901");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.00025), "0.00025");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

}  // namespace
}  // namespace metrics
}  // namespace sesh

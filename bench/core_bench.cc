// CPU-only micro-benchmarks of the hot helpers every request goes through:
// placement (which partition, which replicas), record encode / decode, and
// the replica merge.
//
//   bazel run -c opt //bench:core_bench -- --benchmark_min_time=0.2
//
// Records are ~512 bytes encoded with 4 attributes, the size sesh-load and
// the store benchmarks use; the exact encoded size is reported as the
// "record_bytes" counter.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "replication/merge.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/internal/record.pb.h"

namespace sesh {
namespace {

constexpr int kIds = 4096;  // a power of two: index with & (kIds - 1)
constexpr size_t kTargetRecordBytes = 512;
constexpr int kAttributes = 4;

const std::vector<std::string>& RawIds() {
  static const std::vector<std::string>* ids = [] {
    auto* v = new std::vector<std::string>;
    v->reserve(kIds);
    for (int i = 0; i < kIds; ++i) v->push_back(NewRawId());
    return v;
  }();
  return *ids;
}

std::vector<std::string> NodeIds(int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) ids.push_back(absl::StrCat("n", i));
  return ids;
}

// A live session as a node stores it: 4 attributes whose values are sized so
// that the whole record encodes to at most kTargetRecordBytes (and within a
// few bytes of it). `hlc_base` stamps the attributes.
internal::SessionRecord MakeRecord(const std::string& raw_id,
                                   uint64_t hlc_base) {
  const int64_t now_ms = 1'700'000'000'000;
  auto build = [&](size_t value_bytes) {
    internal::SessionRecord r;
    r.set_id(raw_id);
    r.set_namespace_("shop");
    r.set_user_id("user-0123456789");
    r.set_created_at_ms(now_ms);
    r.set_last_access_ms(now_ms + 1234);
    r.set_idle_timeout_ms(30 * 60 * 1000);
    r.set_absolute_deadline_ms(now_ms + int64_t{90} * 24 * 3600 * 1000);
    r.set_version(hlc_base + kAttributes);
    for (int i = 0; i < kAttributes; ++i) {
      internal::Attribute& a = (*r.mutable_attributes())[absl::StrCat("a", i)];
      a.set_value(std::string(value_bytes, static_cast<char>('a' + i)));
      a.set_hlc(hlc_base + i);
      a.set_writer(1);
    }
    return r;
  };
  size_t value_bytes = kTargetRecordBytes / kAttributes;
  internal::SessionRecord r = build(value_bytes);
  while (r.ByteSizeLong() > kTargetRecordBytes && value_bytes > 0) {
    r = build(--value_bytes);
  }
  return r;
}

void BM_PartitionOf(benchmark::State& state) {
  const std::vector<std::string>& ids = RawIds();
  uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(PartitionOf(ids[i++ & (kIds - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PartitionOf);

// What a client or node does to route a call: partition, then the partition's
// preference list in a 3-node RF 3 map.
void BM_PlacementReplicasLookup(benchmark::State& state) {
  absl::StatusOr<PlacementMap> map = PlacementMap::Build(NodeIds(3), 3);
  if (!map.ok()) {
    state.SkipWithError(map.status().ToString().c_str());
    return;
  }
  const std::vector<std::string>& ids = RawIds();
  uint32_t i = 0;
  for (auto _ : state) {
    absl::Span<const uint8_t> replicas =
        map->Replicas(PartitionOf(ids[i++ & (kIds - 1)]));
    benchmark::DoNotOptimize(replicas.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PlacementReplicasLookup);

// Rebuilding the map on a membership change: kPartitionCount * N scores.
void BM_PlacementBuild(benchmark::State& state) {
  const std::vector<std::string> nodes = NodeIds(state.range(0));
  for (auto _ : state) {
    absl::StatusOr<PlacementMap> map = PlacementMap::Build(nodes, 3);
    if (!map.ok()) {
      state.SkipWithError(map.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(map->Serialized().data());
  }
  state.counters["nodes"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_PlacementBuild)
    ->Arg(3)
    ->Arg(10)
    ->Arg(50)
    ->Unit(benchmark::kMillisecond);

void BM_RecordEncode(benchmark::State& state) {
  const internal::SessionRecord record = MakeRecord(RawIds()[0], 1000);
  std::string out;
  for (auto _ : state) {
    out.clear();
    record.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());
  state.counters["record_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_RecordEncode);

void BM_RecordDecode(benchmark::State& state) {
  const std::string encoded =
      MakeRecord(RawIds()[0], 1000).SerializeAsString();
  internal::SessionRecord record;
  for (auto _ : state) {
    if (!record.ParseFromString(encoded)) {
      state.SkipWithError("decode failed");
      return;
    }
    benchmark::DoNotOptimize(&record);
  }
  state.SetBytesProcessed(state.iterations() * encoded.size());
  state.counters["record_bytes"] = static_cast<double>(encoded.size());
}
BENCHMARK(BM_RecordDecode);

// Two replicas' states that disagree the way they do after concurrent
// writes: a has the newer stamps on a0 and a1, b on a2 and a3, and b has a
// later touch.
void BM_Merge(benchmark::State& state) {
  const std::string& id = RawIds()[0];
  internal::SessionRecord a = MakeRecord(id, 1000);
  internal::SessionRecord b = MakeRecord(id, 1000);
  (*a.mutable_attributes())["a0"].set_hlc(5000);
  (*a.mutable_attributes())["a1"].set_hlc(5001);
  (*b.mutable_attributes())["a2"].set_hlc(5002);
  (*b.mutable_attributes())["a3"].set_hlc(5003);
  (*b.mutable_attributes())["a3"].set_value("changed");
  b.set_last_access_ms(a.last_access_ms() + 60'000);
  b.set_version(5003);
  for (auto _ : state) {
    internal::SessionRecord merged = Merge(a, b);
    benchmark::DoNotOptimize(&merged);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Merge);

}  // namespace
}  // namespace sesh

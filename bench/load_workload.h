// sesh-load's workload: the operations, the --mix, random values and the
// shared working set of keys. See sesh_load.cc.
#ifndef SESH_BENCH_LOAD_WORKLOAD_H_
#define SESH_BENCH_LOAD_WORKLOAD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace sesh {
namespace load {

// CLOCK_MONOTONIC, in nanoseconds.
int64_t NowNs();

enum Op : int { kGetTouch, kGet, kUpdate, kCreate, kRotate, kDestroy, kNumOps };
inline constexpr const char* kOpNames[kNumOps] = {"get_touch", "get",    "update",
                                           "create",    "rotate", "destroy"};

// --- Mix, values, keys ------------------------------------------------------

class Mix {
 public:
  static absl::StatusOr<Mix> Parse(absl::string_view spec);

  Op Pick(std::mt19937_64& rng) const;

  bool Has(Op op) const { return weights_[op] > 0; }

 private:
  std::array<int, kNumOps> weights_{};
  std::array<int, kNumOps> cumulative_{};
  int total_ = 0;
};

// n random characters of [A-Za-z0-9-_]: incompressible enough that RocksDB's
// block compression cannot shrink sessions below what Redis stores.
std::string RandomText(std::mt19937_64& rng, size_t n);

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

}  // namespace load
}  // namespace sesh

#endif  // SESH_BENCH_LOAD_WORKLOAD_H_

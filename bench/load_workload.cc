#include "bench/load_workload.h"

#include <time.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sesh {
namespace load {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

absl::StatusOr<Mix> Mix::Parse(absl::string_view spec) {
  Mix mix;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits(':', 1));
    int op = -1;
    for (int i = 0; i < kNumOps; ++i) {
      if (kv.first == kOpNames[i]) op = i;
    }
    int weight = 0;
    if (op < 0 || !absl::SimpleAtoi(kv.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: bad entry '", part, "'"));
    }
    mix.weights_[op] += weight;
  }
  int total = 0;
  for (int i = 0; i < kNumOps; ++i) {
    total += mix.weights_[i];
    mix.cumulative_[i] = total;
  }
  if (total == 0) return absl::InvalidArgumentError("--mix: all weights 0");
  mix.total_ = total;
  return mix;
}

Op Mix::Pick(std::mt19937_64& rng) const {
  const int x = static_cast<int>(rng() % static_cast<uint64_t>(total_));
  for (int i = 0; i < kNumOps; ++i) {
    if (x < cumulative_[i]) return static_cast<Op>(i);
  }
  return kGetTouch;
}

std::string RandomText(std::mt19937_64& rng, size_t n) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string s(n, ' ');
  uint64_t bits = 0;
  int left = 0;
  for (char& c : s) {
    if (left == 0) {
      bits = rng();
      left = 10;
    }
    c = kChars[bits & 63];
    bits >>= 6;
    --left;
  }
  return s;
}

}  // namespace load
}  // namespace sesh

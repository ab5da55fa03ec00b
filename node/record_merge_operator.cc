#include "node/record_merge_operator.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "replication/merge.h"
#include "sesh/internal/record.pb.h"

namespace sesh {
namespace {

using Record = internal::SessionRecord;

// A legacy operand: last_access, 8 bytes big-endian. A record is longer (its
// id alone is 32 bytes).
constexpr size_t kAccessBytes = 8;

// Folds one operand into `state` (nothing stored is the empty record). False
// if the operand does not parse.
bool Fold(const rocksdb::Slice& operand, Record* state) {
  if (operand.size() == kAccessBytes) {
    state->set_last_access_ms(
        std::max(state->last_access_ms(), DecodeAccess(operand)));
    return true;
  }
  Record incoming;
  if (!incoming.ParseFromArray(operand.data(),
                               static_cast<int>(operand.size()))) {
    return false;
  }
  if (state->id().empty()) {
    // Nothing stored, or a legacy lone last_access: the record, raised.
    const int64_t last_access = state->last_access_ms();
    *state = std::move(incoming);
    state->set_last_access_ms(std::max(last_access, state->last_access_ms()));
  } else {
    *state = Merge(*state, incoming);
  }
  return true;
}

class RecordMergeOperator : public rocksdb::MergeOperator {
 public:
  // The name stores written before record operands used; kept so they open.
  const char* Name() const override { return "sesh.TouchMax"; }

  bool FullMergeV2(const MergeOperationInput& in,
                   MergeOperationOutput* out) const override {
    Record state;
    if (in.existing_value != nullptr &&
        !state.ParseFromArray(in.existing_value->data(),
                              static_cast<int>(in.existing_value->size()))) {
      return false;
    }
    for (const rocksdb::Slice& operand : in.operand_list) {
      if (!Fold(operand, &state)) return false;
    }
    return state.SerializeToString(&out->new_value);
  }

  // Two record operands merge into one (Merge is associative); mixed ones
  // stay apart until a full merge.
  bool PartialMerge(const rocksdb::Slice&, const rocksdb::Slice& left,
                    const rocksdb::Slice& right, std::string* new_value,
                    rocksdb::Logger*) const override {
    if (left.size() == kAccessBytes || right.size() == kAccessBytes) {
      return false;
    }
    Record state;
    if (!Fold(left, &state) || !Fold(right, &state)) return false;
    return state.SerializeToString(new_value);
  }
};

class MaxAccessMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  const char* Name() const override { return "sesh.MaxAccess"; }
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger*) const override {
    int64_t v = DecodeAccess(value);
    if (existing != nullptr) v = std::max(v, DecodeAccess(*existing));
    *new_value = EncodeAccess(v);
    return true;
  }
};

}  // namespace

std::string EncodeAccess(int64_t ms) {
  std::string out(kAccessBytes, '\0');
  for (size_t i = 0; i < kAccessBytes; ++i) {
    out[i] = static_cast<char>(static_cast<uint64_t>(ms) >>
                               (8 * (kAccessBytes - 1 - i)));
  }
  return out;
}

int64_t DecodeAccess(const rocksdb::Slice& in) {
  if (in.size() != kAccessBytes) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < kAccessBytes; ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return static_cast<int64_t>(v);
}

std::shared_ptr<rocksdb::MergeOperator> NewRecordMergeOperator() {
  return std::make_shared<RecordMergeOperator>();
}

std::shared_ptr<rocksdb::MergeOperator> NewMaxAccessMergeOperator() {
  return std::make_shared<MaxAccessMergeOperator>();
}

}  // namespace sesh

// Replica merge (replication/merge.h) on decoded SessionRecords, as a node
// decodes them from peers, hints and RocksDB. The input is up to three
// records, each a 2-byte little-endian length then that many bytes (a length
// past the end takes the rest). Decoding never crashes; on records that
// decode, Merge is idempotent, commutative and associative, has the empty
// record as identity, keeps last_access/version by max and destroy sticky.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuzz/check.h"
#include "google/protobuf/stubs/logging.h"
#include "replication/merge.h"
#include "sesh/internal/record.pb.h"

namespace {

using sesh::Merge;
using sesh::SameState;
using sesh::internal::Attribute;
using sesh::internal::SessionRecord;

// Takes the next length-prefixed chunk off *in; false when *in is empty.
bool NextChunk(absl::string_view* in, absl::string_view* chunk) {
  if (in->empty()) return false;
  size_t len = static_cast<uint8_t>((*in)[0]);
  if (in->size() >= 2) len |= size_t{static_cast<uint8_t>((*in)[1])} << 8;
  in->remove_prefix(std::min<size_t>(2, in->size()));
  *chunk = in->substr(0, len);
  in->remove_prefix(chunk->size());
  return true;
}

// merge.h's domain: states of one session, as replicas hold them. A record
// without an id is the identity (a lone touch, which callers skip), and a
// tombstone holds no attributes (Merge and the store both clear them).
void Normalize(const std::string& id, SessionRecord* r) {
  if (r->id().empty()) {
    r->Clear();
    return;
  }
  r->set_id(id);
  if (r->destroyed()) r->clear_attributes();
}

bool AttributeLess(const Attribute& x, const Attribute& y) {
  return std::make_tuple(x.hlc(), x.writer(), x.removed(), x.value()) <
         std::make_tuple(y.hlc(), y.writer(), y.removed(), y.value());
}

// What merging a into m must leave in m: merge.h's rules, checked one by one.
void CheckHolds(const SessionRecord& m, const SessionRecord& a) {
  if (a.id().empty()) return;
  SESH_FUZZ_CHECK(m.id() == a.id());
  SESH_FUZZ_CHECK(m.last_access_ms() >= a.last_access_ms());
  SESH_FUZZ_CHECK(m.version() >= a.version());
  SESH_FUZZ_CHECK(!a.destroyed() || m.destroyed());
  if (m.destroyed()) {
    SESH_FUZZ_CHECK(m.attributes().empty());
    return;
  }
  for (const auto& [key, attr] : a.attributes()) {
    auto it = m.attributes().find(key);
    SESH_FUZZ_CHECK(it != m.attributes().end());
    SESH_FUZZ_CHECK(!AttributeLess(it->second, attr));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Records with invalid UTF-8 in string fields fail to decode, and
  // protobuf logs each one; that is expected here.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SessionRecord> records;
  absl::string_view chunk;
  while (records.size() < 3 && NextChunk(&in, &chunk)) {
    SessionRecord r;
    if (!r.ParseFromArray(chunk.data(), static_cast<int>(chunk.size()))) {
      return 0;
    }
    // What a node stores decodes back to the same state.
    SessionRecord again;
    SESH_FUZZ_CHECK(again.ParseFromString(r.SerializeAsString()));
    SESH_FUZZ_CHECK(SameState(again, r));
    records.push_back(std::move(r));
  }
  if (records.empty()) return 0;
  std::string id;
  for (const SessionRecord& r : records) {
    if (id.empty()) id = r.id();
  }
  for (SessionRecord& r : records) Normalize(id, &r);

  const SessionRecord empty;
  for (const SessionRecord& a : records) {
    SESH_FUZZ_CHECK(SameState(Merge(a, a), a));
    SESH_FUZZ_CHECK(SameState(Merge(a, empty), a));
    SESH_FUZZ_CHECK(SameState(Merge(empty, a), a));
  }
  if (records.size() >= 2) {
    const SessionRecord& a = records[0];
    const SessionRecord& b = records[1];
    const SessionRecord ab = Merge(a, b);
    SESH_FUZZ_CHECK(SameState(ab, Merge(b, a)));
    SESH_FUZZ_CHECK(SameState(Merge(ab, ab), ab));
    SESH_FUZZ_CHECK(SameState(Merge(ab, a), ab));
    SESH_FUZZ_CHECK(SameState(Merge(b, ab), ab));
    CheckHolds(ab, a);
    CheckHolds(ab, b);
    if (!a.id().empty() && !b.id().empty()) {
      SESH_FUZZ_CHECK(ab.last_access_ms() ==
                      std::max(a.last_access_ms(), b.last_access_ms()));
      SESH_FUZZ_CHECK(ab.version() == std::max(a.version(), b.version()));
      SESH_FUZZ_CHECK(ab.destroyed() == (a.destroyed() || b.destroyed()));
    }
  }
  if (records.size() == 3) {
    const SessionRecord& a = records[0];
    const SessionRecord& b = records[1];
    const SessionRecord& c = records[2];
    SESH_FUZZ_CHECK(SameState(Merge(Merge(a, b), c), Merge(a, Merge(b, c))));
    SESH_FUZZ_CHECK(SameState(Merge(Merge(a, b), c), Merge(Merge(c, a), b)));
  }
  return 0;
}

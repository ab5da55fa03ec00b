// The receiving side of Peer/Apply: the input is an ApplyRequest in wire
// form. It goes through the checks every Apply passes before anything is
// merged (replication/peer_checks.h), as node 0 of five at RF 3, and what
// passes is merged into a real store opened once in a temp dir, as
// Replica::Apply does. Nothing crashes; a message the checks accept holds
// only ids of partitions this node replicates; merging never leaves a
// record under another id.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz/check.h"
#include "fuzz/temp_store.h"
#include "google/protobuf/stubs/logging.h"
#include "node/session_store.h"
#include "replication/clock.h"
#include "replication/peer_checks.h"
#include "replication/placement.h"
#include "sesh/internal/peer.pb.h"

namespace {

sesh::SessionStore* store = nullptr;
const sesh::PlacementMap* placement = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  store = sesh::OpenTempStore("peer_apply_fuzzer");
  auto built = sesh::PlacementMap::Build({"n1", "n2", "n3", "n4", "n5"}, 3);
  if (!built.ok()) std::abort();
  placement = new sesh::PlacementMap(std::move(*built));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sesh::internal::ApplyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const sesh::PeerLimits limits;
  const int64_t now_ms = sesh::SystemClock()->NowMs();
  absl::Status checked =
      sesh::CheckApply(request, *placement, /*self=*/0, now_ms, limits);
  if (!checked.ok()) {
    SESH_FUZZ_CHECK(checked.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  for (const sesh::internal::SessionRecord& record : request.records()) {
    SESH_FUZZ_CHECK(placement->Holds(0, sesh::PartitionOf(record.id())));
    absl::StatusOr<sesh::internal::SessionRecord> merged =
        store->Merge(record);
    if (merged.ok()) SESH_FUZZ_CHECK(merged->id() == record.id());
  }
  for (const sesh::internal::Touch& touch : request.touches()) {
    SESH_FUZZ_CHECK(touch.last_access_ms() <= now_ms + limits.max_clock_ahead_ms);
    SESH_FUZZ_CHECK(store->MergeTouch(touch.id(), touch.last_access_ms()).ok());
  }
  return 0;
}

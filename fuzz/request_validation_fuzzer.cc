// Edge validation of every public request (proto/sesh/v1/sessions.proto).
// The first input byte picks the request type, the rest is that message in
// wire format. Each request goes through the checks the node runs before it
// dispatches (node/sessions_service.cc, node/user_sessions.cc), then through
// the store's own validation and reads on an empty store opened once and
// never written: whatever the input, nothing crashes, errors have the
// documented codes, and a Create that validation accepts is within every
// limit of node/session_store.h.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/check.h"
#include "fuzz/temp_store.h"
#include "google/protobuf/stubs/logging.h"
#include "node/session_store.h"
#include "replication/clock.h"
#include "replication/session_id.h"
#include "sesh/v1/sessions.pb.h"

namespace {

using absl::StatusCode;

// Opened in LLVMFuzzerInitialize and never written: it stays empty, so
// calls that pass validation end in NOT_FOUND.
sesh::SessionStore* store = nullptr;

// ServiceOptions::max_batch (node/sessions_service.h).
constexpr int kMaxBatch = 1000;

// SessionsService's ValidateTarget: namespace required, id decoded.
absl::StatusOr<std::string> ValidateTarget(absl::string_view ns,
                                           absl::string_view id) {
  if (ns.empty()) return absl::InvalidArgumentError("namespace is required");
  return sesh::DecodeId(id);
}

// A target the edge accepted has a 32-byte id; one it refused is
// INVALID_ARGUMENT.
bool CheckTarget(const absl::StatusOr<std::string>& raw) {
  if (!raw.ok()) {
    SESH_FUZZ_CHECK(raw.status().code() == StatusCode::kInvalidArgument);
    return false;
  }
  SESH_FUZZ_CHECK(raw->size() == sesh::kIdBytes);
  return true;
}

// A read of an accepted target on the empty store: NOT_FOUND.
void CheckAbsent(absl::string_view ns, const std::string& raw) {
  absl::StatusOr<sesh::Record> got = store->Get(ns, raw, /*touch=*/false);
  SESH_FUZZ_CHECK(got.status().code() == StatusCode::kNotFound);
}

bool NameOk(absl::string_view s, size_t max_bytes, bool required) {
  return (!required || !s.empty()) && s.size() <= max_bytes &&
         s.find('\0') == absl::string_view::npos;
}

template <typename Message>
bool Parse(absl::string_view bytes, Message* m) {
  return m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

void Create(absl::string_view bytes) {
  sesh::v1::CreateRequest request;
  if (!Parse(bytes, &request)) return;
  // As SessionsService::Create builds them.
  sesh::CreateArgs args;
  args.ns = request.namespace_();
  args.user_id = request.user_id();
  args.attributes = std::map<std::string, std::string>(
      request.attributes().begin(), request.attributes().end());
  args.idle_timeout_ms = request.idle_timeout_ms();
  args.absolute_ttl_ms = request.absolute_ttl_ms();
  const absl::Status s = store->ValidateCreate(args);
  if (!s.ok()) {
    SESH_FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument ||
                    s.code() == StatusCode::kResourceExhausted);
    return;
  }
  const sesh::Limits& limits = store->options().limits;
  SESH_FUZZ_CHECK(NameOk(args.ns, limits.max_namespace_bytes, true));
  SESH_FUZZ_CHECK(NameOk(args.user_id, limits.max_user_id_bytes, false));
  SESH_FUZZ_CHECK(args.idle_timeout_ms > 0 &&
                  args.idle_timeout_ms <= limits.max_idle_timeout_ms);
  SESH_FUZZ_CHECK(args.absolute_ttl_ms >= 0 &&
                  args.absolute_ttl_ms <= limits.max_absolute_ttl_ms);
  SESH_FUZZ_CHECK(args.attributes.size() <=
                  static_cast<size_t>(limits.max_attributes));
  size_t bytes_held = args.ns.size() + args.user_id.size();
  for (const auto& [key, value] : args.attributes) {
    SESH_FUZZ_CHECK(!key.empty() && key.size() <= limits.max_key_bytes);
    SESH_FUZZ_CHECK(value.size() <= limits.max_value_bytes);
    bytes_held += key.size() + value.size();
  }
  SESH_FUZZ_CHECK(bytes_held <= limits.max_session_bytes);
}

template <typename Request>
void Target(absl::string_view bytes) {
  Request request;
  if (!Parse(bytes, &request)) return;
  absl::StatusOr<std::string> raw =
      ValidateTarget(request.namespace_(), request.id());
  if (CheckTarget(raw)) CheckAbsent(request.namespace_(), *raw);
}

void Update(absl::string_view bytes) {
  sesh::v1::UpdateRequest request;
  if (!Parse(bytes, &request)) return;
  absl::StatusOr<std::string> raw =
      ValidateTarget(request.namespace_(), request.id());
  if (!CheckTarget(raw)) return;
  // As SessionsService::Update builds them. The store validates sizes and
  // set/remove conflicts before its lookup, which finds nothing to write.
  sesh::UpdateArgs args;
  args.set = std::map<std::string, std::string>(request.set().begin(),
                                                request.set().end());
  args.remove.assign(request.remove().begin(), request.remove().end());
  args.expected_version = request.expected_version();
  args.touch = !request.skip_touch();
  absl::StatusOr<sesh::Record> updated =
      store->Update(request.namespace_(), *raw, args);
  SESH_FUZZ_CHECK(updated.status().code() == StatusCode::kInvalidArgument ||
                  updated.status().code() == StatusCode::kNotFound);
}

// The local part of gathering a user's sessions (UserSessions::Gather).
void CheckNoUserSessions(absl::string_view ns, absl::string_view user_id) {
  absl::StatusOr<std::vector<sesh::Record>> listed =
      store->ListByUser(ns, user_id);
  SESH_FUZZ_CHECK(listed.ok() && listed->empty());
}

void Destroy(absl::string_view bytes) {
  sesh::v1::DestroyRequest request;
  if (!Parse(bytes, &request)) return;
  if (request.id().empty() && !request.handle().empty()) {
    // By handle (UserSessions::DestroyByHandle).
    if (request.namespace_().empty() || request.user_id().empty()) return;
    CheckNoUserSessions(request.namespace_(), request.user_id());
    return;
  }
  absl::StatusOr<std::string> raw =
      ValidateTarget(request.namespace_(), request.id());
  if (CheckTarget(raw)) CheckAbsent(request.namespace_(), *raw);
}

// UserSessions::List's checks before it gathers; its page_token parser is
// private to node/user_sessions.cc.
void ListByUser(absl::string_view bytes) {
  sesh::v1::ListByUserRequest request;
  if (!Parse(bytes, &request)) return;
  if (request.namespace_().empty() || request.user_id().empty()) return;
  if (request.page_size() < 0 || request.page_size() > 1000) return;
  CheckNoUserSessions(request.namespace_(), request.user_id());
}

void DestroyByUser(absl::string_view bytes) {
  sesh::v1::DestroyByUserRequest request;
  if (!Parse(bytes, &request)) return;
  if (request.namespace_().empty() || request.user_id().empty()) return;
  if (!request.except_id().empty() && !request.except_handle().empty()) return;
  if (!request.except_id().empty() &&
      !CheckTarget(sesh::DecodeId(request.except_id()))) {
    return;
  }
  CheckNoUserSessions(request.namespace_(), request.user_id());
}

void BatchGet(absl::string_view bytes) {
  sesh::v1::BatchGetRequest request;
  if (!Parse(bytes, &request)) return;
  if (request.namespace_().empty() || request.ids_size() > kMaxBatch) return;
  // Malformed ids are answered one by one; the others are read together.
  std::vector<std::string> raws;
  for (const std::string& id : request.ids()) {
    absl::StatusOr<std::string> raw = sesh::DecodeId(id);
    if (CheckTarget(raw)) raws.push_back(*raw);
  }
  std::vector<absl::StatusOr<sesh::Record>> got =
      store->GetMany(request.namespace_(), raws, /*touch=*/false);
  SESH_FUZZ_CHECK(got.size() == raws.size());
  for (const auto& r : got) {
    SESH_FUZZ_CHECK(r.status().code() == StatusCode::kNotFound);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Requests with invalid UTF-8 in string fields fail to parse; that is
  // expected here (OpenTempStore silences protobuf's log of them).
  store = sesh::OpenTempStore("request_validation_fuzzer");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  switch (data[0] % 9) {
    case 0: Create(bytes); break;
    case 1: Target<sesh::v1::GetRequest>(bytes); break;
    case 2: Update(bytes); break;
    case 3: Target<sesh::v1::TouchRequest>(bytes); break;
    case 4: Destroy(bytes); break;
    case 5: Target<sesh::v1::RotateRequest>(bytes); break;
    case 6: ListByUser(bytes); break;
    case 7: DestroyByUser(bytes); break;
    case 8: BatchGet(bytes); break;
  }
  return 0;
}

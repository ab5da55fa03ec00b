// Session IDs (replication/session_id.h): DecodeId never crashes, accepts
// only the canonical 43-character form and never echoes its input; every
// accepted text and every 32 raw bytes round-trip through EncodeId. A
// session's handle (auth/session_handle.h) has the handle form and is never
// accepted as an ID.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "auth/session_handle.h"
#include "fuzz/check.h"
#include "replication/session_id.h"

namespace {

bool IsBase64Url(absl::string_view text) {
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::string> raw = sesh::DecodeId(text);
  if (raw.ok()) {
    SESH_FUZZ_CHECK(text.size() == sesh::kIdChars);
    SESH_FUZZ_CHECK(raw->size() == sesh::kIdBytes);
    // One text form per ID: the input is the only text that decodes to it.
    SESH_FUZZ_CHECK(sesh::EncodeId(*raw) == text);
    SESH_FUZZ_CHECK(sesh::IdTagForLog(*raw).size() == 8);
    const std::string handle = sesh::SessionHandle(*raw);
    SESH_FUZZ_CHECK(handle.size() == sesh::kHandleChars);
    SESH_FUZZ_CHECK(sesh::LooksLikeHandle(handle));
    SESH_FUZZ_CHECK(!sesh::DecodeId(handle).ok());
  } else {
    SESH_FUZZ_CHECK(raw.status().code() ==
                    absl::StatusCode::kInvalidArgument);
    // ID-shaped inputs (longer than any word of the fixed messages) must
    // not appear in the error a caller or a log sees.
    if (text.size() >= 16 && IsBase64Url(text)) {
      SESH_FUZZ_CHECK(raw.status().message().find(text) ==
                      absl::string_view::npos);
    }
  }

  if (sesh::LooksLikeHandle(text)) {
    SESH_FUZZ_CHECK(text.size() == sesh::kHandleChars && IsBase64Url(text));
  }

  // The other direction: any 32 bytes encode to an ID that decodes back.
  if (size >= sesh::kIdBytes) {
    const absl::string_view bytes = text.substr(0, sesh::kIdBytes);
    const std::string encoded = sesh::EncodeId(bytes);
    SESH_FUZZ_CHECK(encoded.size() == sesh::kIdChars);
    absl::StatusOr<std::string> decoded = sesh::DecodeId(encoded);
    SESH_FUZZ_CHECK(decoded.ok() && *decoded == bytes);
  }
  return 0;
}

#ifndef SESH_REPLICATION_SESSION_ID_H_
#define SESH_REPLICATION_SESSION_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sesh {

// A session ID is 32 bytes from a CSPRNG. On the wire and in cookies it is
// base64url without padding: exactly 43 characters of [A-Za-z0-9_-], the last
// one from the 16 characters whose low two bits are zero (so every ID has
// exactly one textual form).
inline constexpr size_t kIdBytes = 32;
inline constexpr size_t kIdChars = 43;

// Returns 32 fresh bytes from OpenSSL's CSPRNG (RAND_bytes).
std::string NewRawId();

// Encodes 32 raw bytes as the 43-character text form. raw must be 32 bytes.
std::string EncodeId(absl::string_view raw);

// Decodes the text form. Anything that is not exactly a canonical 43-character
// base64url string gives INVALID_ARGUMENT; the message never echoes the input.
absl::StatusOr<std::string> DecodeId(absl::string_view text);

// A short, non-reversible tag for logs: the first 8 hex digits of SHA-256 of
// the raw ID. Never log a full ID.
std::string IdTagForLog(absl::string_view raw);

}  // namespace sesh

#endif  // SESH_REPLICATION_SESSION_ID_H_

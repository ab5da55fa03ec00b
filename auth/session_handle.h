#ifndef SESH_AUTH_SESSION_HANDLE_H_
#define SESH_AUTH_SESSION_HANDLE_H_

// The public handle of a session: what a "your devices" page shows and sends
// back to name a session, so the page never holds a session ID. A handle is a
// one-way function of the ID, too short to be decoded as one.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace sesh {

inline constexpr size_t kHandleBytes = 16;
inline constexpr size_t kHandleChars = 22;

// base64url, without padding, of the first 16 bytes of
// SHA-256("sesh-handle\0" + raw_id): always 22 characters. `raw_id` is the
// ID's raw bytes (DecodeId's output), not its text form. Deterministic.
std::string SessionHandle(absl::string_view raw_id);

// True if `text` is 22 base64url characters whose last one carries no bits
// beyond the 128 (the only form SessionHandle produces). Says nothing about
// whether any session has this handle.
bool LooksLikeHandle(absl::string_view text);

}  // namespace sesh

#endif  // SESH_AUTH_SESSION_HANDLE_H_

#ifndef SESH_NODE_LIMITS_H_
#define SESH_NODE_LIMITS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

// Limits on what a session may hold (docs/architecture.md, "Data model").
// Going over one gives an error naming the limit and applies nothing.
struct Limits {
  int max_attributes = 64;
  size_t max_key_bytes = 256;
  size_t max_value_bytes = 32 * 1024;
  // Sum of attribute keys and values, user id and namespace.
  size_t max_session_bytes = 64 * 1024;
  int max_sessions_per_user = 1000;
  size_t max_namespace_bytes = 128;
  size_t max_user_id_bytes = 256;
  int64_t max_idle_timeout_ms = int64_t{30} * 24 * 3600 * 1000;
  // Also the absolute TTL of a session created with absolute_ttl_ms = 0.
  int64_t max_absolute_ttl_ms = int64_t{90} * 24 * 3600 * 1000;
};

// A name (namespace, user id): present if required, at most max_bytes, no
// NUL. INVALID_ARGUMENT naming `what` otherwise.
absl::Status CheckName(absl::string_view what, absl::string_view value,
                       size_t max_bytes, bool required);

// Key and value sizes of attributes being written (INVALID_ARGUMENT).
absl::Status CheckAttributeSizes(
    const std::map<std::string, std::string>& attributes, const Limits& limits);

// The live attribute count and the session's bytes (RESOURCE_EXHAUSTED).
absl::Status CheckSessionSize(const internal::SessionRecord& session,
                              const Limits& limits);

}  // namespace sesh

#endif  // SESH_NODE_LIMITS_H_

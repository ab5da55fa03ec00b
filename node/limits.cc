#include "node/limits.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sesh {
namespace {

// Bytes a session counts against max_session_bytes.
size_t SessionBytes(const internal::SessionRecord& r) {
  size_t total = r.namespace_().size() + r.user_id().size();
  for (const auto& [key, attr] : r.attributes()) {
    if (!attr.removed()) total += key.size() + attr.value().size();
  }
  return total;
}

}  // namespace

absl::Status CheckName(absl::string_view what, absl::string_view value,
                       size_t max_bytes, bool required) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is %d bytes, over the limit of %d", what, value.size(), max_bytes));
  }
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must not contain NUL bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckAttributeSizes(
    const std::map<std::string, std::string>& attributes, const Limits& limits) {
  for (const auto& [key, value] : attributes) {
    if (key.empty() || key.size() > limits.max_key_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "max_key_bytes: attribute keys are 1 to %d bytes",
          limits.max_key_bytes));
    }
    if (value.size() > limits.max_value_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "max_value_bytes: attribute values are at most %d bytes",
          limits.max_value_bytes));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSessionSize(const internal::SessionRecord& session,
                              const Limits& limits) {
  int live = 0;
  for (const auto& [key, attr] : session.attributes()) {
    if (!attr.removed()) ++live;
  }
  if (live > limits.max_attributes) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("max_attributes: a session holds at most %d attributes",
                        limits.max_attributes));
  }
  size_t bytes = SessionBytes(session);
  if (bytes > limits.max_session_bytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "max_session_bytes: the session would hold %d bytes, over %d", bytes,
        limits.max_session_bytes));
  }
  return absl::OkStatus();
}

}  // namespace sesh

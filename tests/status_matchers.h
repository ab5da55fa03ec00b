#ifndef SESH_TESTS_STATUS_MATCHERS_H_
#define SESH_TESTS_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace sesh {
namespace testing_internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace testing_internal

// EXPECT_THAT(store.Get(...), StatusIs(absl::StatusCode::kNotFound));
// abseil 20220623 has no status matchers; this is the one we use.
MATCHER_P(StatusIs, code,
          std::string("has status code ") +
              absl::StatusCodeToString(code)) {
  const absl::Status& s = testing_internal::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = testing_internal::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

}  // namespace sesh

#endif  // SESH_TESTS_STATUS_MATCHERS_H_

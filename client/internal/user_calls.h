// The calls on all of one user's sessions, sent to any node: ListByUser
// (which follows the pages), ListByUserPage, DestroyByHandle, and
// DestroyByUser / DestroyOtherDevices (which call again while the node
// reports more). Each RPC is one retrying call (retrying_call.h); these
// block until it has ended. The contracts, error codes included, are those
// of the Client methods of the same names (client/sesh/client.h).

#ifndef SESH_CLIENT_INTERNAL_USER_CALLS_H_
#define SESH_CLIENT_INTERNAL_USER_CALLS_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/internal/attempt.h"
#include "client/internal/retrying_call.h"
#include "client/sesh/client.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace client_internal {

// Constant after construction, so thread-safe.
class UserCalls {
 public:
  // `env` and `runner` must outlive this object.
  UserCalls(const CallEnv* env, const AttemptRunner* runner)
      : env_(env), runner_(runner) {}

  UserCalls(const UserCalls&) = delete;
  UserCalls& operator=(const UserCalls&) = delete;

  absl::StatusOr<std::vector<SessionData>> ListByUser(
      absl::string_view ns, absl::string_view user_id) const;
  absl::StatusOr<SessionPage> ListByUserPage(absl::string_view ns,
                                             absl::string_view user_id,
                                             const ListOptions& options) const;
  absl::Status DestroyByHandle(absl::string_view ns, absl::string_view user_id,
                               absl::string_view handle,
                               Durability durability) const;
  absl::StatusOr<int> DestroyByUser(absl::string_view ns,
                                    absl::string_view user_id,
                                    absl::string_view except_id,
                                    Durability durability) const;
  absl::StatusOr<int> DestroyOtherDevices(absl::string_view ns,
                                          absl::string_view user_id,
                                          absl::string_view keep_handle,
                                          Durability durability) const;

 private:
  // One idempotent call of `req` into `resp` on any node; waits for its end.
  // `invoke` is StartUnaryCall's.
  template <typename Req, typename Resp, typename Invoke>
  absl::Status CallAnyNode(std::shared_ptr<Req> req, std::shared_ptr<Resp> resp,
                           Invoke invoke) const;
  // DestroyByUser calls of `request` while the node reports `more`.
  absl::StatusOr<int> DestroyByUserRounds(
      const v1::DestroyByUserRequest& request) const;

  const CallEnv* const env_;
  const AttemptRunner* const runner_;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_USER_CALLS_H_

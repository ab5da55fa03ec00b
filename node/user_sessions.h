#ifndef SESH_NODE_USER_SESSIONS_H_
#define SESH_NODE_USER_SESSIONS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/session_store.h"
#include "replication/cluster.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {

// The calls on all of a user's sessions: ListByUser, DestroyByUser, and
// Destroy by handle ("log out that device"). Each gathers the user's
// sessions from every node (the user index is per node), merges the copies,
// and answers. Session ids never leave the peer port: the client port lists
// handles (docs/security.md).
class UserSessions {
 public:
  using Done = std::function<void(grpc::Status)>;
  // Destroys one session by id through its coordinator (the Destroy path).
  using DestroyFn = std::function<void(const v1::DestroyRequest&, Done)>;

  struct Options {
    int64_t forward_timeout_ms = 2000;
    // Sessions one DestroyByUser call destroys at most.
    int max_destroy_per_call = 256;
  };

  // stubs[i]: node i's Sessions service on its peer port (own entry
  // unused). Everything outlives this object.
  UserSessions(SessionStore* store, Cluster* cluster,
               const std::vector<std::unique_ptr<v1::Sessions::Stub>>* stubs,
               const Options& options, DestroyFn destroy);

  // `from_peer`: the call came over the peer port from another node, which
  // gathers: answer with this node's copies only, ids and all attributes
  // included.
  void List(const v1::ListByUserRequest& request,
            v1::ListByUserResponse* response, bool from_peer,
            std::chrono::system_clock::time_point deadline, Done done);
  void DestroyAll(const v1::DestroyByUserRequest& request,
                  v1::DestroyByUserResponse* response,
                  std::chrono::system_clock::time_point deadline, Done done);
  // request.id is empty; request.handle and request.user_id name the
  // session. A handle of no live session of the user succeeds.
  void DestroyByHandle(const v1::DestroyRequest& request,
                       std::chrono::system_clock::time_point deadline,
                       Done done);

 private:
  using Sessions = std::vector<v1::Session>;
  // The user's live sessions across the cluster (ids included), ordered by
  // created_at_ms then handle; UNAVAILABLE when too few nodes answered to
  // be sure the list is complete.
  void Gather(const std::string& ns, const std::string& user_id,
              std::chrono::system_clock::time_point deadline,
              std::function<void(grpc::Status, Sessions)> done);

  SessionStore* const store_;
  Cluster* const cluster_;
  const std::vector<std::unique_ptr<v1::Sessions::Stub>>* const stubs_;
  const Options options_;
  const DestroyFn destroy_;
};

}  // namespace sesh

#endif  // SESH_NODE_USER_SESSIONS_H_

#ifndef SESH_NODE_CALL_AUTH_H_
#define SESH_NODE_CALL_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "auth/token_store.h"

namespace sesh {

// Who may make a call on one of the node's two ports (docs/security.md).
// The client port checks the namespace token a call carries; the peer port
// admits only callers whose certificate names a member node. Immutable after
// construction; the token store reloads itself.
class CallAuth {
 public:
  // The client port. `tokens` null: every call is admitted (a node run with
  // --insecure and no --token_file).
  static CallAuth ClientPort(const TokenStore* tokens);
  // The peer port. require_certificate false: any caller is taken for a
  // member (--insecure); the claimed sender is then not checked.
  static CallAuth PeerPort(std::vector<std::string> members,
                           bool require_certificate);

  // A call on data of namespace `ns`: OK, UNAUTHENTICATED (no or unknown
  // token, no member certificate) or PERMISSION_DENIED (another namespace).
  grpc::Status ForNamespace(const grpc::ServerContextBase& ctx,
                            absl::string_view ns) const;
  // Any valid token (Cluster.Topology).
  grpc::Status ForAny(const grpc::ServerContextBase& ctx) const;
  // An operator call (Cluster.NodeStats): a token with the admin scope.
  grpc::Status ForAdmin(const grpc::ServerContextBase& ctx) const;
  // Peer port: OK when the caller's certificate names `claimed` (the
  // message's from_node); PERMISSION_DENIED when it names another node.
  grpc::Status ForSender(const grpc::ServerContextBase& ctx,
                         absl::string_view claimed) const;

  // Calls on this port are forwarded by another node (served here, never
  // forwarded again).
  bool peer_port() const { return peer_port_; }

 private:
  CallAuth(const TokenStore* tokens, bool peer_port,
           std::vector<std::string> members, bool require_certificate)
      : tokens_(tokens),
        peer_port_(peer_port),
        members_(std::move(members)),
        require_certificate_(require_certificate) {}

  grpc::Status Member(const grpc::ServerContextBase& ctx,
                      std::string* node) const;

  const TokenStore* tokens_;
  bool peer_port_;
  std::vector<std::string> members_;
  bool require_certificate_;
};

}  // namespace sesh

#endif  // SESH_NODE_CALL_AUTH_H_

#ifndef SESH_NODE_CREDENTIALS_H_
#define SESH_NODE_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sesh {

// The node's TLS material (PEM text): its certificate and key, serving both
// ports; the cluster CA that signed every node certificate (the peer port's
// trust root, both ways); and, optionally, the CA of client certificates
// the client port requires. See docs/security.md.
struct TlsMaterial {
  std::string cert;
  std::string key;
  std::string cluster_ca;
  std::string client_ca;  // empty: clients need no certificate
};

// Reads the files (cluster_ca_file: the CA for the peer port, client_ca_file
// may be empty). INVALID_ARGUMENT naming the file that cannot be read or
// holds no PEM block.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& cluster_ca_file,
                                            const std::string& client_ca_file);

// The client port: TLS with the node certificate; a client certificate
// signed by client_ca is required when client_ca is set.
std::shared_ptr<grpc::ServerCredentials> ClientPortCredentials(
    const TlsMaterial& tls);

// The peer port: mutual TLS, both sides presenting a certificate signed by
// the cluster CA.
std::shared_ptr<grpc::ServerCredentials> PeerPortCredentials(
    const TlsMaterial& tls);

// A channel's credentials to another node's peer port (this node's
// certificate as the client certificate). The channel must check the
// certificate against the peer's node id (see PeerChannelArgs).
std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(
    const TlsMaterial& tls);

// The node a peer-port call comes from: the one name among the caller's
// certificate names (its subject alternative names) that is in `members`.
// Empty when the call is not over TLS, carries no certificate, or names no
// member or more than one.
std::string CertifiedNode(const grpc::ServerContextBase& ctx,
                          const std::vector<std::string>& members);

}  // namespace sesh

#endif  // SESH_NODE_CREDENTIALS_H_

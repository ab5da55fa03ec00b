#ifndef SESH_TESTS_TEST_CREDENTIALS_H_
#define SESH_TESTS_TEST_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace sesh {
namespace testing {

// Throw-away TLS credentials and tokens for the nodes a test starts, made
// once per test process by tools/gen_certs.sh in a temp dir: a cluster CA,
// certificates for nodes n1..n6, a client certificate, and tokens for the
// namespaces demo, bench, test and other, plus an admin token good for
// every namespace.
struct TestCredentials {
  std::string dir;
  std::string ca_file;     // dir + "/ca.pem"
  std::string token_file;  // the nodes' --token_file
  std::string ca_pem;
  std::string admin_token;
  // Paths of a node's certificate and key.
  std::string CertFile(const std::string& node) const;
  std::string KeyFile(const std::string& node) const;
  // The clear token of `name` (demo, bench, test, other, admin).
  std::string Token(const std::string& name) const;
};
const TestCredentials& Credentials();

// The flags that make a node serve with the credentials above.
std::vector<std::string> SecureNodeFlags(const std::string& node_id);

// A channel to a node's client port: TLS checked against the test CA,
// `token` (if not empty) sent as `authorization: Bearer` on every call.
// tls false: plaintext. client_cert: the name of a certificate of the test
// CA to present (e.g. "client"), none if empty.
std::shared_ptr<grpc::Channel> ClientChannel(
    const std::string& address, const std::string& token, bool tls = true,
    const std::string& client_cert = "");

// A channel to node `target`'s peer port, presenting the certificate of
// node `as_node` (any member, or "client" for a non-node certificate).
std::shared_ptr<grpc::Channel> PeerChannel(const std::string& address,
                                           const std::string& target,
                                           const std::string& as_node);

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace testing
}  // namespace sesh

#endif  // SESH_TESTS_TEST_CREDENTIALS_H_

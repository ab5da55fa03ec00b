#include "node/credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM block"));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& cluster_ca_file,
                                            const std::string& client_ca_file) {
  TlsMaterial tls;
  for (auto [path, out] : {std::pair{&cert_file, &tls.cert},
                           std::pair{&key_file, &tls.key},
                           std::pair{&cluster_ca_file, &tls.cluster_ca},
                           std::pair{&client_ca_file, &tls.client_ca}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> pem = ReadPem(*path);
    if (!pem.ok()) return pem.status();
    *out = std::move(*pem);
  }
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> ClientPortCredentials(
    const TlsMaterial& tls) {
  grpc::SslServerCredentialsOptions options(
      tls.client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.client_ca;
  options.pem_key_cert_pairs.push_back({tls.key, tls.cert});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> PeerPortCredentials(
    const TlsMaterial& tls) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.cluster_ca;
  options.pem_key_cert_pairs.push_back({tls.key, tls.cert});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(
    const TlsMaterial& tls) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.cluster_ca;
  options.pem_private_key = tls.key;
  options.pem_cert_chain = tls.cert;
  return grpc::SslCredentials(options);
}

std::string CertifiedNode(const grpc::ServerContextBase& ctx,
                          const std::vector<std::string>& members) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::string found;
  for (const grpc::string_ref& name :
       auth->FindPropertyValues("x509_subject_alternative_name")) {
    const std::string candidate(name.data(), name.size());
    for (const std::string& member : members) {
      if (candidate != member) continue;
      if (!found.empty() && found != candidate) return "";  // two members
      found = candidate;
    }
  }
  return found;
}

}  // namespace sesh

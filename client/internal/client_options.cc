#include "client/internal/client_options.h"

#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sesh {
namespace client_internal {
namespace {

bool IsPem(absl::string_view text) {
  return absl::StrContains(text, "-----BEGIN ");
}

absl::Status ValidateSecurityOptions(const ClientOptions& o) {
  if (o.insecure) {
    if (!o.tls_ca_pem.empty() || !o.tls_cert_pem.empty() ||
        !o.tls_key_pem.empty() || !o.tls_server_name.empty()) {
      return absl::InvalidArgumentError(
          "insecure (plaintext) excludes the tls_* options");
    }
  } else {
    if (o.tls_ca_pem.empty()) {
      return absl::InvalidArgumentError(
          "tls_ca_pem is required: the PEM of the CA that signed the nodes' "
          "certificates (or insecure, for nodes run with --insecure)");
    }
    if (o.tls_cert_pem.empty() != o.tls_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "tls_cert_pem and tls_key_pem go together: set both or neither");
    }
    for (const auto& [name, pem] : {std::pair{"tls_ca_pem", &o.tls_ca_pem},
                                    std::pair{"tls_cert_pem", &o.tls_cert_pem},
                                    std::pair{"tls_key_pem", &o.tls_key_pem}}) {
      if (!pem->empty() && !IsPem(*pem)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name,
                         " holds no PEM block (it takes a file's contents, "
                         "not its name: see LoadTlsFiles)"));
      }
    }
  }
  for (const char c : o.token) {
    if (c < '!' || c > '~') {
      return absl::InvalidArgumentError(
          "token has a character other than visible ASCII");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  return text.str();
}

}  // namespace

absl::Status ValidateOptions(const ClientOptions& o) {
  if (o.seeds.empty()) return absl::InvalidArgumentError("no seeds");
  if (o.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline must be > 0");
  }
  if (o.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be >= 1");
  }
  if (o.initial_backoff < absl::ZeroDuration() ||
      o.max_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("backoffs must be >= 0");
  }
  if (o.max_batch < 1 || o.max_batches_in_flight_per_node < 1) {
    return absl::InvalidArgumentError(
        "max_batch and max_batches_in_flight_per_node must be >= 1");
  }
  if (o.max_batch_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_batch_wait must be >= 0");
  }
  if (o.max_queued_gets_per_node < 1) {
    return absl::InvalidArgumentError("max_queued_gets_per_node must be >= 1");
  }
  return ValidateSecurityOptions(o);
}

absl::StatusOr<std::shared_ptr<const ChannelConfig>> MakeChannelConfig(
    const ClientOptions& o) {
  auto config = std::make_shared<ChannelConfig>();
  if (o.insecure) {
    config->credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = o.tls_ca_pem;
    ssl.pem_private_key = o.tls_key_pem;
    ssl.pem_cert_chain = o.tls_cert_pem;
    config->credentials = grpc::SslCredentials(ssl);
    config->server_name = o.tls_server_name;
  }
  if (config->credentials == nullptr) {
    return absl::InvalidArgumentError("gRPC refused the TLS options");
  }
  if (!o.token.empty()) {
    config->authorization = absl::StrCat("Bearer ", o.token);
  }
  return config;
}

}  // namespace client_internal

absl::StatusOr<ClientOptions> LoadTlsFiles(ClientOptions options,
                                           const std::string& ca_file,
                                           const std::string& cert_file,
                                           const std::string& key_file,
                                           const std::string& token_file) {
  for (const auto& [path, out] : {std::pair{&ca_file, &options.tls_ca_pem},
                                  std::pair{&cert_file, &options.tls_cert_pem},
                                  std::pair{&key_file, &options.tls_key_pem}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> pem = client_internal::ReadFile(*path);
    if (!pem.ok()) return pem.status();
    if (!client_internal::IsPem(*pem)) {
      return absl::InvalidArgumentError(
          absl::StrCat(*path, " holds no PEM block"));
    }
    *out = *std::move(pem);
  }
  if (!token_file.empty()) {
    absl::StatusOr<std::string> text = client_internal::ReadFile(token_file);
    if (!text.ok()) return text.status();
    const absl::string_view line = absl::StripAsciiWhitespace(
        absl::string_view(*text).substr(0, text->find('\n')));
    if (line.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(token_file, " has no token on its first line"));
    }
    options.token = std::string(line);
  }
  return options;
}

}  // namespace sesh

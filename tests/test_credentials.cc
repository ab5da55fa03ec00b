#include "tests/test_credentials.h"

#include <grpcpp/support/client_interceptor.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/node_process.h"

namespace sesh {
namespace testing {
namespace {

// Adds `authorization: Bearer <token>` to every call of a channel.
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(std::string value) : value_(std::move(value)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", value_});
    }
    methods->Proceed();
  }

 private:
  std::string value_;
};

class TokenInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token)
      : value_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(value_);
  }

 private:
  std::string value_;
};

grpc::ChannelArguments QuickReconnect() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);  // connect timeout
  args.SetMaxReceiveMessageSize(64 << 20);
  return args;
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TestCredentials::CertFile(const std::string& node) const {
  return absl::StrCat(dir, "/", node, ".pem");
}
std::string TestCredentials::KeyFile(const std::string& node) const {
  return absl::StrCat(dir, "/", node, ".key");
}
std::string TestCredentials::Token(const std::string& name) const {
  return ReadFileOrEmpty(absl::StrCat(dir, "/token.", name));
}

const TestCredentials& Credentials() {
  static const TestCredentials* const credentials = [] {
    auto* c = new TestCredentials;
    c->dir = NewTempDir("credentials");
    const std::string command =
        absl::StrCat("bash ", RunfilePath("tools/gen_certs.sh"), " ", c->dir,
                     " n1 n2 n3 n4 n5 n6");
    if (std::system(command.c_str()) != 0) {
      fprintf(stderr, "test credentials: '%s' failed\n", command.c_str());
      std::abort();
    }
    c->ca_file = c->dir + "/ca.pem";
    c->token_file = c->dir + "/tokens";
    c->ca_pem = ReadFileOrEmpty(c->ca_file);
    c->admin_token = c->Token("admin");
    return c;
  }();
  return *credentials;
}

std::vector<std::string> SecureNodeFlags(const std::string& node_id) {
  const TestCredentials& c = Credentials();
  return {
      absl::StrCat("--tls_cert=", c.CertFile(node_id)),
      absl::StrCat("--tls_key=", c.KeyFile(node_id)),
      absl::StrCat("--cluster_ca=", c.ca_file),
      absl::StrCat("--token_file=", c.token_file),
  };
}

std::shared_ptr<grpc::Channel> ClientChannel(const std::string& address,
                                             const std::string& token,
                                             bool tls,
                                             const std::string& client_cert) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (tls) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Credentials().ca_pem;
    if (!client_cert.empty()) {
      options.pem_cert_chain =
          ReadFileOrEmpty(Credentials().CertFile(client_cert));
      options.pem_private_key =
          ReadFileOrEmpty(Credentials().KeyFile(client_cert));
    }
    credentials = grpc::SslCredentials(options);
  }
  std::vector<std::unique_ptr<
      grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!token.empty()) {
    interceptors.push_back(std::make_unique<TokenInterceptorFactory>(token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, QuickReconnect(), std::move(interceptors));
}

std::shared_ptr<grpc::Channel> PeerChannel(const std::string& address,
                                           const std::string& target,
                                           const std::string& as_node) {
  const TestCredentials& c = Credentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = c.ca_pem;
  options.pem_cert_chain = ReadFileOrEmpty(c.CertFile(as_node));
  options.pem_private_key = ReadFileOrEmpty(c.KeyFile(as_node));
  grpc::ChannelArguments args = QuickReconnect();
  args.SetSslTargetNameOverride(target);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options),
                                   args);
}

}  // namespace testing
}  // namespace sesh

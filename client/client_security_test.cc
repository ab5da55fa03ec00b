// sesh::Client's security against in-process fake nodes
// (client/internal/fake_node.h): the namespace token on every call, checking
// the TLS options, LoadTlsFiles, and TLS channels with throw-away
// credentials from tools/gen_certs.sh.

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/fake_node.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

using testing::kNs;
using testing::TestCluster;
using testing::TestId;

// --- Token -----------------------------------------------------------------

constexpr char kToken[] = "tok-3k9_Zq";
constexpr char kBearer[] = "Bearer tok-3k9_Zq";

TEST(ClientTest, Token_Set_EveryUnaryCallCarriesBearer) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.token = kToken;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Create(kNs, CreateOptions{"u", {}, 1000}).ok());
  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Touch(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Destroy(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->ListByUser(kNs, "u").ok());
  ASSERT_TRUE(client->DestroyByUser(kNs, "u").ok());
  ASSERT_TRUE(client->DestroyByHandle(kNs, "u", "h0").ok());
  ASSERT_TRUE(client->Topology().ok());
  ASSERT_TRUE(client->NodeStats("n1").ok());

  // The bootstrap Topology, then the nine calls above.
  EXPECT_EQ(tc.node(0).unary_authorizations(),
            std::vector<std::string>(10, kBearer));
  EXPECT_EQ(tc.node(0).gets.load(), 1);
}

TEST(ClientTest, Token_Set_StreamGetCarriesBearer) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  options.token = kToken;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  ASSERT_TRUE(client->Get(kNs, TestId(2)).ok());

  EXPECT_EQ(tc.node(0).streams.load(), 1);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 2);
  EXPECT_EQ(tc.node(0).stream_authorizations(),
            std::vector<std::string>{kBearer});
  EXPECT_EQ(tc.node(0).gets.load(), 0);
}

TEST(ClientTest, Token_Empty_NoAuthorizationMetadata) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());

  EXPECT_EQ(tc.node(0).unary_authorizations(), std::vector<std::string>{""});
  EXPECT_EQ(tc.node(0).stream_authorizations(), std::vector<std::string>{""});
}

TEST(ClientTest, Connect_TokenNotVisibleAscii_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  for (const char* token : {"tok en", "token\n", "tok\x7f", "t\xc3\xa9"}) {
    ClientOptions options = tc.Options();
    options.token = token;
    EXPECT_EQ(Client::Connect(options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(token);
  }
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTest, Connect_SeedRefusesToken_Unauthenticated) {
  TestCluster tc(2, 1);
  tc.node(0).refuse_token = true;
  tc.node(1).refuse_token = true;
  ClientOptions options = tc.Options();
  options.token = kToken;

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
  EXPECT_EQ(tc.node(1).topologies.load(), 1);
}

// --- TLS options -------------------------------------------------------------

TEST(ClientTest, Connect_NeitherTlsCaNorInsecure_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.insecure = false;

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTest, Connect_InconsistentTlsOptions_InvalidArgument) {
  constexpr char kPem[] = "-----BEGIN CERTIFICATE-----\nAA==\n";
  ClientOptions base;
  base.seeds = {"localhost:1"};
  base.tls_ca_pem = kPem;

  ClientOptions insecure_with_ca = base;
  insecure_with_ca.insecure = true;
  ClientOptions insecure_with_name;
  insecure_with_name.seeds = base.seeds;
  insecure_with_name.insecure = true;
  insecure_with_name.tls_server_name = "n1";
  ClientOptions cert_without_key = base;
  cert_without_key.tls_cert_pem = kPem;
  ClientOptions key_without_cert = base;
  key_without_cert.tls_key_pem = kPem;
  ClientOptions ca_file_name = base;
  ca_file_name.tls_ca_pem = "/etc/sesh/ca.pem";

  for (const ClientOptions* options :
       {&insecure_with_ca, &insecure_with_name, &cert_without_key,
        &key_without_cert, &ca_file_name}) {
    EXPECT_EQ(Client::Connect(*options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- LoadTlsFiles ------------------------------------------------------------

std::string WriteTestFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(LoadTlsFilesTest, AllFiles_ReadIntoOptionsTokenFirstLineTrimmed) {
  const std::string ca = WriteTestFile("l1-ca.pem", "-----BEGIN CA-----\n");
  const std::string cert =
      WriteTestFile("l1-cert.pem", "-----BEGIN CERT-----\n");
  const std::string key = WriteTestFile("l1-key.pem", "-----BEGIN KEY-----\n");
  const std::string token =
      WriteTestFile("l1-token", " \tabc-DEF_123 \r\nsecond line\n");
  ClientOptions base;
  base.seeds = {"localhost:1"};

  absl::StatusOr<ClientOptions> options =
      LoadTlsFiles(base, ca, cert, key, token);

  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->seeds, base.seeds);
  EXPECT_EQ(options->tls_ca_pem, "-----BEGIN CA-----\n");
  EXPECT_EQ(options->tls_cert_pem, "-----BEGIN CERT-----\n");
  EXPECT_EQ(options->tls_key_pem, "-----BEGIN KEY-----\n");
  EXPECT_EQ(options->token, "abc-DEF_123");
}

TEST(LoadTlsFilesTest, EmptyNames_FieldsKept) {
  ClientOptions base;
  base.tls_ca_pem = "ca";
  base.token = "t";

  absl::StatusOr<ClientOptions> options = LoadTlsFiles(base, "", "", "", "");

  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->tls_ca_pem, "ca");
  EXPECT_EQ(options->token, "t");
}

TEST(LoadTlsFilesTest, BadFiles_InvalidArgument) {
  const std::string missing = ::testing::TempDir() + "l2-missing";
  const std::string not_pem = WriteTestFile("l2-notpem", "just text\n");
  const std::string empty_token = WriteTestFile("l2-token", "  \nsecond\n");
  const std::string pem = WriteTestFile("l2-ca.pem", "-----BEGIN CA-----\n");
  for (const auto& files :
       std::vector<std::vector<std::string>>{{missing, "", "", ""},
                                             {not_pem, "", "", ""},
                                             {pem, not_pem, pem, ""},
                                             {pem, pem, not_pem, ""},
                                             {pem, "", "", missing},
                                             {pem, "", "", empty_token}}) {
    absl::StatusOr<ClientOptions> options =
        LoadTlsFiles(ClientOptions(), files[0], files[1], files[2], files[3]);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument)
        << absl::StrJoin(files, " ");
  }
}

// --- TLS ---------------------------------------------------------------------

// Throw-away credentials from tools/gen_certs.sh (nodes n1 and n2), made once
// per directory name under the test's temporary directory.
std::string CertsDir(const std::string& name) {
  static absl::Mutex mu;
  static std::set<std::string>* made = new std::set<std::string>();
  const std::string dir = ::testing::TempDir() + name;
  absl::MutexLock lock(&mu);
  if (made->insert(name).second) {
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    EXPECT_TRUE(srcdir != nullptr && workspace != nullptr);
    const std::string command =
        absl::StrCat("bash '", srcdir, "/", workspace, "/tools/gen_certs.sh' '",
                     dir, "' n1 n2");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  return dir;
}

// A node's port: TLS with n1's certificate; with `client_ca`, it requires a
// client certificate signed by it.
std::shared_ptr<grpc::ServerCredentials> NodeTls(const std::string& dir,
                                                 bool require_client_cert) {
  grpc::SslServerCredentialsOptions options(
      require_client_cert
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (require_client_cert)
    options.pem_root_certs = ReadTestFile(dir + "/ca.pem");
  options.pem_key_cert_pairs.push_back(
      {ReadTestFile(dir + "/n1.key"), ReadTestFile(dir + "/n1.pem")});
  return grpc::SslServerCredentials(options);
}

// tc's options for TLS, trusting the CA of `dir`, with its test token.
ClientOptions TlsOptions(TestCluster& tc, const std::string& dir) {
  ClientOptions options = tc.Options();
  options.insecure = false;
  options.deadline = absl::Seconds(1);
  absl::StatusOr<ClientOptions> loaded =
      LoadTlsFiles(options, dir + "/ca.pem", "", "", dir + "/token.test");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *std::move(loaded) : options;
}

TEST(ClientTlsTest, ClientTrustsNodeCa_UnaryAndStreamCallsSucceed) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = TlsOptions(tc, dir);
  const std::string bearer = "Bearer " + ReadTestFile(dir + "/token.test");

  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<SessionData> unary = client->Get(kNs, TestId(1));
  options.stream_gets = true;
  std::unique_ptr<Client> streaming = tc.Connect(options);
  ASSERT_NE(streaming, nullptr);
  absl::StatusOr<SessionData> streamed = streaming->Get(kNs, TestId(2));

  ASSERT_TRUE(unary.ok()) << unary.status();
  EXPECT_EQ(unary->id, TestId(1));
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(streamed->id, TestId(2));
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 1);
  EXPECT_EQ(tc.node(0).unary_authorizations(),
            std::vector<std::string>(3, bearer));
  EXPECT_EQ(tc.node(0).stream_authorizations(),
            std::vector<std::string>{bearer});
}

TEST(ClientTlsTest, InsecureClient_Unavailable) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = tc.Options();
  options.deadline = absl::Seconds(1);

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTlsTest, NodeOfAnotherCa_Unavailable) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions options = TlsOptions(tc, CertsDir("tls-other"));

  EXPECT_EQ(Client::Connect(options).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
}

TEST(ClientTlsTest, ServerName_CheckedInsteadOfHost) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/false));
  ClientOptions named_n1 = TlsOptions(tc, dir);
  named_n1.tls_server_name = "n1";  // a name in n1's certificate
  ClientOptions named_n2 = TlsOptions(tc, dir);
  named_n2.tls_server_name = "n2";  // not in it

  std::unique_ptr<Client> client = tc.Connect(named_n1);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get(kNs, TestId(1)).ok());
  EXPECT_EQ(Client::Connect(named_n2).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
}

TEST(ClientTlsTest, NodeRequiresClientCert_OnlyClientWithCertConnects) {
  const std::string dir = CertsDir("tls");
  TestCluster tc(1, 1, NodeTls(dir, /*require_client_cert=*/true));
  ClientOptions without = TlsOptions(tc, dir);
  absl::StatusOr<ClientOptions> with =
      LoadTlsFiles(without, "", dir + "/client.pem", dir + "/client.key", "");
  ASSERT_TRUE(with.ok()) << with.status();

  EXPECT_EQ(Client::Connect(without).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).topologies.load(), 0);
  std::unique_ptr<Client> client = tc.Connect(*with);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get(kNs, TestId(1)).ok());
  EXPECT_EQ(tc.node(0).topologies.load(), 1);
}

}  // namespace
}  // namespace sesh

// sesh-webapp: the example web app (README.md here) over cpp-httplib. HTTPS
// with --https_cert/--https_key; plain HTTP only on a loopback address,
// where browsers still accept Secure cookies.

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/sesh/client.h"
#include "client/sesh/signed_value.h"
#include "examples/webapp/app.h"
#include "httplib.h"
#include "replication/session_id.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080",
          "host:port to serve on; port 0 picks a free one (default "
          "127.0.0.1:8080).");
ABSL_FLAG(std::string, port_file, "",
          "Written with the bound port once serving (default none).");
ABSL_FLAG(std::string, https_cert, "",
          "PEM certificate: serve HTTPS (default none: plain HTTP, loopback "
          "only).");
ABSL_FLAG(std::string, https_key, "", "PEM key of --https_cert.");
ABSL_FLAG(std::string, sesh, "127.0.0.1:7701",
          "Sesh nodes to ask for the topology, comma-separated (default "
          "127.0.0.1:7701).");
ABSL_FLAG(std::string, tls_ca, "", "CA of the Sesh nodes (required).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the namespace token (required).");
ABSL_FLAG(std::string, namespace, "demo", "Sesh namespace (default demo).");
ABSL_FLAG(int64_t, idle_timeout_ms, 30 * 60 * 1000,
          "Sliding expiry of a signed-in session, ms (default 30 min).");
ABSL_FLAG(int64_t, absolute_ttl_ms, 8 * 3600 * 1000,
          "Absolute lifetime of a session, ms (default 8 h).");
ABSL_FLAG(int64_t, remember_s, 30 * 86400,
          "Max-Age of a \"remember me\" cookie, s, capped by the session's "
          "absolute deadline (default 30 days).");
ABSL_FLAG(std::string, prefs_keys_file, "",
          "Keys of the signed preferences cookie, one per line (at least 32 "
          "characters), the signing key first (default: a random key per "
          "process, so preferences reset on restart).");
ABSL_FLAG(int64_t, sesh_deadline_ms, 3000,
          "Deadline of each Sesh call, retries included, ms (default 3000).");

namespace sesh {
namespace webapp {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "sesh-webapp: %s\n", what.c_str());
  return 1;
}

bool Loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

absl::StatusOr<std::vector<std::string>> ReadKeys(const std::string& path) {
  if (path.empty()) return std::vector<std::string>{NewRawId()};
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError("cannot read " + path);
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    const absl::string_view key = absl::StripAsciiWhitespace(line);
    if (!key.empty()) keys.emplace_back(key);
  }
  return keys;
}

Request ToRequest(const httplib::Request& in) {
  Request req;
  req.method = in.method;
  req.path = in.path;
  req.cookie_header = in.get_header_value("Cookie");
  req.user_agent = in.get_header_value("User-Agent");
  for (const auto& [k, v] : in.params) req.params.emplace(k, v);
  return req;
}

void Send(const Response& r, httplib::Response& out) {
  out.status = r.status;
  for (const std::string& c : r.set_cookies) out.set_header("Set-Cookie", c);
  if (!r.location.empty()) out.set_header("Location", r.location);
  out.set_header("Cache-Control", "no-store");
  out.set_header("X-Content-Type-Options", "nosniff");
  out.set_header("Referrer-Policy", "same-origin");
  out.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; "
                 "form-action 'self'; frame-ancestors 'none'");
  out.set_content(r.body, "text/html; charset=utf-8");
}

int Run() {
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return Fail("--listen must be host:port");
  }
  const std::string host = listen.substr(0, colon);
  const std::string cert = absl::GetFlag(FLAGS_https_cert);
  const std::string key = absl::GetFlag(FLAGS_https_key);
  if (cert.empty() != key.empty()) {
    return Fail("--https_cert and --https_key go together");
  }
  if (cert.empty() && !Loopback(host)) {
    return Fail("plain HTTP only on a loopback address: pass --https_cert");
  }

  ClientOptions options;
  options.seeds = absl::StrSplit(absl::GetFlag(FLAGS_sesh), ',',
                                 absl::SkipWhitespace());
  options.deadline = absl::Milliseconds(absl::GetFlag(FLAGS_sesh_deadline_ms));
  absl::StatusOr<ClientOptions> loaded =
      LoadTlsFiles(options, absl::GetFlag(FLAGS_tls_ca), "", "",
                   absl::GetFlag(FLAGS_token_file));
  if (!loaded.ok()) return Fail(loaded.status().ToString());
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*loaded);
  if (!client.ok()) return Fail(client.status().ToString());

  absl::StatusOr<std::vector<std::string>> keys =
      ReadKeys(absl::GetFlag(FLAGS_prefs_keys_file));
  if (!keys.ok()) return Fail(keys.status().ToString());
  absl::StatusOr<SignedValues> prefs = SignedValues::Create(*std::move(keys));
  if (!prefs.ok()) return Fail(prefs.status().ToString());

  AppOptions app_options;
  app_options.ns = absl::GetFlag(FLAGS_namespace);
  app_options.idle_timeout_ms = absl::GetFlag(FLAGS_idle_timeout_ms);
  app_options.absolute_ttl_ms = absl::GetFlag(FLAGS_absolute_ttl_ms);
  app_options.remember_seconds = absl::GetFlag(FLAGS_remember_s);
  const App app(client->get(), *std::move(prefs), app_options);

  std::unique_ptr<httplib::Server> server;
  if (cert.empty()) {
    server = std::make_unique<httplib::Server>();
  } else {
    server = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
  }
  if (!server->is_valid()) return Fail("cannot load --https_cert/--https_key");
  server->set_payload_max_length(64 * 1024);
  auto handler = [&app](const httplib::Request& in, httplib::Response& out) {
    Send(app.Handle(ToRequest(in)), out);
  };
  server->Get(".*", handler);
  server->Post(".*", handler);

  const int bound = port == 0 ? server->bind_to_any_port(host)
                              : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Fail("cannot listen on " + listen);

  // SIGTERM and SIGINT stop the server; blocked here, waited for below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread serve([&server] { server->listen_after_bind(); });

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << bound << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::fprintf(stderr, "sesh-webapp: serving %s://%s:%d/\n",
               cert.empty() ? "http" : "https",
               host == "127.0.0.1" && cert.empty() ? "localhost" : host.c_str(),
               bound);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server->stop();
  serve.join();
  return 0;
}

}  // namespace
}  // namespace webapp
}  // namespace sesh

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return sesh::webapp::Run();
}

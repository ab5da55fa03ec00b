// lag_probe: measures replication lag on a running cluster. It writes a
// probe attribute at durability ONE (acknowledged after the coordinator's own
// write) and polls every replica's own copy over the peer protocol until the
// write is there; the time from the acknowledgement to the last replica
// having it is one sample. Run it while sesh-load puts the cluster under load
// to get the lag under load.
//
//   lag_probe --addr=127.0.0.1:7801,127.0.0.1:7802 --samples=100
//     --peers=n1=127.0.0.1:7801/127.0.0.1:7901,n2=...
//     --tls_ca=certs/ca.pem --tls_cert=certs/n1.pem --tls_key=certs/n1.key
//     --token_file=certs/token.admin
//
// The peer port admits only member nodes (mutual TLS), so the probe presents
// a node's certificate (--tls_cert, --tls_key), and checks each node's
// certificate against the node's id. The same certificate serves as the
// client certificate on the client port.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/sesh/client.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/internal/peer.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7701", "Comma-separated seeds.");
ABSL_FLAG(std::string, peers, "",
          "The nodes' --peers list, id=client_host:port/peer_host:port,...: "
          "where each node's peer port is. Default none: the peer service is "
          "on the client port (nodes without a peer port).");
ABSL_FLAG(std::string, session_namespace, "lag-probe",
          "Namespace of the probe session; --token_file's token must grant "
          "it. Default lag-probe.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the cluster CA (the nodes' certificates); required "
          "unless --insecure. Default none.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of a node's certificate, presented on the peer port (and "
          "as the client certificate on the client port); required unless "
          "--insecure. Default none.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the private key of --tls_cert. Default none.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Client port: name to check in every node's certificate instead of "
          "the host of its address (the peer port checks the node id). "
          "Default none (the host).");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is a token granting --session_namespace. "
          "Default none.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext on both ports, for nodes run with --insecure. Default "
          "false.");
ABSL_FLAG(int, samples, 100, "Probe writes to make.");
ABSL_FLAG(int, interval_ms, 50, "Pause between probes, in milliseconds.");
ABSL_FLAG(int, timeout_ms, 5000,
          "Give up on a sample after this many milliseconds.");
ABSL_FLAG(std::string, json_out, "", "Write the summary as JSON here.");

namespace sesh {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Node id -> peer address, from a --peers list; an entry without a peer
// address names the client port.
absl::StatusOr<std::map<std::string, std::string>> ParsePeerAddresses(
    absl::string_view spec) {
  std::map<std::string, std::string> peers;
  for (absl::string_view entry :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> id_ports =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    std::pair<absl::string_view, absl::string_view> ports =
        absl::StrSplit(id_ports.second, absl::MaxSplits('/', 1));
    const absl::string_view peer =
        ports.second.empty() ? ports.first : ports.second;
    if (id_ports.first.empty() || peer.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peers entry '", entry, "' is not id=host:port/host:port"));
    }
    peers[std::string(id_ports.first)] = std::string(peer);
  }
  return peers;
}

// A channel to node `node_id`'s peer port.
std::shared_ptr<grpc::Channel> PeerChannel(const ClientOptions& tls,
                                           const std::string& node_id,
                                           const std::string& address) {
  if (tls.insecure) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.tls_ca_pem;
  ssl.pem_cert_chain = tls.tls_cert_pem;
  ssl.pem_private_key = tls.tls_key_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(node_id);  // node certificates name the id
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

int Fail(const absl::Status& status) {
  fprintf(stderr, "lag_probe: %s\n", status.ToString().c_str());
  return 1;
}

int Run() {
  ClientOptions options;
  options.seeds = absl::StrSplit(absl::GetFlag(FLAGS_addr), ',');
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (!options.insecure && (absl::GetFlag(FLAGS_tls_ca).empty() ||
                            absl::GetFlag(FLAGS_tls_cert).empty() ||
                            absl::GetFlag(FLAGS_tls_key).empty())) {
    return Fail(absl::InvalidArgumentError(
        "--tls_ca, --tls_cert and --tls_key (a node's certificate) are "
        "required, or --insecure for nodes run with --insecure"));
  }
  absl::StatusOr<ClientOptions> loaded =
      LoadTlsFiles(std::move(options), absl::GetFlag(FLAGS_tls_ca),
                   absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                   absl::GetFlag(FLAGS_token_file));
  if (!loaded.ok()) return Fail(loaded.status());
  absl::StatusOr<std::map<std::string, std::string>> peer_addresses =
      ParsePeerAddresses(absl::GetFlag(FLAGS_peers));
  if (!peer_addresses.ok()) return Fail(peer_addresses.status());
  auto client = Client::Connect(*loaded);
  if (!client.ok()) return Fail(client.status());
  auto topology = (*client)->Topology();
  if (!topology.ok()) return Fail(topology.status());
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<internal::Peer::Stub>> peers;
  for (const NodeInfo& node : topology->nodes) {
    ids.push_back(node.id);
    auto it = peer_addresses->find(node.id);
    const std::string& address =
        it != peer_addresses->end() ? it->second : node.address;
    peers.push_back(
        internal::Peer::NewStub(PeerChannel(*loaded, node.id, address)));
  }
  auto placement = PlacementMap::Build(ids, topology->replication_factor);
  if (!placement.ok()) return Fail(placement.status());

  const std::string ns = absl::GetFlag(FLAGS_session_namespace);
  CreateOptions create;
  create.idle_timeout_ms = 3600 * 1000;
  create.durability = Durability::kAll;
  auto session = (*client)->Create(ns, create);
  if (!session.ok()) return Fail(session.status());
  const std::string raw = *DecodeId(session->id);
  const auto replicas = placement->Replicas(PartitionOf(raw));

  std::vector<double> lags_ms;
  int timeouts = 0;
  absl::Status last_read_error;
  for (int i = 0; i < absl::GetFlag(FLAGS_samples); ++i) {
    const std::string value = absl::StrCat(i);
    UpdateOptions update;
    update.set["probe"] = value;
    update.durability = Durability::kOne;
    if (!(*client)->Update(ns, session->id, update).ok()) continue;
    const int64_t acked = NowUs();
    std::vector<bool> seen(replicas.size(), false);
    size_t remaining = replicas.size();
    while (remaining > 0 &&
           NowUs() - acked < absl::GetFlag(FLAGS_timeout_ms) * 1000) {
      for (size_t r = 0; r < replicas.size(); ++r) {
        if (seen[r]) continue;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(1));
        internal::ReadRequest request;
        request.add_ids(raw);
        internal::ReadResponse response;
        grpc::Status read = peers[replicas[r]]->Read(&ctx, request, &response);
        if (!read.ok()) {
          last_read_error =
              absl::Status(static_cast<absl::StatusCode>(read.error_code()),
                           absl::StrCat("peer Read on ", ids[replicas[r]], ": ",
                                        read.error_message()));
          continue;
        }
        if (response.records_size() == 1) {
          auto it = response.records(0).attributes().find("probe");
          if (it != response.records(0).attributes().end() &&
              it->second.value() == value) {
            seen[r] = true;
            --remaining;
          }
        }
      }
      if (remaining > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (remaining > 0) {
      ++timeouts;
    } else {
      lags_ms.push_back((NowUs() - acked) / 1000.0);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(absl::GetFlag(FLAGS_interval_ms)));
  }
  if (!last_read_error.ok()) {
    fprintf(stderr, "lag_probe: last failed peer read: %s\n",
            last_read_error.ToString().c_str());
  }
  std::sort(lags_ms.begin(), lags_ms.end());
  auto pct = [&](double p) {
    if (lags_ms.empty()) return 0.0;
    size_t i =
        std::min(lags_ms.size() - 1, static_cast<size_t>(p * lags_ms.size()));
    return lags_ms[i];
  };
  std::string json =
      absl::StrCat("{\"samples\":", lags_ms.size(), ",\"timeouts\":", timeouts,
                   ",\"p50_ms\":", pct(0.5), ",\"p90_ms\":", pct(0.9),
                   ",\"p99_ms\":", pct(0.99),
                   ",\"max_ms\":", lags_ms.empty() ? 0.0 : lags_ms.back(), "}");
  printf("%s\n", json.c_str());
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    FILE* f = fopen(absl::GetFlag(FLAGS_json_out).c_str(), "w");
    if (f != nullptr) {
      fprintf(f, "%s\n", json.c_str());
      fclose(f);
    }
  }
  (*client)->Destroy(ns, session->id).IgnoreError();
  return 0;
}

}  // namespace
}  // namespace sesh

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return sesh::Run();
}

// lag_probe: measures replication lag on a running cluster. It writes a
// probe attribute at durability ONE (acknowledged after the coordinator's own
// write) and polls every replica's own copy over the peer protocol until the
// write is there; the time from the acknowledgement to the last replica
// having it is one sample. Run it while sesh-load puts the cluster under load
// to get the lag under load.
//
//   lag_probe --addr=127.0.0.1:7801,127.0.0.1:7802 --samples=100

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/sesh/client.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/internal/peer.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7701", "Comma-separated seeds.");
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

int Run() {
  ClientOptions options;
  options.seeds = absl::StrSplit(absl::GetFlag(FLAGS_addr), ',');
  auto client = Client::Connect(options);
  if (!client.ok()) {
    fprintf(stderr, "lag_probe: %s\n", client.status().ToString().c_str());
    return 1;
  }
  auto topology = (*client)->Topology();
  if (!topology.ok()) return 1;
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<internal::Peer::Stub>> peers;
  for (const NodeInfo& node : topology->nodes) {
    ids.push_back(node.id);
    peers.push_back(internal::Peer::NewStub(grpc::CreateChannel(
        node.address, grpc::InsecureChannelCredentials())));
  }
  auto placement = PlacementMap::Build(ids, topology->replication_factor);
  if (!placement.ok()) return 1;

  CreateOptions create;
  create.idle_timeout_ms = 3600 * 1000;
  create.durability = Durability::kAll;
  auto session = (*client)->Create("lag-probe", create);
  if (!session.ok()) return 1;
  const std::string raw = *DecodeId(session->id);
  const auto replicas = placement->Replicas(PartitionOf(raw));

  std::vector<double> lags_ms;
  int timeouts = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_samples); ++i) {
    const std::string value = absl::StrCat(i);
    UpdateOptions update;
    update.set["probe"] = value;
    update.durability = Durability::kOne;
    if (!(*client)->Update("lag-probe", session->id, update).ok()) continue;
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
        if (!peers[replicas[r]]->Read(&ctx, request, &response).ok()) continue;
        if (response.records_size() == 1) {
          auto it = response.records(0).attributes().find("probe");
          if (it != response.records(0).attributes().end() &&
              it->second.value() == value) {
            seen[r] = true;
            --remaining;
          }
        }
      }
      if (remaining > 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (remaining > 0) {
      ++timeouts;
    } else {
      lags_ms.push_back((NowUs() - acked) / 1000.0);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(absl::GetFlag(FLAGS_interval_ms)));
  }
  std::sort(lags_ms.begin(), lags_ms.end());
  auto pct = [&](double p) {
    if (lags_ms.empty()) return 0.0;
    size_t i = std::min(lags_ms.size() - 1,
                        static_cast<size_t>(p * lags_ms.size()));
    return lags_ms[i];
  };
  std::string json = absl::StrCat(
      "{\"samples\":", lags_ms.size(), ",\"timeouts\":", timeouts,
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
  (*client)->Destroy("lag-probe", session->id).IgnoreError();
  return 0;
}

}  // namespace
}  // namespace sesh

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return sesh::Run();
}

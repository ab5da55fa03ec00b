#include "replication/membership.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sesh {

absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view spec) {
  std::vector<PeerSpec> peers;
  std::set<std::string> seen;
  for (absl::string_view entry :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    std::pair<std::string, std::string> ports =
        absl::StrSplit(parts.second, absl::MaxSplits('/', 1));
    const bool has_peer_port = parts.second.find('/') != std::string::npos;
    if (parts.first.empty() || ports.first.find(':') == std::string::npos ||
        (has_peer_port && ports.second.find(':') == std::string::npos)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peers entry '", entry, "' is not id=host:port/host:port"));
    }
    if (!seen.insert(parts.first).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers names node '", parts.first, "' twice"));
    }
    peers.push_back({parts.first, ports.first, ports.second});
  }
  if (peers.empty()) return absl::InvalidArgumentError("--peers is empty");
  return peers;
}

}  // namespace sesh

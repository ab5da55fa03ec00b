// sesh-health: asks a node's plaintext health listener (--health_listen) one
// grpc.health.v1 Check, for exec probes and scripts.
//
//   sesh-health --addr=127.0.0.1:7900 [--service=sesh.liveness]
//
// Exit status: 0 SERVING, 1 NOT_SERVING, 2 no answer (printed on stderr).

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "node/health_server.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7900",
          "host:port of the health listener. Default 127.0.0.1:7900.");
ABSL_FLAG(std::string, service, "",
          "Service to check: \"\" (readiness, the default) or sesh.liveness.");
ABSL_FLAG(int64_t, timeout_ms, 2000,
          "Deadline of the call in milliseconds. Default 2000.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Checks a sesh-node's plaintext health listener. See --helpfull.");
  absl::ParseCommandLine(argc, argv);
  const std::string service = absl::GetFlag(FLAGS_service);
  absl::StatusOr<bool> serving = sesh::CheckHealth(
      absl::GetFlag(FLAGS_addr), service,
      absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  if (!serving.ok()) {
    fprintf(stderr, "sesh-health: %s\n", serving.status().ToString().c_str());
    return 2;
  }
  printf("%s %s\n", service.empty() ? "\"\"" : service.c_str(),
         *serving ? "SERVING" : "NOT_SERVING");
  return *serving ? 0 : 1;
}

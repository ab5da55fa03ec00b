// sesh-load's Redis target: each caller owns one RESP connection, driven
// without blocking by its driver's epoll; writes are optionally followed by
// WAIT (--redis_wait_replicas). See sesh_load.cc.
#ifndef SESH_BENCH_REDIS_DRIVER_H_
#define SESH_BENCH_REDIS_DRIVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/load_driver.h"

namespace sesh {
namespace load {

// The flags the Redis target reads (sesh_load.cc), under the flags' names.
struct RedisFlags {
  int preload_inflight = 128;
  int64_t idle_timeout_s = 1800;
  int redis_wait_replicas = 0;
  int64_t redis_wait_timeout_ms = 2000;
};

// A target driving the Redis server at `addr` (host:port).
absl::StatusOr<std::unique_ptr<Target>> CreateRedisTarget(
    const RedisFlags& flags, const std::string& addr, int value_bytes);

}  // namespace load
}  // namespace sesh

#endif  // SESH_BENCH_REDIS_DRIVER_H_

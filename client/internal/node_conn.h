// One channel to one node address, shared by every call to it, with what the
// client keeps per node: whether the node is suspect, its Get and write
// coalescers, and its StreamGet and StreamWrite calls.

#ifndef SESH_CLIENT_INTERNAL_NODE_CONN_H_
#define SESH_CLIENT_INTERNAL_NODE_CONN_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/pending_get.h"
#include "client/internal/pending_write.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace client_internal {

template <typename Request, typename Response>
class BatchStream;  // batch_stream.h
using GetStream = BatchStream<v1::BatchGetRequest, v1::BatchGetResponse>;
using WriteStream = BatchStream<v1::WriteBatchRequest, v1::WriteBatchResponse>;

// A node's open streaming call of one kind: null until the first batch, and
// again once it has ended.
template <typename Stream>
struct StreamSlot {
  // The open call, or null.
  std::shared_ptr<Stream> Current() {
    absl::MutexLock lock(&mu);
    return stream;
  }

  absl::Mutex mu;
  std::shared_ptr<Stream> stream ABSL_GUARDED_BY(mu);
  // The node answered the call with UNIMPLEMENTED (an older version).
  std::atomic<bool> unsupported{false};
};

// How a client's channels are made and its calls authorized: the same for
// every node. Immutable once shared.
struct ChannelConfig {
  // TLS credentials (plaintext only for nodes run with --insecure).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Non-empty: the name checked in each node's certificate instead of the
  // host of its address.
  std::string server_name;
  // Value of the `authorization` metadata of every call ("Bearer <token>");
  // empty: none. A credential: never logged.
  std::string authorization;
};

// Thread-safe as annotated; the address, config, channel and stubs are
// constant.
struct NodeConn {
  // How long a node that failed in transport is tried last.
  static constexpr absl::Duration kSuspectFor = absl::Seconds(1);

  NodeConn(std::string addr, std::shared_ptr<const ChannelConfig> config);

  static grpc::ChannelArguments ChannelArgs(const ChannelConfig& config);

  // Readies the context of a call to this node before the call starts: every
  // call's context goes through here (it carries the token).
  void PrepareContext(grpc::ClientContext* ctx) const;

  bool Suspect(absl::Time now) const {
    return absl::ToUnixNanos(now) <
           suspect_until_ns.load(std::memory_order_relaxed);
  }
  void MarkSuspect(absl::Time now) {
    suspect_until_ns.store(absl::ToUnixNanos(now + kSuspectFor),
                           std::memory_order_relaxed);
  }

  const std::string address;
  const std::shared_ptr<const ChannelConfig> config;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<v1::Sessions::Stub> sessions;
  const std::unique_ptr<v1::Cluster::Stub> cluster;
  // Set right after construction, before the NodeConn is shared; null when
  // coalescing (of Gets; of writes) is off.
  std::unique_ptr<PendingGetCoalescer> coalescer;
  std::unique_ptr<PendingWriteCoalescer> write_coalescer;
  std::atomic<int64_t> suspect_until_ns{0};
  // The StreamGet call carrying coalesced Gets (ClientOptions::stream_gets),
  // and the StreamWrite call carrying coalesced writes
  // (ClientOptions::stream_writes).
  StreamSlot<GetStream> get_stream;
  StreamSlot<WriteStream> write_stream;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_NODE_CONN_H_

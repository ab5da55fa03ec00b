#ifndef SESH_NODE_BATCH_STREAMS_H_
#define SESH_NODE_BATCH_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/call_auth.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {

// The open calls of one streaming Sessions method whose every request
// message gets one response message (StreamGet, StreamWrite). Each call
// reads a request, serves it, writes its response, then reads the next, so
// responses leave in request order. Messages arrive as bytes so that one
// that does not parse ends the call with INVALID_ARGUMENT, not with OK and
// its request unanswered. Each message's namespace is authorized like a
// unary call's; a refusal ends the call with it. Calls idle past a limit
// are ended (EndIdle). Thread-safe.
//
// Instantiated in batch_streams.cc for the pairs aliased below.
template <typename Request, typename Response>
class BatchStreams {
 public:
  using Done = std::function<void(grpc::Status)>;
  // Serves one message; `request` and `response` stay valid until done
  // runs, which may be before Serve returns. An error ends the call with it.
  using Serve = std::function<void(const Request&, Response*, Done)>;

  // `method` names the call in error messages. `auth` outlives this object;
  // `epoch` is the membership epoch each response carries.
  BatchStreams(std::string method, const CallAuth* auth, Serve serve,
               std::function<uint64_t()> epoch)
      : method_(std::move(method)),
        auth_(auth),
        serve_(std::move(serve)),
        epoch_(std::move(epoch)) {}

  // A new call's reactor, already reading; owned here until gRPC is done
  // with it.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Open(
      grpc::CallbackServerContext* ctx);

  // Ends (UNAVAILABLE) every call that has waited for a request longer
  // than `timeout`.
  void EndIdle(absl::Duration timeout);

  // For a node that is stopping: ends (UNAVAILABLE) every call between
  // messages now, every other once its message is answered, and every new
  // one at once. The client retries elsewhere instead of waiting for the
  // server's shutdown deadline.
  void Drain();

 private:
  class Stream;
  void Forget(Stream* stream);

  // Constant after construction.
  const std::string method_;
  const CallAuth* const auth_;
  const Serve serve_;
  const std::function<uint64_t()> epoch_;

  std::atomic<bool> draining_{false};
  absl::Mutex mu_;
  std::map<Stream*, std::shared_ptr<Stream>> open_ ABSL_GUARDED_BY(mu_);
};

extern template class BatchStreams<v1::BatchGetRequest, v1::BatchGetResponse>;
extern template class BatchStreams<v1::WriteBatchRequest,
                                   v1::WriteBatchResponse>;

using GetStreams = BatchStreams<v1::BatchGetRequest, v1::BatchGetResponse>;
using WriteStreams =
    BatchStreams<v1::WriteBatchRequest, v1::WriteBatchResponse>;

}  // namespace sesh

#endif  // SESH_NODE_BATCH_STREAMS_H_

#ifndef SESH_NODE_GET_STREAMS_H_
#define SESH_NODE_GET_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/call_auth.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {

// The open StreamGet calls of one Sessions service. Each call reads a
// request, serves it, writes its response, then reads the next, so
// responses leave in request order. Messages arrive as bytes so that one
// that does not parse ends the call with INVALID_ARGUMENT, not with OK and
// its ids unanswered. Each message's namespace is authorized like a unary
// call's. Calls idle past a limit are ended (EndIdle). Thread-safe.
class GetStreams {
 public:
  using Done = std::function<void(grpc::Status)>;
  // Serves one message (BatchGet's work); done may run before it returns.
  using Serve = std::function<void(const v1::BatchGetRequest&,
                                   v1::BatchGetResponse*, Done)>;

  // `auth` outlives this object; `epoch` is the membership epoch each
  // response carries.
  GetStreams(const CallAuth* auth, Serve serve,
             std::function<uint64_t()> epoch)
      : auth_(auth), serve_(std::move(serve)), epoch_(std::move(epoch)) {}

  // A new call's reactor, already reading; owned here until gRPC is done
  // with it.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Open(
      grpc::CallbackServerContext* ctx);

  // Ends (UNAVAILABLE) every call that has waited for a request longer
  // than `timeout`.
  void EndIdle(absl::Duration timeout);

 private:
  class Stream;
  void Forget(Stream* stream);

  const CallAuth* const auth_;
  const Serve serve_;
  const std::function<uint64_t()> epoch_;
  absl::Mutex mu_;
  std::map<Stream*, std::shared_ptr<Stream>> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_NODE_GET_STREAMS_H_

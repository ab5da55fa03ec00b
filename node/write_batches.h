#ifndef SESH_NODE_WRITE_BATCHES_H_
#define SESH_NODE_WRITE_BATCHES_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "sesh/v1/sessions.pb.h"

namespace sesh {

// The work of the unary write calls, as the Sessions service does it. Each
// answers through `done` with the status the unary call would finish with;
// the request and response stay valid until then.
struct WriteCalls {
  using Done = std::function<void(grpc::Status)>;
  template <typename Request, typename Response>
  using Call = std::function<void(const Request&, Response*, Done)>;

  Call<v1::CreateRequest, v1::CreateResponse> create;
  Call<v1::UpdateRequest, v1::UpdateResponse> update;
  Call<v1::DestroyRequest, v1::DestroyResponse> destroy;
  Call<v1::TouchRequest, v1::TouchResponse> touch;
};

// Serves one StreamWrite message: one result per op, in op order, each what
// the op's unary call answered (the oneof response set only on OK). An op
// with no kind, or whose namespace is not the message's, gets
// INVALID_ARGUMENT and reaches no call. The ops run concurrently, so two
// ops of one message on the same session are applied in either order.
// `done` gets OK once every op has answered (at once for no ops); `request`
// and `response` must stay valid until then.
void ServeWriteBatch(const WriteCalls& calls,
                     const v1::WriteBatchRequest& request,
                     v1::WriteBatchResponse* response, WriteCalls::Done done);

}  // namespace sesh

#endif  // SESH_NODE_WRITE_BATCHES_H_

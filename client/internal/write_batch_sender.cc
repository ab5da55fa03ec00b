#include "client/internal/write_batch_sender.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/internal/batch_stream.h"
#include "client/internal/grpc_status.h"

namespace sesh {
namespace client_internal {

void WriteBatchSender::Send(NodeConn* node, PendingWriteBatch batch) const {
  ops_->Hold();  // the batch's writes are calls in flight
  auto writes = std::make_shared<std::vector<std::unique_ptr<PendingWrite>>>(
      std::move(batch.gets));
  v1::WriteBatchRequest request;
  request.set_namespace_(std::move(batch.ns));
  absl::Time deadline = absl::InfiniteFuture();
  for (const auto& write : *writes) {
    deadline = std::min(deadline, write->deadline);
    *request.add_ops() = std::move(write->op);
  }
  auto finish = [this, node, writes](AttemptResult result,
                                     v1::WriteBatchResponse* resp) {
    if (result.status.code() == absl::StatusCode::kUnimplemented) {
      // A node that predates StreamWrite applied nothing of it.
      for (const auto& write : *writes) write->send_unary();
    } else {
      if (result.status.ok() &&
          resp->results_size() != static_cast<int>(writes->size())) {
        result.status = absl::InternalError(absl::StrCat(
            "StreamWrite of ", writes->size(), " ops to node ", node->address,
            " returned ", resp->results_size(), " results"));
      }
      for (size_t i = 0; i < writes->size(); ++i) {
        if (!result.status.ok()) {
          (*writes)[i]->done(result, nullptr);
          continue;
        }
        v1::WriteResult* r = resp->mutable_results(static_cast<int>(i));
        AttemptResult op;
        op.node_answered = true;
        if (r->code() != 0) op.status = FromRpcCode(r->code(), r->message());
        (*writes)[i]->done(std::move(op), r);
      }
    }
    node->write_coalescer->BatchDone();
    ops_->End();
  };
  if (!SendOnStream<v1::WriteBatchRequest, v1::WriteBatchResponse>(
          node, &node->write_stream, &v1::Sessions::Stub::PrepareAsyncStreamWrite,
          runner_, ops_, std::move(request), deadline, finish)) {
    // Known not to serve StreamWrite: not inline, as on a stream.
    runner_->scheduler()->RunAt(absl::InfinitePast(), [finish] {
      AttemptResult unimplemented;
      unimplemented.status = absl::UnimplementedError("no StreamWrite");
      finish(std::move(unimplemented), nullptr);
    });
  }
}

}  // namespace client_internal
}  // namespace sesh

#include "node/write_batches.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "replication/join.h"

namespace sesh {
namespace {

grpc::Status Invalid(const char* message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

absl::string_view NamespaceOf(const v1::WriteOp& op) {
  switch (op.op_case()) {
    case v1::WriteOp::kCreate:
      return op.create().namespace_();
    case v1::WriteOp::kUpdate:
      return op.update().namespace_();
    case v1::WriteOp::kDestroy:
      return op.destroy().namespace_();
    case v1::WriteOp::kTouch:
      return op.touch().namespace_();
    case v1::WriteOp::OP_NOT_SET:
      break;
  }
  return "";
}

}  // namespace

void ServeWriteBatch(const WriteCalls& calls,
                     const v1::WriteBatchRequest& request,
                     v1::WriteBatchResponse* response, WriteCalls::Done done) {
  const int n = request.ops_size();
  // Every result exists before any op runs: the pointers the ops answer
  // into stay valid.
  for (int i = 0; i < n; ++i) response->add_results();
  if (n == 0) {
    done(grpc::Status::OK);
    return;
  }
  auto join = std::make_shared<Join<grpc::Status>>(
      n, [done = std::move(done)](grpc::Status) { done(grpc::Status::OK); });
  for (int i = 0; i < n; ++i) {
    const v1::WriteOp& op = request.ops(i);
    v1::WriteResult* result = response->mutable_results(i);
    WriteCalls::Done answer = [join, result](grpc::Status s) {
      result->set_code(static_cast<int>(s.error_code()));
      result->set_message(s.error_message());
      if (!s.ok()) result->clear_result();
      join->Arrive(grpc::Status::OK);
    };
    if (op.op_case() == v1::WriteOp::OP_NOT_SET) {
      answer(Invalid("a WriteOp needs one of create, update, destroy, touch"));
      continue;
    }
    if (NamespaceOf(op) != request.namespace_()) {
      answer(Invalid("a WriteOp's namespace must be its message's"));
      continue;
    }
    switch (op.op_case()) {
      case v1::WriteOp::kCreate:
        calls.create(op.create(), result->mutable_create(), std::move(answer));
        break;
      case v1::WriteOp::kUpdate:
        calls.update(op.update(), result->mutable_update(), std::move(answer));
        break;
      case v1::WriteOp::kDestroy:
        calls.destroy(op.destroy(), result->mutable_destroy(),
                      std::move(answer));
        break;
      case v1::WriteOp::kTouch:
        calls.touch(op.touch(), result->mutable_touch(), std::move(answer));
        break;
      case v1::WriteOp::OP_NOT_SET:
        break;
    }
  }
}

}  // namespace sesh

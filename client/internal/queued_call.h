// Completion-queue plumbing: every RPC of the client completes on the
// client's own completion queue, run by its one queue thread, instead of
// through gRPC's callback API. The callback API polls with two threads per
// process that hand each event to one another (epoll1 has one poller at a
// time): on the 2-core benchmark machine that cost about six context switches
// per message in the client. With one thread polling, a message wakes it
// once, and a batch launched from an answer's reply (most of them, under
// load) leaves from that thread too.

#ifndef SESH_CLIENT_INTERNAL_QUEUED_CALL_H_
#define SESH_CLIENT_INTERNAL_QUEUED_CALL_H_

#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <utility>

namespace sesh {
namespace client_internal {

// What every tag on the queue points to.
struct QueueTag {
  virtual ~QueueTag() = default;
  // Queue thread only.
  virtual void Run(bool ok) = 0;
};

// RunQueue casts every tag back to QueueTag*: tags are passed as exactly
// that pointer, whatever the derived type.
inline void* AsTag(QueueTag* tag) { return tag; }

// The queue thread's loop: runs each completion until the queue has been
// shut down and drained.
inline void RunQueue(grpc::CompletionQueue* queue) {
  void* tag;
  bool ok;
  while (queue->Next(&tag, &ok)) static_cast<QueueTag*>(tag)->Run(ok);
}

// A unary call on the queue (see CallOnQueue); deletes itself once `done` has
// run.
template <typename Resp>
class QueuedCall final : public QueueTag {
 public:
  QueuedCall(std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader,
             std::function<void(grpc::Status)> done)
      : done_(std::move(done)), reader_(std::move(reader)) {}

  // The last use of `this` by the caller: Run may delete it at once.
  void Start(Resp* response) {
    reader_->StartCall();
    reader_->Finish(response, &status_, AsTag(this));
  }

  void Run(bool /*ok: always true for Finish*/) override {
    done_(status_);
    delete this;
  }

 private:
  // done_ may hold the last reference to the call's ClientContext, and the
  // reader lives in that call's arena: the reader must go first, so it is
  // declared last.
  std::function<void(grpc::Status)> done_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader_;
};

// Starts a prepared unary call; `done` runs on the queue thread.
template <typename Resp>
void CallOnQueue(std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader,
                 Resp* response, std::function<void(grpc::Status)> done) {
  (new QueuedCall<Resp>(std::move(reader), std::move(done)))->Start(response);
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_QUEUED_CALL_H_

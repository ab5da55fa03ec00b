#ifndef SESH_REPLICATION_GRPC_PIN_H_
#define SESH_REPLICATION_GRPC_PIN_H_

namespace sesh {

// Keeps gRPC's shared callback completion queue alive for the life of the
// process. Call once before using the callback API (any number of calls is
// fine).
//
// Why: where gRPC's I/O manager does not run in the background (as with
// Debian's gRPC 1.51), callback calls complete on a shared "alternative"
// completion queue whose polling threads are created with its first user and
// joined when the last channel using it is destroyed. If that last channel
// reference is dropped inside a completion callback (an object that owned
// channels was destroyed while a call was still finishing), the polling
// thread tries to join itself and gRPC aborts with "assertion failed:
// prior > 0" (grpc/grpc#32584). A channel that is never destroyed and has
// made one callback call holds a reference forever, so the queue is never
// torn down from its own thread.
void PinCallbackCompletionQueue();

}  // namespace sesh

#endif  // SESH_REPLICATION_GRPC_PIN_H_

// The Sesh C++ client: a smart client that routes each call straight to the
// node that owns the session.
//
//   sesh::ClientOptions options;
//   options.seeds = {"sesh-0.sesh:7700", "sesh-1.sesh:7700"};
//   options.tls_ca_pem = ...;  // or LoadTlsFiles, below
//   options.token = ...;       // the namespace token
//   absl::StatusOr<std::unique_ptr<sesh::Client>> client =
//       sesh::Client::Connect(options);
//   if (!client.ok()) return client.status();
//   absl::StatusOr<sesh::SessionData> s = (*client)->Get("shop", cookie_id);
//
// Security. Every channel is TLS (ClientOptions::tls_*), and every call,
// StreamGet, Topology and NodeStats included, carries the namespace token as
// `authorization: Bearer <token>` metadata (docs/security.md). A node refuses
// a call without a known token (UNAUTHENTICATED) or with one that does not
// grant the call's namespace (PERMISSION_DENIED); these are not retried.
//
// Routing. The client caches the cluster topology (node ids, addresses,
// liveness, replication factor) and computes placement itself
// (replication/placement.h): calls on one session go to the primary of the
// session's partition, or to the next node of its preference list when the
// primary is marked down or unreachable. Create, ListByUser and DestroyByUser
// may go to any node; Creates are spread round-robin over the nodes that are
// up. A call that reaches a "wrong" node still succeeds (the node forwards it
// once), so a stale topology costs an extra hop, never a failure.
//
// Topology refresh. Every answer carries the answering node's membership
// epoch; when it differs from the cached one the client refetches the
// topology in the background (at most once per 100 ms) and routes by the new
// map as soon as it is installed. A node that is unreachable also triggers a
// refresh, so a node that the cluster marked down is avoided; while the
// cached topology has a node marked down, it is refetched every 5 s or so, so
// that the node is used again once it is back.
//
// Deadlines. ClientOptions::deadline bounds each public call as a whole,
// retries and backoff included (for BatchGet: each per-node part). A call
// that runs out of time fails with DEADLINE_EXCEEDED.
//
// Retries. A call is tried at most ClientOptions::max_attempts times, each
// attempt on the next node of its candidate list not tried yet: for a
// session, its preference list (primary first), then the other nodes (which
// forward); for other calls, all nodes. Within the list, nodes marked down or
// suspect go last.
//   - Retried on UNAVAILABLE and on DEADLINE_EXCEEDED of an attempt (not of
//     the whole call), with exponential backoff (initial_backoff doubling up
//     to max_backoff, with jitter, never past the deadline), because they are
//     idempotent or harmless to repeat:
//       Get, GetAsync, Touch, TouchAsync, BatchGet, ListByUser,
//       ListByUserPage, Destroy, DestroyAsync, DestroyByHandle,
//       DestroyByUser, DestroyOtherDevices, Topology, NodeStats.
//     To leave room for a failover, an attempt of these calls that is not
//     the last one gets at most deadline / max_attempts.
//   - Never re-sent once the request may have reached a server, because
//     repeating them is not harmless (a second Create mints a second
//     session, a repeated Update may apply twice or fail its version check,
//     a repeated Rotate fails with NOT_FOUND after the first one succeeded):
//       Create, CreateAsync, Update, UpdateAsync, Rotate.
//     Such a call gets the whole deadline in one attempt. It moves on to the
//     next candidate node only when the request provably never left this
//     process: the node's channel was in TRANSIENT_FAILURE before the call
//     (nothing is sent), or gRPC failed the call with UNAVAILABLE while
//     picking a connection ("failed to connect to all addresses": no
//     connection to the node could be established, so the call was never
//     written to one) and no trailing metadata came back (this holds for all
//     calls; such a retry has no backoff). Any other failure,
//     including UNAVAILABLE from a node (e.g. "too few replicas for the
//     durability") and a connection lost mid-call, is returned as is: the
//     write may or may not have been applied.
// A node whose connection fails (UNAVAILABLE, or an attempt timeout, without
// an answer from the node) is marked suspect for about 1 s: calls try it last.
//
// Errors. absl::StatusCode values equal the gRPC codes numerically; the
// node's codes and messages are passed through unchanged (see
// proto/sesh/v1/sessions.proto for each RPC): NOT_FOUND (absent, expired,
// destroyed, or of another namespace), INVALID_ARGUMENT, ABORTED (version
// mismatch), RESOURCE_EXHAUSTED (a limit), UNAVAILABLE (no node could be
// reached after the retries, or too few replicas for the durability),
// DEADLINE_EXCEEDED (ClientOptions::deadline passed), UNAUTHENTICATED /
// PERMISSION_DENIED. A malformed session id is rejected locally with
// INVALID_ARGUMENT, without any RPC.
//
// Thread safety. A Client is fully thread-safe: any number of threads may
// call any method concurrently. Callbacks of the *Async methods run on one of
// the client's two internal threads (the one that runs every RPC's
// completion, or the timer thread), never inside the *Async call itself;
// they must not block, must not call the Client's synchronous methods (a
// blocked internal thread would stall every other call), and must not
// destroy the Client. Destroying the Client waits for every call in flight
// to complete (each is bounded by its deadline), then joins the client's
// threads.

#ifndef SESH_CLIENT_SESH_CLIENT_H_
#define SESH_CLIENT_SESH_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sesh {

// A session as stored by Sesh. Times are Unix epoch milliseconds.
struct SessionData {
  // 43-character base64url id (the cookie value). Empty in ListByUser
  // results: ids are bearer credentials.
  std::string id;
  // The session's public handle: 22 characters derived from the id by a
  // one-way hash, useless as a cookie. Names the session in ListByUser
  // results, DestroyByHandle and DestroyOtherDevices ("your devices").
  std::string handle;
  // The session's namespace ("namespace" is a C++ keyword).
  std::string namespace_;
  // Empty for an anonymous session.
  std::string user_id;
  // Attribute values are arbitrary bytes.
  std::map<std::string, std::string> attributes;
  int64_t created_at_ms = 0;
  int64_t last_access_ms = 0;
  int64_t idle_timeout_ms = 0;
  // Hard cap; never extended.
  int64_t absolute_deadline_ms = 0;
  // min(last_access_ms + idle_timeout_ms, absolute_deadline_ms).
  int64_t expires_at_ms = 0;
  // Grows with every change; pass it as UpdateOptions::expected_version for
  // compare-and-set.
  uint64_t version = 0;
};

// How many replicas must hold a write before it is acknowledged.
enum class Durability {
  kDefault,  // the node's default (QUORUM unless configured otherwise)
  kOne,      // the coordinator's local write
  kQuorum,   // a majority of the replicas: survives any single node crash
  kAll,      // every replica
};

struct ClientOptions {
  // host:port of nodes to ask for the topology, tried in order by Connect
  // (and again whenever none of the known nodes answers). At least one.
  std::vector<std::string> seeds;
  // Bound on each public call, retries included. > 0.
  absl::Duration deadline = absl::Seconds(2);
  // Attempts per call, first one included (see "Retries" above). >= 1.
  int max_attempts = 3;
  // Backoff before the second attempt; doubles per attempt up to
  // max_backoff. Jittered to [50%, 100%] of the value.
  absl::Duration initial_backoff = absl::Milliseconds(10);
  absl::Duration max_backoff = absl::Milliseconds(200);
  // Merge concurrent Gets to the same node into batches. Per node, up to
  // max_batches_in_flight_per_node batches (StreamGet messages, or
  // Get/BatchGet RPCs without stream_gets) are in flight; while they are all
  // busy further Gets queue, and leave with the next completion (up to
  // max_batch ids per batch) or when overdue (max_batch_wait), whichever
  // comes first.
  // An unloaded client therefore sends each Get at once, as a batch of one.
  // Applies to Get and GetAsync, not to BatchGet.
  bool coalesce_gets = true;
  // Ids per BatchGet RPC, also for BatchGet() (keep <= the nodes'
  // --max_batch). >= 1.
  int max_batch = 64;
  // How long a queued Get waits for a free slot before it is sent anyway,
  // in a batch of its own: the larger of this and twice the node's recent
  // batch round trip (smoothed), so that a batch that is merely out does not
  // send the next one early and only a stuck one does. A fixed bound below
  // the round trip would turn a busy node's load into more, smaller
  // messages. >= 0.
  absl::Duration max_batch_wait = absl::Milliseconds(1);
  // >= 1. One batch in flight per node lets the next batch fill while it is
  // out: on the 2-core benchmark machine (bench/run.sh) 1 gave ~10% more
  // Get+touch throughput than 2, with fewer and larger BatchGets.
  int max_batches_in_flight_per_node = 1;
  // Bound on the Gets waiting for a batch slot of one node (coalesce_gets):
  // a Get that would wait beyond it fails at once with RESOURCE_EXHAUSTED,
  // without an RPC and without a retry, instead of queueing without bound
  // behind a node that falls behind. >= 1.
  int max_queued_gets_per_node = 4096;
  // Send coalesced batches (single Gets too) over one long-lived StreamGet
  // call per node instead of a unary RPC each: a stream message costs the
  // client and the node less than a call. Off: BatchGet and Get RPCs.
  bool stream_gets = true;
  // Merge concurrent Creates, Updates, Destroys and Touches to the same node
  // into messages of one long-lived StreamWrite call per node, as
  // coalesce_gets merges Gets (the same max_batch, max_batch_wait,
  // max_batches_in_flight_per_node and max_queued_gets_per_node apply). Each
  // write keeps its own result, errors and retries. Off: a unary RPC each.
  bool stream_writes = true;

  // Security (see "Security" above). tls_ca_pem, tls_cert_pem and
  // tls_key_pem hold PEM text, not file names (LoadTlsFiles reads files).
  // Plaintext channels, only for nodes run with --insecure. Excludes tls_*.
  bool insecure = false;
  // The CA that signed the nodes' certificates. Required unless insecure.
  std::string tls_ca_pem;
  // Optional client certificate (chain) and its private key, for nodes run
  // with --tls_client_ca: both or neither.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Optional: the name checked in every node's certificate instead of the
  // host of its address.
  std::string tls_server_name;
  // The namespace token, sent with every call as `authorization: Bearer
  // <token>`; visible ASCII only. Empty: no such metadata (for nodes run
  // without a token file). A credential: the client never logs it.
  std::string token;
};

// Reads files into the fields of `options` (for tools, benchmarks and
// tests): ca_file into tls_ca_pem, cert_file and key_file into tls_cert_pem
// and tls_key_pem, and the first line of token_file, whitespace trimmed, into
// token. An empty file name leaves its field as it is.
// Errors: INVALID_ARGUMENT naming the file that cannot be read, holds no PEM
// block (the first three) or has an empty first line (token_file). No
// message holds a file's contents.
absl::StatusOr<ClientOptions> LoadTlsFiles(ClientOptions options,
                                           const std::string& ca_file,
                                           const std::string& cert_file,
                                           const std::string& key_file,
                                           const std::string& token_file);

struct CreateOptions {
  // Optional: indexes the session for ListByUser / DestroyByUser.
  std::string user_id;
  std::map<std::string, std::string> attributes;
  // Required, > 0: sliding expiry. 0 gets INVALID_ARGUMENT from the node.
  int64_t idle_timeout_ms = 0;
  // Absolute lifetime from creation; 0 means the node's maximum.
  int64_t absolute_ttl_ms = 0;
  Durability durability = Durability::kDefault;
};

struct UpdateOptions {
  // Attributes to add or replace; others are untouched.
  std::map<std::string, std::string> set;
  // Attribute names to remove; absent names are ignored. A name both set and
  // removed is INVALID_ARGUMENT.
  std::vector<std::string> remove;
  // Non-zero: apply only if the session's version equals it, else ABORTED.
  // Exact while one node coordinates the partition (always, outside a
  // network partition or a failover in progress).
  uint64_t expected_version = 0;
  Durability durability = Durability::kDefault;
  // An update slides the expiry unless this is set.
  bool skip_touch = false;
};

// One page of a user's sessions (ListByUserPage).
struct ListOptions {
  // Attribute names to include in each listed session (e.g. "user_agent");
  // the others are left out. Empty: no attributes.
  std::vector<std::string> attributes;
  // Sessions per page: 0 means the node's default (100); at most 1000.
  int page_size = 0;
  // SessionPage::next_page_token of the previous page; empty for the first.
  std::string page_token;
};

struct SessionPage {
  // Ordered by created_at_ms then handle; `id` empty, `handle` set.
  std::vector<SessionData> sessions;
  // Non-empty when more sessions follow: pass it as ListOptions::page_token.
  std::string next_page_token;
};

struct NodeInfo {
  std::string id;
  std::string address;  // host:port of the node's public endpoint
  bool up = false;      // as seen by the answering node's failure detector
};

struct TopologyInfo {
  // Fingerprint of the membership (MembershipEpoch in placement.h).
  uint64_t epoch = 0;
  int replication_factor = 0;
  uint32_t partition_count = 0;
  // Sorted by id.
  std::vector<NodeInfo> nodes;
  // Id of the node that answered.
  std::string answered_by;
};

// The NodeStats RPC of one node.
struct NodeStatsInfo {
  std::string node_id;
  // Public calls the node served as the owner, and calls it forwarded.
  uint64_t requests_served = 0;
  uint64_t requests_forwarded = 0;
  // Sessions stored on the node (live or not yet swept).
  uint64_t stored_sessions = 0;
  bool serving = false;
  std::string membership_error;
  // BatchGet calls received; touches held in memory, not yet on disk.
  uint64_t batch_get_calls = 0;
  uint64_t pending_touches = 0;
  // Calls answered only after reading the other replicas' copies (failover,
  // or a primary without its read lease); flat while the cluster is
  // healthy.
  uint64_t repair_reads = 0;
  // RocksDB flushes or compactions running or pending.
  bool storage_busy = false;
  // Writes held (persisted) for peers that missed them.
  uint64_t hints_queued = 0;
  // Touching reads of a live session the node served, and those of them it
  // recorded (moved last_access by at least --touch_write_fraction of the
  // idle timeout), since it started.
  uint64_t touches_requested = 0;
  uint64_t touches_written = 0;
  // Anti-entropy: full passes over every partition, partitions compared
  // and repaired, and records exchanged, since the node started.
  uint64_t anti_entropy_passes = 0;
  uint32_t anti_entropy_next_partition = 0;
  uint64_t anti_entropy_compared = 0;
  uint64_t anti_entropy_repaired = 0;
  uint64_t anti_entropy_records = 0;
  // Managed membership (--etcd): the epoch the node serves, the members
  // and their states (JOINING, NORMAL, LEAVING), the hand-off it runs, and
  // the last etcd error if it cannot reach etcd now.
  bool managed = false;
  uint64_t epoch = 0;
  std::vector<std::pair<std::string, std::string>> members;
  struct Handoff {
    uint64_t epoch = 0;
    uint32_t partitions_total = 0;
    uint32_t partitions_done = 0;
    uint64_t records = 0;
    uint64_t bytes = 0;
    double eta_seconds = 0;
    bool done = false;
  } handoff;
  std::string etcd_error;
};

// The Backup RPC of one node (docs/operations.md, "Backup and restore").
struct BackupInfo {
  std::string node_id;
  // On the node's filesystem: DIR/<node_id> (a complete data dir) and
  // DIR/<node_id>.manifest.json.
  std::string checkpoint_dir;
  std::string manifest_path;
  int64_t taken_at_ms = 0;
  // Session records (tombstones included), files and bytes in the
  // checkpoint, and hints held for peers in it.
  uint64_t records = 0;
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t hints = 0;
};

class Client {
 public:
  using SessionCallback = std::function<void(absl::StatusOr<SessionData>)>;
  using ExpiryCallback = std::function<void(absl::StatusOr<int64_t>)>;
  using StatusCallback = std::function<void(absl::Status)>;

  // Bounds on the calls that ListByUser and DestroyByUser make in a loop.
  static constexpr int kMaxListPages = 100;
  static constexpr int kMaxDestroyRounds = 100;

  // Fetches the topology from the first seed that answers (each seed gets
  // options.deadline) and returns a client routed by it.
  // Errors: INVALID_ARGUMENT (no seeds, an option out of range, neither
  // tls_ca_pem nor insecure, insecure with a tls_* option, only one of
  // tls_cert_pem and tls_key_pem, a field that is not PEM, a token with a
  // character other than visible ASCII), UNAUTHENTICATED / PERMISSION_DENIED
  // (a seed refused the token and none answered), UNAVAILABLE (no seed
  // answered with a usable topology, e.g. a TLS handshake failed; the message
  // has the last error).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);

  // Waits for the calls in flight (see "Thread safety").
  virtual ~Client() = default;

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Creates a session with a fresh id minted by the node. Not retried once
  // sent. Errors: INVALID_ARGUMENT (empty namespace, idle_timeout_ms <= 0, a
  // size limit), RESOURCE_EXHAUSTED (count or size limit), UNAVAILABLE.
  virtual absl::StatusOr<SessionData> Create(absl::string_view ns,
                                             const CreateOptions& options) = 0;

  // Reads a session; with `touch` also slides its expiry. Retried.
  // Errors: NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<SessionData> Get(absl::string_view ns,
                                          absl::string_view id,
                                          bool touch = true) = 0;

  // Sets / removes attributes and returns the session after the update. Not
  // retried once sent. On any error nothing was applied, except UNAVAILABLE
  // and DEADLINE_EXCEEDED after sending (the message of UNAVAILABLE from a
  // node says whether it may have been). Errors: NOT_FOUND,
  // INVALID_ARGUMENT, ABORTED (expected_version mismatch),
  // RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<SessionData> Update(absl::string_view ns,
                                             absl::string_view id,
                                             const UpdateOptions& options) = 0;

  // Slides the expiry; returns the new expires_at_ms. Retried.
  // Errors: NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<int64_t> Touch(absl::string_view ns,
                                        absl::string_view id) = 0;

  // Logs out: the id never works again. Destroying an absent or expired
  // session succeeds, so it is retried. Errors: INVALID_ARGUMENT,
  // UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::Status Destroy(
      absl::string_view ns, absl::string_view id,
      Durability durability = Durability::kDefault) = 0;

  // Moves the session to a new id (same data, timeouts and deadline) and
  // returns it; the old id stops working. Not retried once sent.
  // Errors: NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<SessionData> Rotate(
      absl::string_view ns, absl::string_view id,
      Durability durability = Durability::kDefault) = 0;

  // The user's live sessions, cluster-wide, ordered by created_at_ms then
  // handle, without attributes and with `id` empty (`handle` names them);
  // does not touch them. Follows the pages (1000 sessions each), each page
  // one call with its own deadline and retries, at most kMaxListPages.
  // Errors: INVALID_ARGUMENT (empty namespace or user), RESOURCE_EXHAUSTED
  // (more than kMaxListPages pages: use ListByUserPage), UNAVAILABLE,
  // DEADLINE_EXCEEDED.
  virtual absl::StatusOr<std::vector<SessionData>> ListByUser(
      absl::string_view ns, absl::string_view user_id) = 0;

  // One page of ListByUser, with the attributes named in `options`. Retried.
  // Errors: INVALID_ARGUMENT (empty namespace or user, a malformed
  // page_token; page_size outside [0, 1000] without an RPC), UNAVAILABLE,
  // DEADLINE_EXCEEDED.
  virtual absl::StatusOr<SessionPage> ListByUserPage(
      absl::string_view ns, absl::string_view user_id,
      const ListOptions& options) = 0;

  // Logs out one device: destroys the session of `user_id` whose handle is
  // `handle` (from ListByUser). A handle that names no live session of the
  // user succeeds and changes nothing, so it is retried. Errors:
  // INVALID_ARGUMENT (an empty argument, without an RPC), UNAVAILABLE,
  // DEADLINE_EXCEEDED.
  virtual absl::Status DestroyByHandle(
      absl::string_view ns, absl::string_view user_id, absl::string_view handle,
      Durability durability = Durability::kDefault) = 0;

  // "Log out everywhere": destroys every session of the user except
  // `except_id` (empty: none) and returns how many were destroyed. A node
  // destroys a bounded number per call: this calls again while some remain,
  // at most kMaxDestroyRounds times. Each call is retried (a repeat destroys
  // nothing more; the count may then be lower). After an error, what earlier
  // calls destroyed stays destroyed, and calling again is safe.
  // Errors: INVALID_ARGUMENT, RESOURCE_EXHAUSTED (sessions remain after
  // kMaxDestroyRounds calls), UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<int> DestroyByUser(
      absl::string_view ns, absl::string_view user_id,
      absl::string_view except_id = "",
      Durability durability = Durability::kDefault) = 0;

  // "Log out other devices" from a page that knows handles, not ids:
  // DestroyByUser keeping the session whose handle is `keep_handle`.
  // Errors: those of DestroyByUser; INVALID_ARGUMENT for an empty
  // keep_handle (without an RPC: it would destroy every session).
  virtual absl::StatusOr<int> DestroyOtherDevices(
      absl::string_view ns, absl::string_view user_id,
      absl::string_view keep_handle,
      Durability durability = Durability::kDefault) = 0;

  // Gets (and with `touch`, touches) many sessions: one BatchGet RPC per
  // owner node (per max_batch ids), in parallel, each part retried like Get.
  // Returns exactly one result per id, in the order of `ids`: the session, or
  // that id's error (NOT_FOUND, INVALID_ARGUMENT for a malformed id), or the
  // error of the RPC that carried it. Per-id errors are not retried.
  virtual std::vector<absl::StatusOr<SessionData>> BatchGet(
      absl::string_view ns, const std::vector<std::string>& ids,
      bool touch = true) = 0;

  // Asynchronous forms of the calls above, with the same routing, retries
  // and errors. `done` is called exactly once (see "Thread safety").
  virtual void CreateAsync(absl::string_view ns, const CreateOptions& options,
                           SessionCallback done) = 0;
  virtual void GetAsync(absl::string_view ns, absl::string_view id, bool touch,
                        SessionCallback done) = 0;
  virtual void UpdateAsync(absl::string_view ns, absl::string_view id,
                           const UpdateOptions& options,
                           SessionCallback done) = 0;
  virtual void TouchAsync(absl::string_view ns, absl::string_view id,
                          ExpiryCallback done) = 0;
  virtual void DestroyAsync(absl::string_view ns, absl::string_view id,
                            Durability durability, StatusCallback done) = 0;

  // For tools. Fetches the topology from a node (retried), and installs it
  // for routing if its epoch differs from the cached one.
  // Errors: UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<TopologyInfo> Topology() = 0;

  // The node id of the primary of `id`'s partition in the cached topology
  // (no RPC). Errors: INVALID_ARGUMENT (malformed id).
  virtual absl::StatusOr<std::string> OwnerOf(absl::string_view id) = 0;

  // Asks node `node_id` (of the cached topology) for its counters. Retried
  // on that node only. Errors: NOT_FOUND (no such node in the topology),
  // UNAVAILABLE, DEADLINE_EXCEEDED.
  virtual absl::StatusOr<NodeStatsInfo> NodeStats(
      absl::string_view node_id) = 0;

  // Asks the cluster to remove node `node_id`: its partitions move to their
  // next replicas, then it stops (managed membership; admin token). Returns
  // the membership epoch of the change. Not retried. Errors:
  // FAILED_PRECONDITION (static membership, another change under way, the
  // last node), NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE.
  virtual absl::StatusOr<uint64_t> Decommission(absl::string_view node_id) = 0;

  // Asks node `node_id` (of the cached topology) to back up its data into
  // `dir`, an absolute directory on that node's filesystem (admin token).
  // Not retried: a repeat would find the backup and answer ALREADY_EXISTS.
  // Takes the client's deadline; a large store may need more. Errors:
  // NOT_FOUND (no such node in the topology), INVALID_ARGUMENT (a bad dir),
  // ALREADY_EXISTS (the node's backup is already in dir),
  // PERMISSION_DENIED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE,
  // DEADLINE_EXCEEDED (the backup may still complete on the node).
  virtual absl::StatusOr<BackupInfo> Backup(absl::string_view node_id,
                                            absl::string_view dir) = 0;

 protected:
  Client() = default;
};

}  // namespace sesh

#endif  // SESH_CLIENT_SESH_CLIENT_H_

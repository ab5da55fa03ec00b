// sesh-node: one node of a Sesh cluster.
//
//   sesh-node --node_id=n1 --listen=127.0.0.1:7701
//     --peer_listen=127.0.0.1:7801 --data_dir=/var/lib/sesh
//     --tls_cert=n1.pem --tls_key=n1.key --cluster_ca=ca.pem
//     --token_file=tokens
//     --peers=n1=127.0.0.1:7701/127.0.0.1:7801,n2=...,n3=...
//
// See docs/security.md for the two ports, certificates and tokens.

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "auth/token_store.h"
#include "node/backup.h"
#include "node/call_auth.h"
#include "node/credentials.h"
#include "node/etcd_membership.h"
#include "node/generation.h"
#include "node/health_server.h"
#include "node/membership_controller.h"
#include "node/node_metrics.h"
#include "node/peer_service.h"
#include "node/service_proxies.h"
#include "node/session_store.h"
#include "node/sessions_service.h"
#include "node/worker_pool.h"
#include "replication/anti_entropy.h"
#include "replication/anti_entropy_link.h"
#include "replication/clock.h"
#include "replication/cluster.h"
#include "replication/grpc_peer_transport.h"
#include "replication/hint_store.h"
#include "replication/managed_membership.h"
#include "replication/placement.h"
#include "replication/replica.h"
#include "util/log.h"
#include "xxhash.h"

ABSL_FLAG(std::string, node_id, "n1",
          "This node's id; must appear in --peers when --peers is set.");
ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "host:port of the client port (Sessions and Cluster services, TLS). "
          "Port 0 picks a free port; see --port_file.");
ABSL_FLAG(std::string, peer_listen, "",
          "host:port of the peer port (the Peer service and calls forwarded "
          "by other nodes, mutual TLS). Required with more than one node; "
          "must match this node's entry in --peers.");
ABSL_FLAG(int64_t, drain_timeout_ms, 5000,
          "On SIGTERM, how long calls in flight may take before they are "
          "cancelled; keep it well under Kubernetes' "
          "terminationGracePeriodSeconds.");
ABSL_FLAG(bool, log_json, false,
          "Log one JSON object per line (ts, level, component, node, msg) "
          "instead of text lines.");
ABSL_FLAG(std::string, log_level, "info",
          "Lowest level logged: debug, info, warning or error.");
ABSL_FLAG(std::string, health_listen, "",
          "host:port of a plaintext listener serving only gRPC health, for "
          "probes without TLS: \"\" SERVING once caught up, sesh.liveness "
          "while the process runs. Default empty: none.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this node, for both ports. Its subject "
          "alternative names must include the node id (DNS:<node_id>) and "
          "the names clients use. Required unless --insecure.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, cluster_ca, "",
          "PEM CA that signs every node certificate: the peer port admits "
          "only nodes it signed. Required unless --insecure.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "If set, the client port requires a client certificate signed by "
          "this PEM CA.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext on both ports, peers not authenticated: only for a "
          "trusted network (a warning is logged). Tokens still apply when "
          "--token_file is set.");
ABSL_FLAG(std::string, token_file, "",
          "Namespace tokens: lines '<namespace> <sha256 hex of token> "
          "[admin]', reloaded when the file changes. Required unless "
          "--insecure.");
ABSL_FLAG(int64_t, max_message_bytes, 1 << 20,
          "Largest message on the client port, in bytes. Default 1 MiB.");
ABSL_FLAG(int, max_concurrent_streams, 100,
          "Concurrent calls per client connection. Default 100.");
ABSL_FLAG(int64_t, stream_idle_timeout_ms, 300000,
          "A StreamGet or StreamWrite without a request for this many "
          "milliseconds is ended. Default 300000 (5 minutes).");
ABSL_FLAG(int, max_destroy_per_call, 256,
          "Sessions one DestroyByUser call destroys at most; the answer says "
          "when more remain. Default 256.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written to this file once serving "
          "(for tests and scripts that listen on port 0).");
ABSL_FLAG(std::string, data_dir, "", "RocksDB directory (required).");
ABSL_FLAG(std::string, peers, "",
          "Every node of the cluster as id=client_host:port/peer_host:port,"
          "... (this one included), identical on every node. Empty: a "
          "single-node cluster at --listen.");
ABSL_FLAG(int, replication_factor, 3,
          "Copies of each session (capped at the node count). Default 3.");
ABSL_FLAG(std::string, default_durability, "QUORUM",
          "Durability of writes that do not ask for one: ONE, QUORUM or ALL.");
ABSL_FLAG(int64_t, heartbeat_interval_ms, 200,
          "Milliseconds between heartbeats to each peer. Default 200.");
ABSL_FLAG(int64_t, failure_timeout_ms, 800,
          "A peer silent this many milliseconds is down. Default 800.");
ABSL_FLAG(int64_t, replicate_timeout_ms, 1000,
          "Deadline in milliseconds of one replication call. Default 1000.");
ABSL_FLAG(int64_t, touch_flush_interval_ms, 100,
          "Milliseconds between lazy flushes of touches to replicas. A "
          "replica's last_access lags by at most this plus one call, once "
          "the touch was written (--touch_write_fraction). Short flushes keep "
          "each one small: a replica applies a flush on a request thread. "
          "Default 100.");
ABSL_FLAG(int, max_applies_in_flight, 1,
          "Apply calls (batches of replicated writes) in flight to each peer; "
          "writes queued meanwhile share the next call. Default 1.");
ABSL_FLAG(int, peer_threads, 2,
          "Threads that run peer calls touching storage (Read, Fetch, "
          "anti-entropy; Apply too without --inline_apply). Default 2.");
ABSL_FLAG(bool, inline_apply, true,
          "Apply replicated writes on the peer port's gRPC threads, as the "
          "client port's writes run, instead of on the --peer_threads pool: "
          "one thread handoff less per Apply. Default true.");
ABSL_FLAG(int, peer_queue, 4096,
          "Peer calls waiting for those threads; past this they are "
          "refused with RESOURCE_EXHAUSTED. Default 4096.");
ABSL_FLAG(int64_t, max_hint_bytes_per_peer, int64_t{256} << 20,
          "Bytes of writes kept (persisted) for one peer that missed them; "
          "past this they are left to catch-up, read repair and "
          "anti-entropy. Default 256 MiB.");
ABSL_FLAG(int64_t, anti_entropy_interval_ms, 250,
          "Interval between anti-entropy steps, which compare "
          "--anti_entropy_partitions partitions with the other replicas; 0 "
          "turns it off. Default 250 (a full pass in about 2 minutes).");
ABSL_FLAG(int64_t, anti_entropy_partitions, 1024,
          "Partitions one anti-entropy step compares: small steps keep its "
          "storage scans short. Default 1024.");
ABSL_FLAG(int64_t, anti_entropy_records, 1000,
          "Records one anti-entropy step may exchange (the repair rate "
          "bound). Default 1000.");
ABSL_FLAG(int64_t, forward_timeout_ms, 2000,
          "Cap in milliseconds on the deadline of a forwarded call. "
          "Default 2000.");
ABSL_FLAG(int64_t, catch_up_timeout_ms, 5000,
          "At start, how long in milliseconds to keep trying to reach a "
          "peer to catch up from before serving without it. Default 5000.");
ABSL_FLAG(int64_t, touch_persist_interval_ms, 1000,
          "Milliseconds between writes of the in-memory touch table to "
          "RocksDB (sliding expiry is recorded in memory on the hot path). A "
          "kill -9 loses at most this much of this node's touches; replicas "
          "hold them too. Larger batches cost less per touch (at 10^5 "
          "sessions, 1000 ms spends 37% less CPU on persisting than 250 "
          "ms). Default 1000.");
ABSL_FLAG(int64_t, sweep_interval_ms, 300000,
          "Milliseconds for one full sweep of expired sessions (done in 256 "
          "steps). Each pass reads every stored record, so a shorter interval "
          "costs CPU in proportion to the sessions held (a pass a minute over "
          "10^6 sessions kept ~5% of a core busy). Default 300000.");
ABSL_FLAG(double, touch_write_fraction, 0.01,
          "A touch is written only when it moves last_access by at least "
          "this fraction of the idle timeout. Default 0.01.");
ABSL_FLAG(int64_t, tombstone_margin_ms, 5 * 60 * 1000,
          "Tombstones are kept this many milliseconds past the session's "
          "absolute deadline (clock skew margin). Default 300000.");
ABSL_FLAG(int64_t, max_clock_ahead_ms, 10000,
          "Replicated writes stamped more than this many ms ahead of this "
          "node's clock are refused and logged. Default 10000.");
ABSL_FLAG(int64_t, expired_grace_ms, 10000,
          "Expired sessions stay on disk this many milliseconds before the "
          "sweep deletes them. Default 10000.");
ABSL_FLAG(bool, blind_replica_merges, true,
          "Apply peers' writes as blind RocksDB merge operands (merged on "
          "read and compaction) instead of read-merge-write. Default true.");
ABSL_FLAG(bool, sync_writes, false,
          "fsync the RocksDB WAL on every write. Default false (writes "
          "survive a process crash, not a power loss).");
ABSL_FLAG(int, max_attributes, 64, "Attributes per session. Default 64.");
ABSL_FLAG(int64_t, max_key_bytes, 256, "Bytes per attribute key. Default 256.");
ABSL_FLAG(int64_t, max_value_bytes, 32 * 1024,
          "Bytes per attribute value. Default 32768.");
ABSL_FLAG(int64_t, max_session_bytes, 64 * 1024,
          "Bytes per session (keys, values, user id, namespace). "
          "Default 65536.");
ABSL_FLAG(int, max_sessions_per_user, 1000,
          "Live sessions per user and namespace, checked by the node that "
          "creates the session. Default 1000.");
ABSL_FLAG(int64_t, max_idle_timeout_ms, int64_t{30} * 24 * 3600 * 1000,
          "Largest idle timeout in milliseconds. Default 30 days.");
ABSL_FLAG(int64_t, max_absolute_ttl_ms, int64_t{90} * 24 * 3600 * 1000,
          "Largest absolute TTL in milliseconds, also the TTL of sessions "
          "created without one. Default 90 days.");
ABSL_FLAG(int, max_batch, 1000,
          "Ids per BatchGet and StreamGet message, ops per StreamWrite "
          "message. Default 1000.");
ABSL_FLAG(std::string, etcd, "",
          "Managed membership: etcd client endpoints host:port,... The node "
          "registers itself (joining an existing cluster, or founding one) "
          "and follows membership changes; --peers is then ignored. See "
          "docs/scaling.md. Empty: static membership from --peers.");
ABSL_FLAG(std::string, etcd_cluster, "default",
          "Name of the cluster in etcd: its keys live under /sesh/<name>/.");
ABSL_FLAG(int64_t, etcd_lease_ttl_s, 6,
          "TTL in seconds of the node's liveness lease in etcd; a node that "
          "dies while joining is rolled back about this long after. "
          "Default 6.");
ABSL_FLAG(int64_t, handoff_max_bytes_per_s, 32 << 20,
          "Bytes per second a node fetches at most when it takes over "
          "partitions (joins, or another node leaves); 0: unbounded. "
          "Default 32 MiB/s.");
ABSL_FLAG(int64_t, orphan_delay_ms, 30000,
          "After a membership change settles, data of partitions this node "
          "no longer holds is deleted this many milliseconds later, in the "
          "background. Default 30000.");
ABSL_FLAG(bool, fault_injection, false,
          "Tests only: SIGUSR1 toggles isolation of this node from its peers "
          "(no peer traffic either way; clients still reach it).");
ABSL_FLAG(int64_t, block_cache_mb, 1024,
          "RocksDB block cache in MiB (keep the working set in memory). "
          "Default 1024.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus /metrics endpoint (plain HTTP, "
          "docs/metrics.md); port 0 picks one. Default empty: off.");
ABSL_FLAG(bool, access_log, false, "Log one line per client call (method, "
          "namespace, code, latency, session handle). Default false.");

namespace sesh {
namespace {

// Background work (sweeping, persisting touches) yields the CPU to request
// threads when both want it: on a small machine its bursts otherwise show
// in tail latency. Linux: a thread's nice value is its own.
void LowerThisThreadsPriority() {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
}

absl::StatusOr<v1::Durability> ParseDurability(const std::string& text) {
  if (text == "ONE") return v1::ONE;
  if (text == "QUORUM") return v1::QUORUM;
  if (text == "ALL") return v1::ALL;
  return absl::InvalidArgumentError(
      absl::StrCat("--default_durability must be ONE, QUORUM or ALL, not '",
                   text, "'"));
}

int Fail(const absl::Status& status) {
  LogError("node", "%s", status.ToString().c_str());
  return 2;
}

int Run() {
  const std::string node_id = absl::GetFlag(FLAGS_node_id);
  LogOptions log_options;
  log_options.json = absl::GetFlag(FLAGS_log_json);
  log_options.node_id = node_id;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &log_options.min_level)) {
    return Fail(absl::InvalidArgumentError(
        "--log_level must be debug, info, warning or error"));
  }
  ConfigureLogging(log_options);
  if (absl::GetFlag(FLAGS_data_dir).empty()) {
    return Fail(absl::InvalidArgumentError("--data_dir is required"));
  }
  absl::StatusOr<v1::Durability> durability =
      ParseDurability(absl::GetFlag(FLAGS_default_durability));
  if (!durability.ok()) return Fail(durability.status());

  // Closed by default: TLS on both ports and tokens, unless --insecure.
  const bool insecure = absl::GetFlag(FLAGS_insecure);
  TlsMaterial tls;
  if (insecure) {
    LogWarning("node",
               "--insecure: plaintext on both ports, peers not authenticated; "
               "use only on a trusted network");
  } else {
    if (absl::GetFlag(FLAGS_tls_cert).empty() ||
        absl::GetFlag(FLAGS_tls_key).empty() ||
        absl::GetFlag(FLAGS_cluster_ca).empty()) {
      return Fail(absl::InvalidArgumentError(
          "--tls_cert, --tls_key and --cluster_ca are required (or "
          "--insecure for plaintext on a trusted network)"));
    }
    absl::StatusOr<TlsMaterial> loaded = LoadTlsMaterial(
        absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
        absl::GetFlag(FLAGS_cluster_ca), absl::GetFlag(FLAGS_tls_client_ca));
    if (!loaded.ok()) return Fail(loaded.status());
    tls = std::move(*loaded);
  }
  std::unique_ptr<TokenStore> tokens;
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    absl::StatusOr<std::unique_ptr<TokenStore>> opened =
        TokenStore::Open(absl::GetFlag(FLAGS_token_file));
    if (!opened.ok()) return Fail(opened.status());
    tokens = std::move(*opened);
  } else if (!insecure) {
    return Fail(absl::InvalidArgumentError(
        "--token_file is required (or --insecure)"));
  } else {
    LogWarning("node", "no --token_file: every caller may use every namespace");
  }

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  absl::StatusOr<std::unique_ptr<HealthServer>> health_server =
      HealthServer::Start(absl::GetFlag(FLAGS_health_listen));
  if (!health_server.ok()) return Fail(health_server.status());

  StoreOptions store_options;
  store_options.path = absl::GetFlag(FLAGS_data_dir);
  store_options.touch_write_fraction = absl::GetFlag(FLAGS_touch_write_fraction);
  store_options.tombstone_margin_ms = absl::GetFlag(FLAGS_tombstone_margin_ms);
  store_options.expired_grace_ms = absl::GetFlag(FLAGS_expired_grace_ms);
  store_options.max_clock_ahead_ms = absl::GetFlag(FLAGS_max_clock_ahead_ms);
  store_options.sync_writes = absl::GetFlag(FLAGS_sync_writes);
  store_options.blind_replica_merges =
      absl::GetFlag(FLAGS_blind_replica_merges);
  store_options.block_cache_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_block_cache_mb)) << 20;
  store_options.writer_tag = XXH32(node_id.data(), node_id.size(), 0);
  Limits& limits = store_options.limits;
  limits.max_attributes = absl::GetFlag(FLAGS_max_attributes);
  limits.max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes);
  limits.max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes);
  limits.max_session_bytes = absl::GetFlag(FLAGS_max_session_bytes);
  limits.max_sessions_per_user = absl::GetFlag(FLAGS_max_sessions_per_user);
  limits.max_idle_timeout_ms = absl::GetFlag(FLAGS_max_idle_timeout_ms);
  limits.max_absolute_ttl_ms = absl::GetFlag(FLAGS_max_absolute_ttl_ms);

  absl::StatusOr<std::unique_ptr<SessionStore>> store =
      SessionStore::Open(store_options, SystemClock());
  if (!store.ok()) return Fail(store.status());

  ClusterOptions cluster_options;
  cluster_options.self_id = node_id;
  cluster_options.replication_factor = absl::GetFlag(FLAGS_replication_factor);
  cluster_options.heartbeat_interval_ms =
      absl::GetFlag(FLAGS_heartbeat_interval_ms);
  cluster_options.failure_timeout_ms = absl::GetFlag(FLAGS_failure_timeout_ms);
  cluster_options.replicate_timeout_ms =
      absl::GetFlag(FLAGS_replicate_timeout_ms);
  cluster_options.max_applies_in_flight =
      std::max(1, absl::GetFlag(FLAGS_max_applies_in_flight));
  cluster_options.touch_flush_interval_ms =
      absl::GetFlag(FLAGS_touch_flush_interval_ms);
  // Set once the server exists; read by the heartbeat threads after Start.
  std::atomic<grpc::HealthCheckServiceInterface*> health_for_membership{
      nullptr};
  cluster_options.on_membership_error = [&](const std::string&) {
    grpc::HealthCheckServiceInterface* h = health_for_membership.load();
    if (h != nullptr) h->SetServingStatus("sesh.v1.Cluster", false);
  };
  const std::string peer_listen = absl::GetFlag(FLAGS_peer_listen);
  const std::string etcd_flag = absl::GetFlag(FLAGS_etcd);
  const bool managed = !etcd_flag.empty();
  if (managed) {
    if (peer_listen.empty()) {
      return Fail(absl::InvalidArgumentError(
          "--peer_listen is required with --etcd"));
    }
  } else {
    const std::string peers_flag = absl::GetFlag(FLAGS_peers);
    if (!peers_flag.empty()) {
      absl::StatusOr<std::vector<PeerSpec>> peers = ParsePeers(peers_flag);
      if (!peers.ok()) return Fail(peers.status());
      cluster_options.peers = std::move(*peers);
    }
    // A single node serves alone at --listen.
    if (cluster_options.peers.empty()) {
      cluster_options.peers.push_back(
          {node_id, absl::GetFlag(FLAGS_listen), peer_listen});
    }
    const bool alone = cluster_options.peers.size() == 1;
    if (!alone && peer_listen.empty()) {
      return Fail(absl::InvalidArgumentError(
          "--peer_listen is required with more than one node"));
    }
    for (const PeerSpec& p : cluster_options.peers) {
      if (!alone && p.peer_address.empty()) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            "--peers names no peer port for ", p.id,
            " (id=host:port/host:port)")));
      }
    }
  }

  // Writes peers missed, persisted beside the sessions.
  HintStoreOptions hint_options;
  hint_options.path = absl::StrCat(store_options.path, "/hints");
  hint_options.max_bytes_per_peer =
      absl::GetFlag(FLAGS_max_hint_bytes_per_peer);
  hint_options.sync_writes = store_options.sync_writes;
  absl::StatusOr<std::unique_ptr<HintStore>> hints =
      HintStore::Open(hint_options);
  if (!hints.ok()) return Fail(hints.status());

  const CallAuth client_auth = CallAuth::ClientPort(tokens.get());
  // Client-plane storage work that must not block gRPC's threads.
  auto client_pool = std::make_unique<WorkerPool>(2, 4096);
  // Peer work that touches storage (Apply, Read, Fetch).
  auto peer_pool = std::make_unique<WorkerPool>(
      std::max(1, absl::GetFlag(FLAGS_peer_threads)),
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_peer_queue))));
  GenerationDeps deps;
  deps.store = store->get();
  deps.hints = hints->get();
  deps.peer_credentials = insecure ? nullptr : PeerChannelCredentials(tls);
  deps.authenticate_peers = !insecure;
  deps.client_auth = &client_auth;
  deps.service_options.max_destroy_per_call =
      std::max(1, absl::GetFlag(FLAGS_max_destroy_per_call));
  deps.service_options.stream_idle_timeout_ms =
      absl::GetFlag(FLAGS_stream_idle_timeout_ms);
  deps.service_options.default_durability = *durability;
  deps.service_options.forward_timeout_ms =
      absl::GetFlag(FLAGS_forward_timeout_ms);
  deps.service_options.max_batch = absl::GetFlag(FLAGS_max_batch);
  // Anti-entropy: replicas compare partitions in the background and repair
  // what differs at a bounded rate.
  deps.anti_entropy_options.partitions_per_step = static_cast<uint32_t>(
      std::max<int64_t>(1, absl::GetFlag(FLAGS_anti_entropy_partitions)));
  deps.anti_entropy_options.max_records_per_step =
      absl::GetFlag(FLAGS_anti_entropy_records);
  deps.replicate_timeout_ms = absl::GetFlag(FLAGS_replicate_timeout_ms);
  deps.client_pool = client_pool.get();
  deps.peer_pool = peer_pool.get();
  deps.inline_apply = absl::GetFlag(FLAGS_inline_apply);
  NodeBackup backup(store->get(), hints->get());  // Cluster.Backup
  deps.backup = &backup;

  // Every call goes to the current generation: one for the life of the
  // process under --peers, one per membership epoch under --etcd.
  CurrentGeneration current;
  SessionsProxy sessions_proxy(&current, /*forwarded=*/false, &client_auth);
  SessionsProxy forwarded_proxy(&current, /*forwarded=*/true);
  ClusterProxy cluster_proxy(&current);
  PeerProxy peer_proxy(&current);

  std::unique_ptr<EtcdMembership> etcd;
  std::unique_ptr<MembershipController> controller;
  if (!managed) {
    absl::StatusOr<std::unique_ptr<Generation>> generation =
        Generation::Build(deps, cluster_options);
    if (!generation.ok()) return Fail(generation.status());
    current.Swap(std::move(*generation));
  }

  bool catch_up = true;
  // For peers' "refetch the membership" hints; set once the controller is.
  MembershipController* controller_ptr = nullptr;
  if (managed) {
    // Registered before the servers start, so that no call arrives before
    // the first generation exists: the address must be known up front.
    const std::string listen = absl::GetFlag(FLAGS_listen);
    if (absl::EndsWith(listen, ":0") || absl::EndsWith(peer_listen, ":0")) {
      return Fail(absl::InvalidArgumentError(
          "--etcd needs fixed ports in --listen and --peer_listen"));
    }
    EtcdMembershipOptions etcd_options;
    etcd_options.endpoints = absl::StrSplit(etcd_flag, ',', absl::SkipEmpty());
    etcd_options.cluster = absl::GetFlag(FLAGS_etcd_cluster);
    etcd_options.self = {node_id, listen, peer_listen};
    etcd_options.replication_factor = cluster_options.replication_factor;
    etcd_options.lease_ttl_s =
        std::max<int64_t>(2, absl::GetFlag(FLAGS_etcd_lease_ttl_s));
    etcd = std::make_unique<EtcdMembership>(etcd_options);
    MembershipControllerOptions controller_options;
    controller_options.handoff_max_bytes_per_s =
        absl::GetFlag(FLAGS_handoff_max_bytes_per_s);
    controller_options.orphan_delay_ms = absl::GetFlag(FLAGS_orphan_delay_ms);
    cluster_options.on_newer_epoch = [&controller_ptr] {
      if (controller_ptr != nullptr) controller_ptr->Poke();
    };
    controller = std::make_unique<MembershipController>(
        etcd.get(), &current, store->get(), hints->get(),
        [&deps, &current, cluster_options](const Membership& m)
            -> absl::StatusOr<std::shared_ptr<Generation>> {
          ClusterOptions options = cluster_options;
          options.peers = MemberPeers(m.record);
          options.replication_factor = m.record.replication_factor();
          options.holders = Holders(m.record);
          options.pending_holders = PendingHolders(m.record);
          options.epoch = m.epoch;
          if (std::shared_ptr<Generation> now = current.Get()) {
            options.previous = std::make_shared<const PlacementMap>(
                now->cluster()->placement());
            options.previous_leaving = now->cluster()->LeavingIds();
          }
          absl::StatusOr<std::unique_ptr<Generation>> g =
              Generation::Build(deps, options);
          if (!g.ok()) return g.status();
          return std::shared_ptr<Generation>(std::move(*g));
        },
        controller_options, [] { kill(getpid(), SIGTERM); });
    controller_ptr = controller.get();
    absl::StatusOr<Membership> joined = controller->Start(
        /*register_timeout_ms=*/120000);
    if (!joined.ok()) return Fail(joined.status());
    // Only a restarted member has data to catch up on; a joining node
    // fetches its partitions in the hand-off.
    const internal::MemberRecord* me = FindMember(joined->record, node_id);
    catch_up = me != nullptr && me->state() != internal::JOINING &&
               joined->record.members_size() > 1;
  }

  auto metrics = NodeMetrics::Create({node_id, store_options.path, &current,
      store->get(), hints->get(), controller.get()}, absl::GetFlag(FLAGS_access_log));
  if (!metrics.ok()) return Fail(metrics.status());
  // Bind first: with port 0 the peers list can only name the real port
  // when there is a single node.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen),
                           insecure ? grpc::InsecureServerCredentials()
                                    : ClientPortCredentials(tls),
                           &port);
  builder.RegisterService(&sessions_proxy);
  builder.RegisterService(&cluster_proxy);
  (*metrics)->Instrument(&builder, "client");
  const int max_message = static_cast<int>(std::clamp<int64_t>(
      absl::GetFlag(FLAGS_max_message_bytes), 4096, int64_t{64} << 20));
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(64 << 20);
  // A second process on the same port is an error, not a share of the
  // traffic (gRPC sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             std::max(1, absl::GetFlag(FLAGS_max_concurrent_streams)));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::UnavailableError(absl::StrCat(
        "cannot listen on ", absl::GetFlag(FLAGS_listen))));
  }
  // The peer port: nodes only (mutual TLS), larger messages (catch-up
  // pages, batches of replicated writes).
  std::unique_ptr<grpc::Server> peer_server;
  if (!peer_listen.empty()) {
    grpc::ServerBuilder peer_builder;
    int bound = 0;
    peer_builder.AddListeningPort(peer_listen,
                                  insecure ? grpc::InsecureServerCredentials()
                                           : PeerPortCredentials(tls),
                                  &bound);
    peer_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    peer_builder.RegisterService(&peer_proxy);
    peer_builder.RegisterService(&forwarded_proxy);
    (*metrics)->Instrument(&peer_builder, "peer");
    peer_builder.SetMaxReceiveMessageSize(64 << 20);
    peer_builder.SetMaxSendMessageSize(64 << 20);
    peer_server = peer_builder.BuildAndStart();
    if (peer_server == nullptr || bound == 0) {
      return Fail(absl::UnavailableError(
          absl::StrCat("cannot listen on ", peer_listen)));
    }
  }
  absl::Status served = (*metrics)->Serve(absl::GetFlag(FLAGS_metrics_listen));
  if (!served.ok()) return Fail(served);
  NodeHealth node_health(
      {server->GetHealthCheckService(),
       *health_server ? (*health_server)->health() : nullptr});
  grpc::HealthCheckServiceInterface* health = &node_health;
  health->SetServingStatus(false);
  health_for_membership.store(health);

  if (absl::GetFlag(FLAGS_peers).empty() && !managed) {
    // Port 0 is resolved now: advertise the real one in Topology.
    std::string host = absl::GetFlag(FLAGS_listen);
    host = host.substr(0, host.rfind(':'));
    current.Get()->cluster()->SetSelfAddress(absl::StrCat(host, ":", port));
  }
  std::shared_ptr<Generation> first = current.Get();
  if (!managed) first->cluster()->Start();
  if (catch_up && first->cluster()->node_count() > 1) {
    int64_t merged = CatchUp(first->cluster(), store->get(),
                             absl::GetFlag(FLAGS_catch_up_timeout_ms));
    LogInfo("node", "caught up, %lld records merged",
            static_cast<long long>(merged));
  }
  first->cluster()->SetServing(true);
  health->SetServingStatus(true);
  if (controller != nullptr) controller->Run();
  LogInfo("node",
          "serving on port %d, %d nodes, replication factor %d, membership "
          "epoch %llu%s",
          port, first->cluster()->node_count(),
          first->cluster()->placement().replication_factor(),
          static_cast<unsigned long long>(first->cluster()->epoch()),
          managed ? " (managed in etcd)" : "");
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }

  // Background threads: the sweep and the touch persister.
  absl::Notification stop_background;
  std::thread sweeper([&] {
    LowerThisThreadsPriority();
    // A full pass every --sweep_interval_ms, in kSteps slices of the
    // partition space, so the cost comes in short slices (about 4,000
    // records at 10^6 sessions) instead of bursts that show in tail latency.
    // Each node starts at its own offset, so the nodes of one machine do
    // not sweep in phase.
    constexpr uint32_t kSteps = 256;
    const absl::Duration interval =
        absl::Milliseconds(absl::GetFlag(FLAGS_sweep_interval_ms)) / kSteps;
    const uint64_t offset = XXH3_64bits(node_id.data(), node_id.size());
    uint32_t step = static_cast<uint32_t>(offset % kSteps);
    (void)stop_background.WaitForNotificationWithTimeout(
        interval * static_cast<double>(offset % 1000) / 1000.0);
    while (!stop_background.WaitForNotificationWithTimeout(interval)) {
      const uint32_t first = step * (kPartitionCount / kSteps);
      const uint32_t last = first + kPartitionCount / kSteps - 1;
      step = (step + 1) % kSteps;
      absl::StatusOr<int64_t> swept = (*store)->Sweep(first, last);
      if (!swept.ok()) {
        LogWarning("node", "sweep failed: %s",
                   swept.status().ToString().c_str());
      } else if (*swept > 0) {
        LogInfo("node", "swept %lld expired records",
                static_cast<long long>(*swept));
      }
    }
  });

  std::thread anti_entropy_thread([&] {
    LowerThisThreadsPriority();
    const int64_t interval_ms = absl::GetFlag(FLAGS_anti_entropy_interval_ms);
    if (interval_ms <= 0) return;
    while (!stop_background.WaitForNotificationWithTimeout(
        absl::Milliseconds(interval_ms))) {
      std::shared_ptr<Generation> generation = current.Get();
      if (generation->cluster()->node_count() == 1) continue;
      absl::Status s = generation->anti_entropy()->Step();
      if (!s.ok()) {
        LogWarning("node", "anti-entropy step failed: %s",
                   s.ToString().c_str());
      }
    }
  });

  std::thread touch_persister([&] {
    LowerThisThreadsPriority();
    const absl::Duration interval = absl::Milliseconds(
        std::max<int64_t>(1, absl::GetFlag(FLAGS_touch_persist_interval_ms)));
    while (!stop_background.WaitForNotificationWithTimeout(interval)) {
      absl::StatusOr<int64_t> persisted = (*store)->PersistTouches();
      if (!persisted.ok()) {
        LogWarning("node", "persisting touches failed: %s",
                   persisted.status().ToString().c_str());
      }
    }
  });

  // Tokens reload when their file changes; idle streams end.
  std::thread housekeeper([&] {
    while (!stop_background.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      sessions_proxy.EndIdleStreams(absl::Milliseconds(
          absl::GetFlag(FLAGS_stream_idle_timeout_ms)));
      current.Get()->forwarded()->EndIdleStreams();  // the peer port's
      if (tokens == nullptr) continue;
      absl::StatusOr<bool> reloaded = tokens->ReloadIfChanged();
      if (!reloaded.ok()) {
        LogWarning("node",
                   "token file not reloaded, keeping the old tokens: %s",
                   reloaded.status().ToString().c_str());
      } else if (*reloaded) {
        LogInfo("node", "token file reloaded");
      }
    }
  });

  int signal_number = 0;
  while (true) {
    sigwait(&signals, &signal_number);
    if (signal_number != SIGUSR1) break;
    if (!absl::GetFlag(FLAGS_fault_injection)) continue;
    Cluster* cluster = current.Get()->cluster();
    bool isolated = !cluster->isolated();
    cluster->SetIsolatedForTesting(isolated);
    LogInfo("node", "fault injection: %s",
            isolated ? "isolated from peers" : "reconnected to peers");
  }
  LogInfo("node", "signal %d, draining", signal_number);
  health->SetServingStatus(false);
  // No membership change is installed from here on.
  if (controller != nullptr) controller->Stop();
  // Peers learn at once that this node serves no more; streams end so that
  // clients move to other nodes now (docs/operations.md, "Drain").
  current.Get()->cluster()->SetServing(false);
  sessions_proxy.DrainStreams();
  current.Get()->forwarded()->DrainStreams();
  // Finish calls in flight, then stop. Hints stay in RocksDB; the last
  // touches go to the replicas (Cluster::Stop) and to disk (store close).
  const auto drain_deadline =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(absl::GetFlag(FLAGS_drain_timeout_ms));
  server->Shutdown(drain_deadline);
  if (peer_server != nullptr) peer_server->Shutdown(drain_deadline);
  current.Get()->cluster()->Stop();
  stop_background.Notify();
  sweeper.join();
  anti_entropy_thread.join();
  touch_persister.join();
  housekeeper.join();
  server->Wait();
  if (peer_server != nullptr) peer_server->Wait();
  (*metrics)->Stop();  // no scrape reads what is torn down below
  peer_pool.reset();  // every call is over: nothing touches the store
  client_pool.reset();
  controller.reset();  // and the generations it replaced
  etcd.reset();        // revokes the lease: a clean stop leaves no trace
  current.Swap(nullptr);
  store->reset();     // flush and close RocksDB
  LogInfo("node", "stopped");
  return 0;
}

}  // namespace
}  // namespace sesh

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "One node of a Sesh session store cluster. See --helpfull.");
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return sesh::Run();
}

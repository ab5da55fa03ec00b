#include "node/node_metrics.h"

#include <sys/statvfs.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "replication/clock.h"
#include "replication/placement.h"
#include "sesh/v1/cluster.pb.h"
#include "util/log.h"

namespace sesh {
namespace {

using metrics::MetricType;
using metrics::SampleSink;

struct Definition {
  const char* name;
  const char* help;
  MetricType type;
  std::vector<std::string> labels;
  metrics::Collect collect;
};

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

absl::StatusOr<std::unique_ptr<NodeMetrics>> NodeMetrics::Create(
    const NodeMetricsSources& sources, bool access_log) {
  std::unique_ptr<NodeMetrics> m(new NodeMetrics);
  m->sources_ = sources;
  absl::StatusOr<std::unique_ptr<RpcMetrics>> rpc =
      RpcMetrics::Create(&m->registry_, access_log);
  if (!rpc.ok()) return absl::InternalError(rpc.status().ToString());
  m->rpc_ = std::move(*rpc);
  absl::Status s = m->RegisterState();
  if (!s.ok()) return absl::InternalError(s.ToString());
  return m;
}

NodeMetrics::~NodeMetrics() { Stop(); }

void NodeMetrics::Instrument(grpc::ServerBuilder* builder,
                             absl::string_view port) {
  const std::vector<std::string> services =
      port == "client"
          ? std::vector<std::string>{"sesh.v1.Sessions", "sesh.v1.Cluster",
                                     "grpc.health.v1.Health"}
          : std::vector<std::string>{"sesh.internal.Peer", "sesh.v1.Sessions"};
  builder->experimental().SetInterceptorCreators(
      rpc_->Interceptors(port, services));
}

absl::Status NodeMetrics::Serve(const std::string& listen) {
  if (listen.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<metrics::HttpServer>> http =
      metrics::HttpServer::Start(listen, [this] { return Render(); });
  if (!http.ok()) return http.status();
  http_ = std::move(*http);
  LogInfo("metrics", "serving /metrics on port %d", http_->port());
  return absl::OkStatus();
}

int NodeMetrics::port() const { return http_ == nullptr ? 0 : http_->port(); }

void NodeMetrics::Stop() {
  if (http_ != nullptr) http_->Stop();
}

absl::Status NodeMetrics::RegisterState() {
  const NodeMetricsSources* src = &sources_;
  // The generation serving now; null once the node has shut down.
  auto generation = [src] { return src->current->Get(); };
  // Each peer of the current membership (this node left out) with its
  // index in the Cluster.
  auto for_each_peer = [generation](const std::function<void(
                                        Cluster*, int, const std::string&)>& fn) {
    std::shared_ptr<Generation> g = generation();
    if (g == nullptr) return;
    Cluster* cluster = g->cluster();
    const std::vector<std::string>& ids = cluster->placement().nodes();
    for (int i = 0; i < static_cast<int>(ids.size()); ++i) {
      if (i != cluster->self_index()) fn(cluster, i, ids[i]);
    }
  };
  auto sessions_sum = [generation](uint64_t (SessionsService::*read)() const) {
    std::shared_ptr<Generation> g = generation();
    if (g == nullptr) return -1.0;
    double sum = 0;
    for (SessionsService* s : {g->sessions(), g->forwarded()}) {
      if (s != nullptr) sum += static_cast<double>((s->*read)());
    }
    return sum;
  };
  auto anti_entropy = [generation](
                          uint64_t AntiEntropyProgress::*field) -> metrics::Collect {
    return [generation, field](SampleSink* sink) {
      std::shared_ptr<Generation> g = generation();
      if (g == nullptr || g->anti_entropy() == nullptr) return;
      sink->Add(static_cast<double>(g->anti_entropy()->progress().*field));
    };
  };
  auto membership = [src](const std::function<void(
                              const v1::MembershipStats&, SampleSink*)>& fn)
      -> metrics::Collect {
    return [src, fn](SampleSink* sink) {
      if (src->controller == nullptr) return;
      v1::MembershipStats stats;
      src->controller->Stats(&stats);
      fn(stats, sink);
    };
  };
  auto rocksdb = [src](const char* property) -> metrics::Collect {
    return [src, property](SampleSink* sink) {
      sink->Add(static_cast<double>(src->store->AggregatedProperty(property)));
    };
  };
  auto filesystem = [src](bool free) -> metrics::Collect {
    return [src, free](SampleSink* sink) {
      struct statvfs fs;
      if (statvfs(src->data_dir.c_str(), &fs) != 0) return;
      const double block = static_cast<double>(fs.f_frsize);
      sink->Add(block * static_cast<double>(free ? fs.f_bavail : fs.f_blocks));
    };
  };

  const std::vector<Definition> definitions = {
      // The node.
      {"sesh_node_info", "Always 1; node_id names the node.",
       MetricType::kGauge, {"node_id"},
       [src](SampleSink* sink) { sink->Add({src->node_id}, 1); }},
      {"sesh_node_serving",
       "1 while the node serves (caught up, not draining), else 0.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g != nullptr) sink->Add(g->cluster()->serving() ? 1 : 0);
       }},
      {"sesh_membership_epoch", "The membership epoch this node serves.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g != nullptr) sink->Add(static_cast<double>(g->cluster()->epoch()));
       }},
      {"sesh_membership_error",
       "1 while a peer runs another membership or refuses this node "
       "(MEMBERSHIP MISMATCH), else 0.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g != nullptr) {
           sink->Add(g->cluster()->membership_error().empty() ? 0 : 1);
         }
       }},
      {"sesh_cluster_nodes", "Members of the membership this node serves.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g != nullptr) sink->Add(g->cluster()->node_count());
       }},

      // Sessions and storage.
      {"sesh_stored_sessions",
       "Session records this node stores (live, expired not yet swept, and "
       "tombstones): RocksDB's estimate.",
       MetricType::kGauge, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->EstimateStored()));
       }},
      {"sesh_sessions_created_total", "Sessions created by this node.",
       MetricType::kCounter, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->sessions_created()));
       }},
      {"sesh_sessions_destroyed_total",
       "Tombstones written by this node's Destroy and DestroyByUser calls.",
       MetricType::kCounter, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->sessions_destroyed()));
       }},
      {"sesh_sweep_deleted_records_total",
       "Records the expiry sweep deleted: expired sessions past the grace "
       "period and tombstones past their deadline.",
       MetricType::kCounter, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->records_swept()));
       }},
      {"sesh_touches_requested_total",
       "Touching reads of a live session served by this node.",
       MetricType::kCounter, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->touches_requested()));
       }},
      {"sesh_touches_written_total",
       "Touches that moved last_access enough to be recorded in the touch "
       "table (and later persisted).",
       MetricType::kCounter, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->touches_written()));
       }},
      {"sesh_touch_table_pending",
       "Touch table entries not yet written to RocksDB.",
       MetricType::kGauge, {},
       [src](SampleSink* sink) {
         sink->Add(static_cast<double>(src->store->PendingTouches()));
       }},
      {"sesh_touch_persist_age_seconds",
       "Seconds since the touch table was last written to RocksDB (about "
       "--touch_persist_interval_ms when healthy).",
       MetricType::kGauge, {},
       [src](SampleSink* sink) {
         const int64_t last = src->store->last_persist_ms();
         if (last > 0) {
           sink->Add(Seconds(SystemClock()->NowMs() - last));
         }
       }},
      {"sesh_rocksdb_sst_files_bytes",
       "Size of the session store's SST files (rocksdb.total-sst-files-size).",
       MetricType::kGauge, {}, rocksdb("rocksdb.total-sst-files-size")},
      {"sesh_rocksdb_live_data_bytes",
       "Estimated live data in the session store "
       "(rocksdb.estimate-live-data-size).",
       MetricType::kGauge, {}, rocksdb("rocksdb.estimate-live-data-size")},
      {"sesh_rocksdb_pending_compaction_bytes",
       "Bytes compaction must rewrite to settle "
       "(rocksdb.estimate-pending-compaction-bytes).",
       MetricType::kGauge, {},
       rocksdb("rocksdb.estimate-pending-compaction-bytes")},
      {"sesh_rocksdb_compaction_pending",
       "Column families with a compaction pending "
       "(rocksdb.compaction-pending).",
       MetricType::kGauge, {}, rocksdb("rocksdb.compaction-pending")},
      {"sesh_filesystem_free_bytes",
       "Bytes available to the node on the data directory's filesystem.",
       MetricType::kGauge, {}, filesystem(true)},
      {"sesh_filesystem_size_bytes",
       "Size of the data directory's filesystem in bytes.",
       MetricType::kGauge, {}, filesystem(false)},

      // Replication, per peer.
      {"sesh_peer_up",
       "1 if this node's failure detector sees the peer up, else 0.",
       MetricType::kGauge, {"peer"},
       [for_each_peer](SampleSink* sink) {
         for_each_peer([sink](Cluster* c, int i, const std::string& id) {
           sink->Add({id}, c->IsUp(i) ? 1 : 0);
         });
       }},
      {"sesh_peer_last_heard_seconds",
       "Seconds since the peer last answered or sent a heartbeat.",
       MetricType::kGauge, {"peer"},
       [for_each_peer](SampleSink* sink) {
         const int64_t now = SteadyClock()->NowMs();
         for_each_peer([sink, now](Cluster* c, int i, const std::string& id) {
           const int64_t heard = c->leases().LastHeard(i);
           if (heard > 0) sink->Add({id}, Seconds(now - heard));
         });
       }},
      {"sesh_replication_queue_records",
       "Replicated records queued for the peer and not yet sent.",
       MetricType::kGauge, {"peer"},
       [for_each_peer](SampleSink* sink) {
         for_each_peer([sink](Cluster* c, int i, const std::string& id) {
           sink->Add({id}, static_cast<double>(c->BacklogFor(i).records));
         });
       }},
      {"sesh_replication_lag_seconds",
       "How long the oldest write queued for the peer has waited to be "
       "sent (0 when none waits).",
       MetricType::kGauge, {"peer"},
       [for_each_peer](SampleSink* sink) {
         for_each_peer([sink](Cluster* c, int i, const std::string& id) {
           sink->Add({id}, Seconds(c->BacklogFor(i).oldest_wait_ms));
         });
       }},
      {"sesh_hints_queued",
       "Writes held (persisted) for the peer that missed them.",
       MetricType::kGauge, {"peer"},
       [src, for_each_peer](SampleSink* sink) {
         for_each_peer([src, sink](Cluster*, int, const std::string& id) {
           sink->Add({id}, static_cast<double>(src->hints->Count(id)));
         });
       }},
      {"sesh_hints_queued_bytes",
       "Bytes of the writes held for the peer (bounded by "
       "--max_hint_bytes_per_peer).",
       MetricType::kGauge, {"peer"},
       [src, for_each_peer](SampleSink* sink) {
         for_each_peer([src, sink](Cluster*, int, const std::string& id) {
           sink->Add({id}, static_cast<double>(src->hints->Bytes(id)));
         });
       }},
      {"sesh_read_repairs_total",
       "Calls that read the other replicas before answering (a down "
       "primary, or no read lease). Restarts at a membership change.",
       MetricType::kCounter, {},
       [sessions_sum](SampleSink* sink) {
         const double sum = sessions_sum(&SessionsService::repair_reads);
         if (sum >= 0) sink->Add(sum);
       }},
      {"sesh_requests_forwarded_total",
       "Calls this node forwarded to the partition's coordinator. Restarts "
       "at a membership change.",
       MetricType::kCounter, {},
       [sessions_sum](SampleSink* sink) {
         const double sum = sessions_sum(&SessionsService::requests_forwarded);
         if (sum >= 0) sink->Add(sum);
       }},

      // Leases.
      {"sesh_primary_partitions", "Partitions this node is the primary of.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g == nullptr) return;
         const PlacementMap& placement = g->cluster()->placement();
         const int self = g->cluster()->self_index();
         int64_t count = 0;
         for (uint32_t p = 0; p < kPartitionCount; ++p) {
           if (placement.Primary(p) == self) ++count;
         }
         sink->Add(static_cast<double>(count));
       }},
      {"sesh_read_lease_partitions",
       "Partitions this node may read from its own copy alone now (it is "
       "the primary and holds a read lease).",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g == nullptr) return;
         Cluster* cluster = g->cluster();
         const int self = cluster->self_index();
         int64_t count = 0;
         for (uint32_t p = 0; p < kPartitionCount; ++p) {
           if (cluster->placement().Primary(p) == self &&
               cluster->HasReadLease(p)) {
             ++count;
           }
         }
         sink->Add(static_cast<double>(count));
       }},
      {"sesh_read_leases_fenced",
       "1 once this generation may take read leases (every up peer at its "
       "epoch, nothing owed), else 0.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g != nullptr) sink->Add(g->cluster()->LeasesFenced() ? 1 : 0);
       }},

      // Anti-entropy.
      {"sesh_anti_entropy_passes_total",
       "Full anti-entropy passes over every partition.", MetricType::kCounter,
       {}, anti_entropy(&AntiEntropyProgress::passes_completed)},
      {"sesh_anti_entropy_pass_progress_ratio",
       "Position of the anti-entropy pass under way, from 0 to 1.",
       MetricType::kGauge, {},
       [generation](SampleSink* sink) {
         std::shared_ptr<Generation> g = generation();
         if (g == nullptr || g->anti_entropy() == nullptr) return;
         sink->Add(static_cast<double>(
                       g->anti_entropy()->progress().next_partition) /
                   kPartitionCount);
       }},
      {"sesh_anti_entropy_partitions_compared_total",
       "Partitions compared with at least one other replica.",
       MetricType::kCounter, {},
       anti_entropy(&AntiEntropyProgress::partitions_compared)},
      {"sesh_anti_entropy_partitions_repaired_total",
       "Compared partitions that differed and were repaired.",
       MetricType::kCounter, {},
       anti_entropy(&AntiEntropyProgress::partitions_repaired)},
      {"sesh_anti_entropy_records_pulled_total",
       "Records anti-entropy received from peers.", MetricType::kCounter, {},
       anti_entropy(&AntiEntropyProgress::records_pulled)},
      {"sesh_anti_entropy_records_pushed_total",
       "Records anti-entropy sent to peers.", MetricType::kCounter, {},
       anti_entropy(&AntiEntropyProgress::records_pushed)},
      {"sesh_anti_entropy_peer_errors_total",
       "Anti-entropy peer calls that failed.", MetricType::kCounter, {},
       anti_entropy(&AntiEntropyProgress::peer_errors)},

      // Managed membership (--etcd) and hand-off.
      {"sesh_membership_members",
       "Members of the managed membership by state (JOINING, NORMAL, "
       "LEAVING).",
       MetricType::kGauge, {"state"},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         int joining = 0, normal = 0, leaving = 0;
         for (const v1::MemberStatus& m : s.members()) {
           if (m.state() == "JOINING") ++joining;
           if (m.state() == "NORMAL") ++normal;
           if (m.state() == "LEAVING") ++leaving;
         }
         sink->Add({"JOINING"}, joining);
         sink->Add({"NORMAL"}, normal);
         sink->Add({"LEAVING"}, leaving);
       })},
      {"sesh_etcd_reachable",
       "1 if the node reached etcd at its last attempt, else 0.",
       MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(s.etcd_error().empty() ? 1 : 0);
       })},
      {"sesh_handoff_epoch",
       "The epoch of this node's latest hand-off (0: none).",
       MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(static_cast<double>(s.handoff().epoch()));
       })},
      {"sesh_handoff_partitions",
       "Partitions the latest hand-off fetches (to_fetch) and has fetched "
       "(done).",
       MetricType::kGauge, {"state"},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add({"to_fetch"}, s.handoff().partitions_total());
         sink->Add({"done"}, s.handoff().partitions_done());
       })},
      {"sesh_handoff_received_bytes",
       "Bytes the latest hand-off received.", MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(static_cast<double>(s.handoff().bytes_received()));
       })},
      {"sesh_handoff_received_records",
       "Records the latest hand-off received.", MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(static_cast<double>(s.handoff().records_received()));
       })},
      {"sesh_handoff_eta_seconds",
       "Estimated seconds until the hand-off under way ends (0: done or "
       "unknown).",
       MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(s.handoff().eta_seconds());
       })},
      {"sesh_handoff_done", "1 once the latest hand-off finished, else 0.",
       MetricType::kGauge, {},
       membership([](const v1::MembershipStats& s, SampleSink* sink) {
         sink->Add(s.handoff().done() ? 1 : 0);
       })},
  };
  for (const Definition& d : definitions) {
    absl::Status s =
        registry_.AddCallback(d.name, d.help, d.type, d.labels, d.collect);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace sesh

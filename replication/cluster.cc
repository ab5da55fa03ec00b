#include "replication/cluster.h"

#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "replication/merge.h"
#include "util/log.h"

namespace sesh {
namespace {

using internal::SessionRecord;

}  // namespace

struct Cluster::PeerState {
  struct Pending {
    std::vector<SessionRecord> records;
    std::vector<std::pair<std::string, int64_t>> touches;
    // Called with true once the peer acknowledged, false on failure. May be
    // empty (lazy touches, hint replay).
    std::function<void(bool)> ack;
    // The partition of `records` when `ack` is set.
    uint32_t partition = 0;
    // A replay of these hints (records is empty then); removed from the
    // hint store once the peer applied them.
    std::vector<Hint> hints;
    // For a pending replica: applied counts, vouched or not.
    bool applied_is_enough = false;
    // When it was queued (steady ms), for BacklogFor.
    int64_t queued_ms = 0;
  };

  // Apply calls to the peer, queued and in flight.
  struct Lane {
    std::deque<Pending> queue;
    int in_flight = 0;
  };

  absl::Mutex mu;
  // Writes waiting for acks, and lazy traffic (touches, hint replays).
  Lane writes ABSL_GUARDED_BY(mu);
  Lane lazy ABSL_GUARDED_BY(mu);
  // Records in writes.queue (bounded by max_queued_per_peer).
  int64_t queued_records ABSL_GUARDED_BY(mu) = 0;
  // A page of hints is being replayed (one at a time), and the raw id of
  // the last hint of the previous page.
  bool replaying ABSL_GUARDED_BY(mu) = false;
  std::string replay_after ABSL_GUARDED_BY(mu);
  bool hints_dropped ABSL_GUARDED_BY(mu) = false;
  // Touches (raw id -> last_access) waiting for the next lazy flush.
  absl::flat_hash_map<std::string, int64_t> touches ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(
    const ClusterOptions& options, PeerTransport* transport, HintStore* hints,
    Clock* steady) {
  std::vector<std::string> ids;
  for (const PeerSpec& p : options.peers) ids.push_back(p.id);
  absl::StatusOr<PlacementMap> placement = PlacementMap::Build(
      ids, options.replication_factor,
      options.holders.empty() ? ids : options.holders, options.epoch);
  if (!placement.ok()) return placement.status();
  std::optional<PlacementMap> pending;
  if (!options.pending_holders.empty()) {
    absl::StatusOr<PlacementMap> target =
        PlacementMap::Build(ids, options.replication_factor,
                            options.pending_holders, options.epoch);
    if (!target.ok()) return target.status();
    pending = std::move(*target);
  }
  if (options.failure_timeout_ms <= 2 * options.heartbeat_interval_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("--failure_timeout_ms (", options.failure_timeout_ms,
                     ") must be more than twice --heartbeat_interval_ms (",
                     options.heartbeat_interval_ms, ")"));
  }
  int self = placement->IndexOf(options.self_id);
  if (self < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--node_id '", options.self_id, "' is not in --peers"));
  }
  if (hints == nullptr && options.peers.size() > 1) {
    return absl::InvalidArgumentError("a cluster of several nodes needs hints");
  }
  return std::unique_ptr<Cluster>(
      new Cluster(options, std::move(*placement), std::move(pending), self,
                  transport, hints, steady));
}

Cluster::Cluster(const ClusterOptions& options, PlacementMap placement,
                 std::optional<PlacementMap> pending, int self_index,
                 PeerTransport* transport, HintStore* hints, Clock* steady)
    : options_(options),
      placement_(std::move(placement)),
      pending_(std::move(pending)),
      self_index_(self_index),
      transport_(transport),
      hints_(hints),
      steady_(steady),
      incarnation_(SystemClock()->NowMs()),
      leases_(&placement_, self_index,
              LeaseOptions{options.heartbeat_interval_ms,
                           options.failure_timeout_ms},
              steady),
      detector_(static_cast<int>(placement_.nodes().size()), self_index,
                options.failure_timeout_ms, steady, &leases_) {
  addresses_.resize(placement_.nodes().size());
  for (const PeerSpec& p : options_.peers) {
    addresses_[placement_.IndexOf(p.id)] = p.address;
  }
  for (size_t i = 0; i < addresses_.size(); ++i) {
    peers_.push_back(std::make_unique<PeerState>());
  }
  peer_epochs_ = std::vector<std::atomic<uint64_t>>(addresses_.size());
  owed_to_me_ = std::vector<std::atomic<int64_t>>(addresses_.size());
  for (auto& owed : owed_to_me_) owed.store(-1);  // not heard yet
  created_ms_ = steady->NowMs();
  holder_nodes_.assign(addresses_.size(), options_.holders.empty());
  for (const std::string& id : options_.holders) {
    holder_nodes_[placement_.IndexOf(id)] = true;
  }
  leaving_nodes_.assign(addresses_.size(), false);
  for (const std::string& id : LeavingIds()) {
    if (id == options_.self_id) leaving_ = true;
    leaving_nodes_[placement_.IndexOf(id)] = true;
  }
}

Cluster::~Cluster() { Stop(); }

void Cluster::Start() {
  if (started_.exchange(true)) return;
  heartbeat_thread_ = std::thread([this] {
    // At once: peers learn this node runs (and is catching up) and
    // re-establish their connections to it while it does.
    do {
      SendHeartbeats();
    } while (!stop_.WaitForNotificationWithTimeout(
        absl::Milliseconds(options_.heartbeat_interval_ms)));
  });
  flush_thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(
        absl::Milliseconds(options_.touch_flush_interval_ms))) {
      FlushLazy();
    }
    FlushLazy();  // a stopping node hands its last touches to the replicas
  });
}

void Cluster::Stop() {
  if (stop_.HasBeenNotified()) return;
  stop_.Notify();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (flush_thread_.joinable()) flush_thread_.join();
  // Every call has a deadline; this waits at most for the longest.
  absl::MutexLock lock(&calls_mu_);
  calls_mu_.AwaitWithTimeout(
      absl::Condition(
          +[](int* n) { return *n == 0; }, &calls_in_flight_),
      absl::Milliseconds(2 * options_.replicate_timeout_ms +
                         4 * options_.heartbeat_interval_ms));
}

void Cluster::CallStarted() {
  absl::MutexLock lock(&calls_mu_);
  ++calls_in_flight_;
}

void Cluster::CallDone() {
  absl::MutexLock lock(&calls_mu_);
  --calls_in_flight_;
}

void Cluster::SetServing(bool serving) {
  const bool was = serving_.exchange(serving);
  if (serving != was && started_.load() && !stop_.HasBeenNotified()) {
    SendHeartbeats();
  }
}

bool Cluster::IsUp(int node) const {
  if (node == self_index_) return serving_.load();
  return detector_.IsUp(node);
}

void Cluster::MarkSuspect(int node, const absl::Status& reason) {
  if (node == self_index_) return;
  if (detector_.Suspect(node)) {
    LogWarning("cluster", "peer %s unreachable (%s), treating it as down",
               placement_.nodes()[node].c_str(), reason.ToString().c_str());
  }
}

int64_t Cluster::AnswerHeartbeat(const internal::HeartbeatRequest& request) {
  const int node = placement_.IndexOf(request.from_node());
  if (node < 0 || node == self_index_) return 0;
  const bool serving = request.serving();
  int64_t owed = 0;
  {
    absl::MutexLock lock(&vouch_mu_);
    // An older heartbeat than one already handled changes nothing here,
    // and a lease the sender derives from it ends earlier than the one
    // from the newer: answering it is safe.
    leases_.HeardFrom(node, serving, request.incarnation(), request.sequence());
    peer_epochs_[node].store(request.epoch());  // called at equal epochs
    owed = hints_ == nullptr ? 0 : hints_->Count(request.from_node());
  }
  if (stop_.HasBeenNotified()) return owed;
  // It reaches us but we cannot reach it (most often our channel still
  // waits out a reconnect backoff from before it restarted), or it serves
  // now and our view says it does not: ask it at once instead of at the
  // next round, so that for a restarted node the window in which it is
  // neither up here nor silent (writes to its partitions refused) lasts a
  // round trip, not a heartbeat interval.
  const bool reachable = detector_.Reachable(node);
  if (!reachable) transport_->RetryNow(node);
  if (!reachable || detector_.AnsweredServing(node) != serving) {
    HeartbeatTo(node, /*wait_for_connection=*/true);
  }
  return owed;
}

bool Cluster::VouchFor(uint32_t partition,
                       const std::vector<SessionRecord>& records) {
  if (PreviousPrimaryMayServe(partition)) return false;
  const int primary = placement_.Primary(partition);
  if (primary == self_index_) return true;
  absl::MutexLock lock(&vouch_mu_);
  if (!leases_.MayVouch(partition)) return false;
  return AddHints(primary, records);
}

int64_t Cluster::HintsFor(const std::string& node_id) const {
  const int node = placement_.IndexOf(node_id);
  if (node < 0 || node == self_index_ || hints_ == nullptr) return 0;
  return hints_->Count(node_id);
}

int Cluster::Coordinator(uint32_t partition) const {
  // A LEAVING node coordinates nothing, so that it holds no hints when it
  // goes (docs/scaling.md); it still does if no other replica is up.
  int leaving = -1;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (!IsUp(node)) continue;
    if (!leaving_nodes_[node]) return node;
    if (leaving < 0) leaving = node;
  }
  return leaving;
}

std::vector<int> Cluster::LiveReplicas(uint32_t partition) const {
  std::vector<int> out;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (IsUp(node)) out.push_back(node);
  }
  return out;
}

int Cluster::AcksNeeded(uint32_t partition, Durability durability) const {
  return sesh::AcksNeeded(
      static_cast<int>(placement_.Replicas(partition).size()), durability);
}

bool Cluster::AddHints(int node, const std::vector<SessionRecord>& records) {
  if (records.empty()) return true;
  if (hints_ == nullptr) return false;
  const std::string& peer = placement_.nodes()[node];
  absl::StatusOr<int> dropped = hints_->Add(peer, records);
  bool log = !dropped.ok() || *dropped > 0;
  if (log) {
    PeerState& p = *peers_[node];
    absl::MutexLock lock(&p.mu);
    log = !p.hints_dropped;  // once until the hints drain
    p.hints_dropped = true;
  }
  if (log) {
    LogInfo("cluster",
            "hints for peer %s not kept (%s); what it missed is left to its "
            "catch-up, read repair and anti-entropy",
            peer.c_str(),
            dropped.ok() ? "over --max_hint_bytes_per_peer"
                         : dropped.status().ToString().c_str());
  }
  return dropped.ok() && *dropped == 0;
}

Cluster::Backlog Cluster::BacklogFor(int node) const {
  Backlog backlog;
  if (node < 0 || node >= static_cast<int>(peers_.size())) return backlog;
  PeerState& p = *peers_[node];
  absl::MutexLock lock(&p.mu);
  backlog.records = p.queued_records;
  if (!p.writes.queue.empty()) {
    backlog.oldest_wait_ms =
        std::max<int64_t>(0, steady_->NowMs() - p.writes.queue.front().queued_ms);
  }
  return backlog;
}

int64_t Cluster::HintsQueued() const {
  return hints_ == nullptr ? 0 : hints_->TotalCount();
}

void Cluster::Replicate(uint32_t partition, std::vector<SessionRecord> records,
                        int acks_wanted, std::function<void(int acks)> done) {
  struct Tally {
    absl::Mutex mu;
    int acks ABSL_GUARDED_BY(mu) = 0;
    int answered ABSL_GUARDED_BY(mu) = 0;
    int pending_acks ABSL_GUARDED_BY(mu) = 0;
    int pending_answered ABSL_GUARDED_BY(mu) = 0;
    bool fired ABSL_GUARDED_BY(mu) = false;
    int total = 0;
    int wanted = 0;
    int pending_total = 0;
    std::function<void(int)> done;
  };
  std::vector<int> others;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (node != self_index_) others.push_back(node);
  }
  // Pending replicas that are up must apply the write too: a gainer then
  // holds every write acknowledged while it fetches (docs/scaling.md). One
  // that is down fetches again when it comes back.
  std::vector<int> pending_up, pending_down;
  for (int node : PendingOnly(partition)) {
    (IsUp(node) ? pending_up : pending_down).push_back(node);
  }
  auto tally = std::make_shared<Tally>();
  tally->total = static_cast<int>(others.size());
  tally->wanted = acks_wanted;
  tally->pending_total = static_cast<int>(pending_up.size());
  tally->done = std::move(done);
  // Under tally->mu: the callback to run once the write is decided.
  auto settle = [tally]() -> std::function<void()> {
    const bool pending_ok = tally->pending_acks == tally->pending_total;
    const bool all_in = tally->answered == tally->total &&
                        tally->pending_answered == tally->pending_total;
    if (tally->fired || !((tally->acks >= tally->wanted && pending_ok) ||
                          all_in)) {
      return nullptr;
    }
    tally->fired = true;
    // A pending replica that did not apply it fails the write.
    const int acks = pending_ok ? tally->acks
                                : std::min(tally->acks, tally->wanted - 1);
    return [done = tally->done, acks] { done(acks); };
  };
  auto record_answer = [tally, settle](bool ok) {
    std::function<void()> fire;
    {
      absl::MutexLock lock(&tally->mu);
      ++tally->answered;
      if (ok) ++tally->acks;
      fire = settle();
    }
    if (fire) fire();
  };
  auto record_pending = [tally, settle](bool ok) {
    std::function<void()> fire;
    {
      absl::MutexLock lock(&tally->mu);
      ++tally->pending_answered;
      if (ok) ++tally->pending_acks;
      fire = settle();
    }
    if (fire) fire();
  };
  if (others.empty() || acks_wanted <= 0) {
    {
      absl::MutexLock lock(&tally->mu);
      tally->fired = true;
    }
    tally->done(0);
    // Still replicate in the background below.
  }
  const int64_t records_count = static_cast<int64_t>(records.size());
  for (int node : others) {
    // A peer we cannot call but still hear from may be a primary serving
    // under its lease: send anyway, so that it gets to acknowledge.
    if (!IsUp(node) && !detector_.Reachable(node) && leases_.Silent(node)) {
      AddHints(node, records);
      record_answer(false);
      continue;
    }
    PeerState& p = *peers_[node];
    bool full = false;
    {
      absl::MutexLock lock(&p.mu);
      if (p.queued_records + records_count > options_.max_queued_per_peer) {
        full = true;
      } else {
        p.queued_records += records_count;
        p.writes.queue.push_back({records, {}, record_answer, partition});
        p.writes.queue.back().queued_ms = steady_->NowMs();
      }
    }
    if (full) {
      // Backpressure: a peer this far behind gets the write later, as a
      // hint; the write's durability counts on the others.
      AddHints(node, records);
      record_answer(false);
      continue;
    }
    Pump(node);
  }
  for (int node : pending_down) AddHints(node, records);
  for (int node : pending_up) {
    PeerState& p = *peers_[node];
    bool full = false;
    {
      absl::MutexLock lock(&p.mu);
      if (p.queued_records + records_count > options_.max_queued_per_peer) {
        full = true;
      } else {
        p.queued_records += records_count;
        PeerState::Pending pending{records, {}, record_pending, partition};
        pending.applied_is_enough = true;
        pending.queued_ms = steady_->NowMs();
        p.writes.queue.push_back(std::move(pending));
      }
    }
    if (full) {
      AddHints(node, records);
      record_pending(false);
      continue;
    }
    Pump(node);
  }
}

void Cluster::Pump(int node, bool lazy) {
  PeerState& p = *peers_[node];
  PeerState::Lane& lane = lazy ? p.lazy : p.writes;
  const int max_in_flight = lazy ? 1 : options_.max_applies_in_flight;
  auto batch = std::make_shared<std::vector<PeerState::Pending>>();
  {
    absl::MutexLock lock(&p.mu);
    if (lane.in_flight >= max_in_flight || lane.queue.empty()) return;
    size_t count = 0;
    while (!lane.queue.empty() &&
           count < static_cast<size_t>(options_.max_apply_batch)) {
      const PeerState::Pending& next = lane.queue.front();
      count +=
          next.records.size() + next.hints.size() + next.touches.size() / 16;
      if (!lazy) p.queued_records -= static_cast<int64_t>(next.records.size());
      batch->push_back(std::move(lane.queue.front()));
      lane.queue.pop_front();
    }
    ++lane.in_flight;
  }
  bool replay = false;
  for (const PeerState::Pending& pending : *batch) {
    if (!pending.hints.empty()) replay = true;
  }
  // Ends this call's slot in its lane; the caller decides whether to pump.
  // A failed call has put its records back among the hints by then; a
  // failed replay leaves its hints held.
  auto release = [&p, &lane, replay] {
    absl::MutexLock lock(&p.mu);
    --lane.in_flight;
    if (replay) p.replaying = false;
  };
  if (isolated_.load()) {
    for (PeerState::Pending& pending : *batch) {
      AddHints(node, pending.records);
      if (pending.ack) pending.ack(false);
    }
    release();
    return;
  }
  internal::ApplyRequest request;
  request.set_from_node(options_.self_id);
  request.set_epoch(epoch());
  for (const PeerState::Pending& pending : *batch) {
    for (const SessionRecord& r : pending.records) {
      *request.add_records() = r;
    }
    for (const Hint& hint : pending.hints) {
      *request.add_records() = hint.record;
    }
    for (const auto& [id, last_access] : pending.touches) {
      internal::Touch* touch = request.add_touches();
      touch->set_id(id);
      touch->set_last_access_ms(last_access);
    }
  }
  CallStarted();
  transport_->Apply(
      node, std::move(request), options_.replicate_timeout_ms,
      [this, node, lazy, batch, release](
          absl::Status status, const internal::ApplyResponse& response) {
        const bool unreachable =
            absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
        // A peer that refused the records themselves (a bad id, a stamp
        // too far ahead) would refuse them again: they are not hints.
        const bool refused =
            absl::IsOutOfRange(status) || absl::IsInvalidArgument(status);
        if (!status.ok() && !refused) {
          for (const PeerState::Pending& pending : *batch) {
            AddHints(node, pending.records);
          }
        }
        if (unreachable) MarkSuspect(node, status);
        if (absl::IsFailedPrecondition(status) && options_.on_newer_epoch) {
          options_.on_newer_epoch();  // the peer runs a newer membership
        }
        if (status.ok() || refused) {
          for (const PeerState::Pending& pending : *batch) {
            if (pending.hints.empty()) continue;
            absl::Status removed =
                hints_->Remove(placement_.nodes()[node], pending.hints);
            if (!removed.ok()) {
              LogInfo("cluster", "removing delivered hints: %s",
                      removed.ToString().c_str());
            }
          }
        }
        const auto& unvouched = response.unvouched_partitions();
        for (PeerState::Pending& pending : *batch) {
          if (!pending.ack) continue;
          pending.ack(status.ok() &&
                      (pending.applied_is_enough ||
                       std::find(unvouched.begin(), unvouched.end(),
                                 pending.partition) == unvouched.end()));
        }
        release();
        Pump(node, lazy);
        CallDone();
      });
}

void Cluster::ReplicateTouch(uint32_t partition, const std::string& raw_id,
                             int64_t last_access_ms) {
  std::vector<int> nodes = PendingOnly(partition);
  for (uint8_t node : placement_.Replicas(partition)) nodes.push_back(node);
  for (int node : nodes) {
    if (node == self_index_) continue;
    PeerState& p = *peers_[node];
    absl::MutexLock lock(&p.mu);
    int64_t& queued = p.touches[raw_id];
    queued = std::max(queued, last_access_ms);
  }
}

void Cluster::ReadFromReplicas(
    uint32_t partition, const std::string& raw_id,
    std::function<void(SessionRecord, int answered)> done) {
  struct Gather {
    absl::Mutex mu;
    SessionRecord merged ABSL_GUARDED_BY(mu);
    int pending ABSL_GUARDED_BY(mu) = 0;
    int answered ABSL_GUARDED_BY(mu) = 0;
    std::function<void(SessionRecord, int)> done;
  };
  std::vector<int> others;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (node != self_index_ && IsUp(node)) others.push_back(node);
  }
  if (others.empty() || isolated_.load()) {
    done(SessionRecord(), 0);
    return;
  }
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  {
    absl::MutexLock lock(&gather->mu);
    gather->pending = static_cast<int>(others.size());
  }
  for (int node : others) {
    internal::ReadRequest request;
    request.add_ids(raw_id);
    request.set_epoch(epoch());
    CallStarted();
    transport_->Read(
        node, std::move(request), options_.replicate_timeout_ms / 2,
        [this, node, gather](absl::Status status,
                             const internal::ReadResponse& response) {
          if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
            MarkSuspect(node, status);
          }
          if (absl::IsFailedPrecondition(status) && options_.on_newer_epoch) {
            options_.on_newer_epoch();
          }
          SessionRecord result;
          bool last = false;
          int answered = 0;
          {
            absl::MutexLock lock(&gather->mu);
            if (status.ok()) {
              ++gather->answered;
              for (const SessionRecord& r : response.records()) {
                gather->merged = Merge(gather->merged, r);
              }
            }
            last = --gather->pending == 0;
            if (last) {
              result = gather->merged;
              answered = gather->answered;
            }
          }
          if (last) gather->done(std::move(result), answered);
          CallDone();
        });
  }
}

void Cluster::SendHeartbeats() {
  if (isolated_.load()) return;
  for (int node = 0; node < node_count(); ++node) {
    if (node != self_index_) HeartbeatTo(node);
  }
}

void Cluster::HeartbeatTo(int node, bool wait_for_connection) {
  internal::HeartbeatRequest request;
  request.set_from_node(options_.self_id);
  request.set_epoch(epoch());
  const bool serving = serving_.load();
  request.set_serving(serving);
  request.set_incarnation(incarnation_);
  request.set_sequence(heartbeat_sequence_.fetch_add(1) + 1);
  const int64_t sent_ms = steady_->NowMs();
  CallStarted();
  transport_->Heartbeat(
      node, std::move(request), options_.heartbeat_interval_ms * 2,
      wait_for_connection,
      [this, node, serving, sent_ms](
          absl::Status status, const internal::HeartbeatResponse& response) {
        OnHeartbeatAnswer(node, serving, sent_ms, status, response);
        CallDone();
      });
}

void Cluster::OnHeartbeatAnswer(int node, bool serving, int64_t sent_ms,
                                const absl::Status& status,
                                const internal::HeartbeatResponse& response) {
  if (!status.ok()) {
    // Nothing listens at the peer's address (its process is not
    // running): down for routing, without waiting for the timeout. Unless
    // the peer's own heartbeat arrived within the last interval: then it
    // runs, and only our connection to it is being re-established.
    if (absl::IsUnavailable(status) && transport_->Refusing(node) &&
        steady_->NowMs() - leases_.LastHeard(node) >=
            options_.heartbeat_interval_ms) {
      detector_.Refused(node);
    }
    // No connection: an answer from before says nothing of the process
    // there now (it may have restarted), so it must answer again before it
    // is up; hearing from it retries the connection at once.
    if (absl::IsUnavailable(status)) MarkSuspect(node, status);
    // The peer refuses this node: not in its membership, or a certificate
    // it does not accept.
    if (managed() &&
        (absl::IsInvalidArgument(status) || absl::IsUnauthenticated(status) ||
         absl::IsPermissionDenied(status))) {
      // Not a member in the peer's epoch: the membership moved on (or the
      // peer's has not caught up yet); refetch rather than alarm.
      if (options_.on_newer_epoch) options_.on_newer_epoch();
      return;
    }
    if (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) ||
        absl::IsInvalidArgument(status)) {
      ReportMembershipError(absl::StrCat(
          "MEMBERSHIP MISMATCH: peer ", placement_.nodes()[node],
          " refuses this node's heartbeats (", status.message(),
          "); --peers, --replication_factor and the node certificates must "
          "agree on every node"));
    }
    return;
  }
  peer_epochs_[node].store(response.epoch());
  if (response.epoch() != epoch()) {
    CheckPeerEpoch(placement_.nodes()[node], response.epoch());
    return;
  }
  owed_to_me_[node].store(response.hints_for_you());
  // The peer heard this node at or after sent_ms, so it vouches for
  // no write of this node's partitions before sent_ms +
  // vouch_after_ms(). Granted only once it holds no write this node
  // has not applied, and only for a heartbeat that said this node
  // serves.
  if (serving && response.hints_for_you() == 0) {
    leases_.Granted(node, sent_ms);
  }
  if (detector_.Answered(node, response.serving())) {
    LogInfo("cluster", "peer %s is up", placement_.nodes()[node].c_str());
  }
}

void Cluster::FlushLazy() {
  for (int node = 0; node < node_count(); ++node) {
    if (node == self_index_) continue;
    PeerState& p = *peers_[node];
    const std::string& peer = placement_.nodes()[node];
    // Hints wait until the peer answers heartbeats again.
    const bool reachable = detector_.Reachable(node);
    std::string after;
    bool replay = false;
    {
      absl::MutexLock lock(&p.mu);
      if (reachable && !p.touches.empty()) {
        PeerState::Pending touches;
        touches.touches.assign(p.touches.begin(), p.touches.end());
        p.lazy.queue.push_back(std::move(touches));
      }
      p.touches.clear();
      replay = reachable && hints_ != nullptr && !p.replaying &&
               hints_->Count(peer) > 0;
      if (replay) {
        p.replaying = true;
        after = p.replay_after;
      }
    }
    if (replay) {
      absl::StatusOr<std::vector<Hint>> page =
          hints_->Peek(peer, options_.max_apply_batch, after);
      absl::MutexLock lock(&p.mu);
      if (!page.ok() || page->empty()) {
        p.replaying = false;
        p.replay_after.clear();
      } else {
        // A short page is the last: the next replay starts from the first.
        p.replay_after =
            static_cast<int>(page->size()) < options_.max_apply_batch
                ? std::string()
                : page->back().record.id();
        PeerState::Pending pending;
        pending.hints = std::move(*page);
        p.lazy.queue.push_back(std::move(pending));
      }
      if (hints_->Count(peer) == 0) p.hints_dropped = false;
    }
    Pump(node, /*lazy=*/true);
  }
}

void Cluster::CheckPeerEpoch(const std::string& peer_id, uint64_t epoch) {
  if (epoch == placement_.epoch()) return;
  if (managed()) {
    // A membership change propagating, not a misconfiguration.
    if (epoch > placement_.epoch() && options_.on_newer_epoch) {
      options_.on_newer_epoch();
    }
    return;
  }
  ReportMembershipError(absl::StrCat(
      "MEMBERSHIP MISMATCH: peer ", peer_id, " runs membership epoch ", epoch,
      ", this node ", placement_.epoch(),
      "; --peers and --replication_factor must be identical on every node"));
}

void Cluster::ReportMembershipError(const std::string& error) {
  {
    absl::MutexLock lock(&membership_mu_);
    if (membership_error_ == error) return;
    membership_error_ = error;
  }
  LogWarning("cluster", "%s", error.c_str());
  if (options_.on_membership_error) options_.on_membership_error(error);
}

std::string Cluster::membership_error() const {
  absl::MutexLock lock(&membership_mu_);
  return membership_error_;
}

}  // namespace sesh

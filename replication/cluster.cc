#include "replication/cluster.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "replication/grpc_pin.h"
#include "replication/merge.h"

namespace sesh {
namespace {

using internal::SessionRecord;

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

}  // namespace

absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view spec) {
  std::vector<PeerSpec> peers;
  std::set<std::string> seen;
  for (absl::string_view entry :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (parts.first.empty() || parts.second.empty() ||
        parts.second.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peers entry '", entry, "' is not id=host:port"));
    }
    if (!seen.insert(parts.first).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers names node '", parts.first, "' twice"));
    }
    peers.push_back({parts.first, parts.second});
  }
  if (peers.empty()) return absl::InvalidArgumentError("--peers is empty");
  return peers;
}

struct Cluster::PeerState {
  struct Pending {
    std::vector<SessionRecord> records;
    std::vector<std::pair<std::string, int64_t>> touches;
    // Called with true once the peer acknowledged, false on failure. May be
    // empty (lazy touches, hint replay).
    std::function<void(bool)> ack;
    // The partition of `records` when `ack` is set.
    uint32_t partition = 0;
  };

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Sessions::Stub> sessions;
  std::unique_ptr<internal::Peer::Stub> peer;
  // Monotonic ms of the last successful heartbeat; 0 = never / suspect.
  std::atomic<int64_t> last_ok_ms{0};
  std::atomic<bool> remote_serving{false};
  // Monotonic ms when the peer's last heartbeat arrived here; 0 = never.
  std::atomic<int64_t> last_heard_ms{0};
  std::atomic<bool> heard_serving{false};
  // Monotonic ms when a heartbeat to the peer last found nothing accepting
  // connections at its address (its process is not running).
  std::atomic<int64_t> refused_ms{0};
  // Monotonic ms until which this node holds a read lease from the peer.
  std::atomic<int64_t> lease_until_ms{0};

  // Apply calls to the peer, queued and in flight.
  struct Lane {
    std::deque<Pending> queue;
    int in_flight = 0;
  };

  absl::Mutex mu;
  // Writes waiting for acks, and lazy traffic (touches, hint replays).
  Lane writes ABSL_GUARDED_BY(mu);
  Lane lazy ABSL_GUARDED_BY(mu);
  // Latest state per raw id of what the peer missed while down.
  std::map<std::string, SessionRecord> hints ABSL_GUARDED_BY(mu);
  bool hints_dropped ABSL_GUARDED_BY(mu) = false;
  // Hint records taken from `hints` into the lazy lane and not yet
  // answered.
  int64_t replaying ABSL_GUARDED_BY(mu) = 0;
  // Touches (raw id -> last_access) waiting for the next lazy flush.
  absl::flat_hash_map<std::string, int64_t> touches ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(
    const ClusterOptions& options) {
  PinCallbackCompletionQueue();
  std::vector<std::string> ids;
  for (const PeerSpec& p : options.peers) ids.push_back(p.id);
  absl::StatusOr<PlacementMap> placement =
      PlacementMap::Build(ids, options.replication_factor);
  if (!placement.ok()) return placement.status();
  if (options.failure_timeout_ms <= 2 * options.heartbeat_interval_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--failure_timeout_ms (", options.failure_timeout_ms,
        ") must be more than twice --heartbeat_interval_ms (",
        options.heartbeat_interval_ms, ")"));
  }
  int self = placement->IndexOf(options.self_id);
  if (self < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--node_id '", options.self_id, "' is not in --peers"));
  }
  return std::unique_ptr<Cluster>(
      new Cluster(options, std::move(*placement), self));
}

Cluster::Cluster(const ClusterOptions& options, PlacementMap placement,
                 int self_index)
    : options_(options),
      placement_(std::move(placement)),
      self_index_(self_index),
      created_ms_(MonotonicMs()) {
  addresses_.resize(placement_.nodes().size());
  for (const PeerSpec& p : options_.peers) {
    addresses_[placement_.IndexOf(p.id)] = p.address;
  }
  for (size_t i = 0; i < addresses_.size(); ++i) {
    auto state = std::make_unique<PeerState>();
    grpc::ChannelArguments args;
    // Reconnect quickly after a peer restarts.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    state->channel = grpc::CreateCustomChannel(
        addresses_[i], grpc::InsecureChannelCredentials(), args);
    state->sessions = v1::Sessions::NewStub(state->channel);
    state->peer = internal::Peer::NewStub(state->channel);
    peers_.push_back(std::move(state));
  }
}

Cluster::~Cluster() { Stop(); }

void Cluster::Start() {
  if (started_.exchange(true)) return;
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  flush_thread_ = std::thread([this] { FlushLoop(); });
}

void Cluster::Stop() {
  if (!started_.load() || stop_.HasBeenNotified()) return;
  stop_.Notify();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (flush_thread_.joinable()) flush_thread_.join();
}

bool Cluster::IsUp(int node) const {
  if (node == self_index_) return serving_.load();
  const PeerState& p = *peers_[node];
  // Timed on the peer's own heartbeats, the clock of Silent(): a peer that
  // times out here has been silent long enough for writes to go on without
  // it. A failed call (MarkSuspect) takes it down at once, until it answers
  // a heartbeat again.
  int64_t heard = p.last_heard_ms.load();
  return p.last_ok_ms.load() != 0 && heard != 0 &&
         MonotonicMs() - heard < options_.failure_timeout_ms &&
         p.refused_ms.load() <= heard && p.heard_serving.load() &&
         p.remote_serving.load();
}

void Cluster::MarkSuspect(int node) {
  if (node == self_index_) return;
  if (peers_[node]->last_ok_ms.exchange(0) != 0) {
    fprintf(stderr, "sesh-node %s: peer %s unreachable, treating it as down\n",
            options_.self_id.c_str(), placement_.nodes()[node].c_str());
  }
}

bool Cluster::Silent(int node, int64_t now) const {
  const PeerState& p = *peers_[node];
  const int64_t heard = p.last_heard_ms.load();
  // Only the peer's own heartbeats time its silence: a refused connection
  // may be this node's stale channel, a firewall's reset or another
  // process at the address, none of which proves the peer stopped serving
  // under its lease.
  if (heard != 0 && !p.heard_serving.load()) return true;  // catching up
  // A peer not heard since this node started may still hold a lease that
  // this node's previous run granted it: wait that out too.
  return now - std::max(heard, created_ms_) >= vouch_after_ms();
}

void Cluster::HeardFrom(const std::string& node_id, bool serving) {
  int node = placement_.IndexOf(node_id);
  if (node < 0 || node == self_index_) return;
  PeerState& p = *peers_[node];
  // Serving first: a peer is never seen as heard-from-and-serving on the
  // strength of an older heartbeat's time.
  p.heard_serving.store(serving);
  p.last_heard_ms.store(MonotonicMs());
  // It reaches us but we cannot reach it: most often our channel still
  // waits out a reconnect backoff from before it (re)started. Retry now,
  // so that a restarted node is seen up within a heartbeat.
  if (p.last_ok_ms.load() == 0) {
    grpc::experimental::ChannelResetConnectionBackoff(p.channel.get());
  }
}

bool Cluster::VouchFor(uint32_t partition,
                       const std::vector<SessionRecord>& records) {
  const int primary = placement_.Primary(partition);
  if (primary == self_index_) return true;
  if (!Silent(primary, MonotonicMs())) return false;
  AddHints(primary, records);
  return true;
}

bool Cluster::HasReadLease(uint32_t partition) const {
  if (placement_.Primary(partition) != self_index_ || !serving_.load()) {
    return false;
  }
  const int needed = OthersCoveringQuorum(partition);
  if (needed <= 0) return true;
  const int64_t now = MonotonicMs();
  int held = 0;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (node != self_index_ && peers_[node]->lease_until_ms.load() > now) {
      ++held;
    }
  }
  return held >= needed;
}

int64_t Cluster::HintsFor(const std::string& node_id) const {
  int node = placement_.IndexOf(node_id);
  if (node < 0 || node == self_index_) return 0;
  PeerState& p = *peers_[node];
  absl::MutexLock lock(&p.mu);
  return static_cast<int64_t>(p.hints.size()) + p.replaying;
}

int Cluster::Coordinator(uint32_t partition) const {
  for (uint8_t node : placement_.Replicas(partition)) {
    if (IsUp(node)) return node;
  }
  return -1;
}

std::vector<int> Cluster::LiveReplicas(uint32_t partition) const {
  std::vector<int> out;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (IsUp(node)) out.push_back(node);
  }
  return out;
}

int Cluster::AcksNeeded(uint32_t partition, v1::Durability durability) const {
  const int replicas =
      static_cast<int>(placement_.Replicas(partition).size());
  switch (durability) {
    case v1::ONE:
      return 1;
    case v1::ALL:
      return replicas;
    default:
      return replicas / 2 + 1;
  }
}

v1::Sessions::Stub* Cluster::SessionsStub(int node) const {
  return peers_[node]->sessions.get();
}

internal::Peer::Stub* Cluster::PeerStub(int node) const {
  return peers_[node]->peer.get();
}

void Cluster::AddHints(int node, const std::vector<SessionRecord>& records) {
  PeerState& p = *peers_[node];
  bool dropped = false;
  {
    absl::MutexLock lock(&p.mu);
    for (const SessionRecord& r : records) {
      auto it = p.hints.find(r.id());
      if (it != p.hints.end()) {
        it->second = Merge(it->second, r);
      } else if (static_cast<int64_t>(p.hints.size()) <
                 options_.max_hints_per_peer) {
        p.hints.emplace(r.id(), r);
      } else {
        dropped = true;
      }
    }
    if (dropped && p.hints_dropped) dropped = false;  // logged once
    if (dropped) p.hints_dropped = true;
  }
  if (dropped) {
    fprintf(stderr,
            "sesh-node %s: hints for peer %s are full (%lld sessions); "
            "further writes it misses are left to its catch-up on restart\n",
            options_.self_id.c_str(), placement_.nodes()[node].c_str(),
            static_cast<long long>(options_.max_hints_per_peer));
  }
}

int64_t Cluster::HintsQueued() const {
  int64_t total = 0;
  for (const auto& p : peers_) {
    absl::MutexLock lock(&p->mu);
    total += static_cast<int64_t>(p->hints.size());
  }
  return total;
}

void Cluster::Replicate(uint32_t partition, std::vector<SessionRecord> records,
                        int acks_wanted, std::function<void(int acks)> done) {
  struct Tally {
    absl::Mutex mu;
    int acks ABSL_GUARDED_BY(mu) = 0;
    int answered ABSL_GUARDED_BY(mu) = 0;
    bool fired ABSL_GUARDED_BY(mu) = false;
    int total = 0;
    int wanted = 0;
    std::function<void(int)> done;
  };
  std::vector<int> others;
  for (uint8_t node : placement_.Replicas(partition)) {
    if (node != self_index_) others.push_back(node);
  }
  auto tally = std::make_shared<Tally>();
  tally->total = static_cast<int>(others.size());
  tally->wanted = acks_wanted;
  tally->done = std::move(done);
  auto record_answer = [tally](bool ok) {
    std::function<void(int)> fire;
    int acks = 0;
    {
      absl::MutexLock lock(&tally->mu);
      ++tally->answered;
      if (ok) ++tally->acks;
      if (!tally->fired && (tally->acks >= tally->wanted ||
                            tally->answered == tally->total)) {
        tally->fired = true;
        fire = tally->done;
        acks = tally->acks;
      }
    }
    if (fire) fire(acks);
  };
  if (others.empty() || acks_wanted <= 0) {
    {
      absl::MutexLock lock(&tally->mu);
      tally->fired = true;
    }
    tally->done(0);
    // Still replicate in the background below.
  }
  const int64_t now = MonotonicMs();
  for (int node : others) {
    // A peer we cannot call but still hear from may be a primary serving
    // under its lease: send anyway, so that it gets to acknowledge.
    if (!IsUp(node) && peers_[node]->last_ok_ms.load() == 0 &&
        Silent(node, now)) {
      AddHints(node, records);
      record_answer(false);
      continue;
    }
    PeerState& p = *peers_[node];
    {
      absl::MutexLock lock(&p.mu);
      p.writes.queue.push_back({records, {}, record_answer, partition});
    }
    Pump(node);
  }
}

void Cluster::Pump(int node, bool lazy) {
  PeerState& p = *peers_[node];
  PeerState::Lane& lane = lazy ? p.lazy : p.writes;
  const int max_in_flight = lazy ? 1 : options_.max_applies_in_flight;
  auto batch = std::make_shared<std::vector<PeerState::Pending>>();
  // Hint records replayed by this call.
  int64_t replays = 0;
  {
    absl::MutexLock lock(&p.mu);
    if (lane.in_flight >= max_in_flight || lane.queue.empty()) return;
    size_t count = 0;
    while (!lane.queue.empty() &&
           count < static_cast<size_t>(options_.max_apply_batch)) {
      const PeerState::Pending& next = lane.queue.front();
      count += next.records.size() + next.touches.size() / 16;
      if (!next.ack) replays += static_cast<int64_t>(next.records.size());
      batch->push_back(std::move(lane.queue.front()));
      lane.queue.pop_front();
    }
    ++lane.in_flight;
  }
  // Ends this call's slot in its lane; the caller decides whether to pump.
  // A failed call has put its records back among the hints by then.
  auto release = [&p, &lane, replays] {
    absl::MutexLock lock(&p.mu);
    --lane.in_flight;
    p.replaying -= replays;
  };
  if (isolated_.load()) {
    for (PeerState::Pending& pending : *batch) {
      AddHints(node, pending.records);
      if (pending.ack) pending.ack(false);
    }
    release();
    return;
  }
  auto ctx = std::make_shared<grpc::ClientContext>();
  ctx->set_deadline(DeadlineIn(options_.replicate_timeout_ms));
  auto request = std::make_shared<internal::ApplyRequest>();
  auto response = std::make_shared<internal::ApplyResponse>();
  request->set_from_node(options_.self_id);
  for (const PeerState::Pending& pending : *batch) {
    for (const SessionRecord& r : pending.records) {
      *request->add_records() = r;
    }
    for (const auto& [id, last_access] : pending.touches) {
      internal::Touch* touch = request->add_touches();
      touch->set_id(id);
      touch->set_last_access_ms(last_access);
    }
  }
  p.peer->async()->Apply(
      ctx.get(), request.get(), response.get(),
      [this, node, lazy, ctx, request, response, batch,
       release](grpc::Status status) {
        const bool unreachable =
            status.error_code() == grpc::StatusCode::UNAVAILABLE ||
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
        // A peer that refused the records themselves (a bad id, a stamp
        // too far ahead) would refuse them again: they are not hints.
        const bool refused =
            status.error_code() == grpc::StatusCode::OUT_OF_RANGE ||
            status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
        if (!status.ok() && !refused) {
          std::vector<SessionRecord> missed(request->records().begin(),
                                            request->records().end());
          AddHints(node, missed);
        }
        if (unreachable) MarkSuspect(node);
        const auto& unvouched = response->unvouched_partitions();
        for (PeerState::Pending& pending : *batch) {
          if (!pending.ack) continue;
          pending.ack(status.ok() &&
                      std::find(unvouched.begin(), unvouched.end(),
                                pending.partition) == unvouched.end());
        }
        release();
        Pump(node, lazy);
      });
}

void Cluster::ReplicateTouch(uint32_t partition, const std::string& raw_id,
                             int64_t last_access_ms) {
  for (uint8_t node : placement_.Replicas(partition)) {
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
    auto ctx = std::make_shared<grpc::ClientContext>();
    ctx->set_deadline(DeadlineIn(options_.replicate_timeout_ms / 2));
    auto request = std::make_shared<internal::ReadRequest>();
    auto response = std::make_shared<internal::ReadResponse>();
    request->add_ids(raw_id);
    peers_[node]->peer->async()->Read(
        ctx.get(), request.get(), response.get(),
        [this, node, gather, ctx, request, response](grpc::Status status) {
          if (!status.ok()) MarkSuspect(node);
          SessionRecord result;
          bool last = false;
          int answered = 0;
          {
            absl::MutexLock lock(&gather->mu);
            if (status.ok()) {
              ++gather->answered;
              for (const SessionRecord& r : response->records()) {
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
        });
  }
}

void Cluster::HeartbeatLoop() {
  const int n = node_count();
  while (!stop_.WaitForNotificationWithTimeout(
      absl::Milliseconds(options_.heartbeat_interval_ms))) {
    if (isolated_.load()) continue;
    for (int node = 0; node < n; ++node) {
      if (node == self_index_) continue;
      auto ctx = std::make_shared<grpc::ClientContext>();
      ctx->set_deadline(DeadlineIn(options_.heartbeat_interval_ms * 2));
      auto request = std::make_shared<internal::HeartbeatRequest>();
      auto response = std::make_shared<internal::HeartbeatResponse>();
      request->set_from_node(options_.self_id);
      request->set_epoch(epoch());
      request->set_serving(serving_.load());
      const int64_t sent_ms = MonotonicMs();
      peers_[node]->peer->async()->Heartbeat(
          ctx.get(), request.get(), response.get(),
          [this, node, ctx, request, response, sent_ms](grpc::Status status) {
            PeerState& p = *peers_[node];
            if (!status.ok()) {
              // The channel cannot connect: nothing listens at the peer's
              // address (a server that refuses a call, as a cut-off node
              // does, leaves the channel ready).
              if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                  p.channel->GetState(false) ==
                      GRPC_CHANNEL_TRANSIENT_FAILURE) {
                p.refused_ms.store(MonotonicMs());
              }
              return;
            }
            if (response->epoch() != epoch()) {
              CheckPeerEpoch(placement_.nodes()[node], response->epoch());
              return;
            }
            // The peer heard this node at or after sent_ms, so it vouches
            // for no write of this node's partitions before
            // sent_ms + vouch_after_ms(). Granted only once it holds no
            // write this node has not applied, and only for a heartbeat
            // that said this node serves.
            if (request->serving() && response->hints_for_you() == 0) {
              const int64_t until = sent_ms + lease_ms();
              int64_t held = p.lease_until_ms.load();
              while (held < until &&
                     !p.lease_until_ms.compare_exchange_weak(held, until)) {
              }
            }
            bool was_up = IsUp(node);
            p.remote_serving.store(response->serving());
            p.last_ok_ms.store(MonotonicMs());
            if (!was_up && IsUp(node)) {
              fprintf(stderr, "sesh-node %s: peer %s is up\n",
                      options_.self_id.c_str(),
                      placement_.nodes()[node].c_str());
            }
          });
    }
  }
}

void Cluster::FlushLoop() {
  const int n = node_count();
  while (!stop_.WaitForNotificationWithTimeout(
      absl::Milliseconds(options_.touch_flush_interval_ms))) {
    for (int node = 0; node < n; ++node) {
      if (node == self_index_) continue;
      PeerState& p = *peers_[node];
      // Hints wait until the peer answers heartbeats again.
      bool reachable = p.last_ok_ms.load() != 0;
      {
        absl::MutexLock lock(&p.mu);
        if (reachable && !p.touches.empty()) {
          PeerState::Pending touches;
          touches.touches.assign(p.touches.begin(), p.touches.end());
          p.lazy.queue.push_back(std::move(touches));
        }
        p.touches.clear();
        std::vector<SessionRecord> batch;
        if (reachable) {
          for (auto& [id, record] : p.hints) {
            batch.push_back(std::move(record));
          }
          p.hints.clear();
          p.hints_dropped = false;
          p.replaying += static_cast<int64_t>(batch.size());
        }
        for (size_t i = 0; i < batch.size();
             i += static_cast<size_t>(options_.max_apply_batch)) {
          size_t end = std::min(
              batch.size(), i + static_cast<size_t>(options_.max_apply_batch));
          p.lazy.queue.push_back(
              {std::vector<SessionRecord>(batch.begin() + i,
                                          batch.begin() + end),
               {},
               nullptr});
        }
      }
      Pump(node, /*lazy=*/true);
    }
  }
}

void Cluster::CheckPeerEpoch(const std::string& peer_id, uint64_t epoch) {
  if (epoch == placement_.epoch()) return;
  std::string error = absl::StrCat(
      "MEMBERSHIP MISMATCH: peer ", peer_id, " runs membership epoch ", epoch,
      ", this node ", placement_.epoch(),
      "; --peers and --replication_factor must be identical on every node");
  {
    absl::MutexLock lock(&membership_mu_);
    if (membership_error_ == error) return;
    membership_error_ = error;
  }
  fprintf(stderr, "sesh-node %s: %s\n", options_.self_id.c_str(),
          error.c_str());
  if (options_.on_membership_error) options_.on_membership_error(error);
}

std::string Cluster::membership_error() const {
  absl::MutexLock lock(&membership_mu_);
  return membership_error_;
}

}  // namespace sesh

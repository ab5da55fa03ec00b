#include "replication/fake_peers.h"

#include <filesystem>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "replication/merge.h"
#include "replication/placement.h"
#include "replication/session_id.h"

namespace sesh {
namespace testing {

using internal::SessionRecord;

absl::StatusOr<SessionRecord> MapStore::Merge(const SessionRecord& incoming) {
  if (incoming.id().size() != 32) {
    return absl::InvalidArgumentError("bad id");
  }
  absl::MutexLock lock(&mu_);
  SessionRecord& stored = records_[{PartitionOf(incoming.id()), incoming.id()}];
  stored = sesh::Merge(stored, incoming);
  return stored;
}

absl::Status MapStore::MergeTouch(absl::string_view raw_id,
                                  int64_t last_access_ms) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find({PartitionOf(raw_id), std::string(raw_id)});
  if (it != records_.end() && it->second.last_access_ms() < last_access_ms) {
    it->second.set_last_access_ms(last_access_ms);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SessionRecord>> MapStore::ReadRaw(
    absl::string_view raw_id) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find({PartitionOf(raw_id), std::string(raw_id)});
  if (it == records_.end()) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(it->second);
}

absl::Status MapStore::ForEachInPartitions(
    uint32_t first, uint32_t last, absl::string_view after_key,
    const std::function<bool(const std::string&, const SessionRecord&)>& fn) {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, record] : records_) {
    if (key.first < first || key.first > last) continue;
    std::string storage_key = absl::StrCat(key.first, ":", key.second);
    if (!after_key.empty() && storage_key <= after_key) continue;
    if (!fn(storage_key, record)) break;
  }
  return absl::OkStatus();
}

// One node's PeerTransport: every call becomes a queued Message.
class FakePeers::Transport final : public PeerTransport {
 public:
  Transport(FakePeers* peers, int self) : peers_(peers), self_(self) {}

  void Apply(int node, internal::ApplyRequest request, int64_t,
             Done<internal::ApplyResponse> done) override {
    Send<internal::ApplyRequest, internal::ApplyResponse>(
        node, "Apply", std::move(request), std::move(done),
        [](Replica& r, const internal::ApplyRequest& q,
           internal::ApplyResponse* a) { return r.Apply(q, a); });
  }
  void Read(int node, internal::ReadRequest request, int64_t,
            Done<internal::ReadResponse> done) override {
    Send<internal::ReadRequest, internal::ReadResponse>(
        node, "Read", std::move(request), std::move(done),
        [](Replica& r, const internal::ReadRequest& q,
           internal::ReadResponse* a) { return r.Read(q, a); });
  }
  void Fetch(int node, internal::FetchRequest request, int64_t,
             Done<internal::FetchResponse> done) override {
    Send<internal::FetchRequest, internal::FetchResponse>(
        node, "Fetch", std::move(request), std::move(done),
        [](Replica& r, const internal::FetchRequest& q,
           internal::FetchResponse* a) { return r.Fetch(q, a); });
  }
  void Heartbeat(int node, internal::HeartbeatRequest request, int64_t, bool,
                 Done<internal::HeartbeatResponse> done) override {
    Send<internal::HeartbeatRequest, internal::HeartbeatResponse>(
        node, "Heartbeat", std::move(request), std::move(done),
        [](Replica& r, const internal::HeartbeatRequest& q,
           internal::HeartbeatResponse* a) {
          return r.Heartbeat(q, a);
        });
  }
  void Digests(int node, internal::DigestsRequest request, int64_t,
               Done<internal::DigestsResponse> done) override {
    Send<internal::DigestsRequest, internal::DigestsResponse>(
        node, "Digests", std::move(request), std::move(done),
        [](Replica& r, const internal::DigestsRequest& q,
           internal::DigestsResponse* a) { return r.Digests(q, a); });
  }
  void PartitionRecords(
      int node, internal::PartitionRecordsRequest request, int64_t,
      Done<internal::PartitionRecordsResponse> done) override {
    Send<internal::PartitionRecordsRequest, internal::PartitionRecordsResponse>(
        node, "PartitionRecords", std::move(request), std::move(done),
        [](Replica& r, const internal::PartitionRecordsRequest& q,
           internal::PartitionRecordsResponse* a) {
          return r.PartitionRecords(q, a);
        });
  }
  void Repair(int node, internal::RepairRequest request, int64_t,
              Done<internal::RepairResponse> done) override {
    Send<internal::RepairRequest, internal::RepairResponse>(
        node, "Repair", std::move(request), std::move(done),
        [](Replica& r, const internal::RepairRequest& q,
           internal::RepairResponse*) { return r.Repair(q); });
  }
  bool Refusing(int node) override {
    absl::MutexLock lock(&peers_->mu_);
    return peers_->down_.count(node) > 0;
  }
  void RetryNow(int) override {}

 private:
  template <typename Request, typename Response, typename Handler>
  void Send(int node, std::string kind, Request request, Done<Response> done,
            Handler handler) {
    FakePeers* peers = peers_;
    auto req = std::make_shared<Request>(std::move(request));
    peers_->Enqueue(
        {node, std::move(kind),
         [peers, node, req, done = std::move(done), handler](bool delivered,
                                                             bool timed_out) {
           Response response;
           if (!delivered) {
             done(timed_out ? absl::DeadlineExceededError("frozen")
                            : absl::UnavailableError("connection refused"),
                  response);
             return;
           }
           absl::Status s =
               handler(*peers->nodes_[node]->replica, *req, &response);
           done(s, response);
         }});
  }

  FakePeers* const peers_;
  const int self_;
};

FakePeers::FakePeers(int count, int rf, const std::string& dir,
                     int64_t start_ms, const ClusterOptions& base)
    : dir_(dir), options_(base), clock_(start_ms) {
  mkdir(dir.c_str(), 0755);
  options_.replication_factor = rf;
  for (int i = 0; i < count; ++i) {
    options_.peers.push_back(
        {absl::StrCat("n", i + 1), absl::StrCat("127.0.0.1:", 1000 + i)});
  }
  for (int i = 0; i < count; ++i) {
    nodes_.push_back(std::make_unique<Node>());
    nodes_.back()->transport = std::make_unique<Transport>(this, i);
    StartCore(i);
    // Indexes in placement order equal "n1".."nN" order here.
    if (nodes_[i]->cluster->self_index() != i) abort();
  }
}

void FakePeers::StartCore(int i) {
  Node& node = *nodes_[i];
  node.replica.reset();
  node.cluster.reset();
  node.hints.reset();
  ClusterOptions mine = options_;
  mine.self_id = absl::StrCat("n", i + 1);
  HintStoreOptions hint_options;
  hint_options.path = absl::StrCat(dir_, "/hints_", mine.self_id);
  node.hints = std::move(*HintStore::Open(hint_options));
  node.cluster = std::move(
      *Cluster::Create(mine, node.transport.get(), node.hints.get(), &clock_));
  node.cluster->SetServing(true);
  node.replica =
      std::make_unique<Replica>(node.cluster.get(), &node.store, &clock_);
}

void FakePeers::Restart(int node) { StartCore(node); }

FakePeers::~FakePeers() {
  nodes_.clear();
  std::filesystem::remove_all(dir_);
}

std::string FakePeers::IdWithPrimary(int node) {
  while (true) {
    std::string raw = NewRawId();
    if (placement().Primary(PartitionOf(raw)) == node) return raw;
  }
}

void FakePeers::Enqueue(Message message) {
  absl::MutexLock lock(&mu_);
  ++sent_[{message.to, message.kind}];
  queue_.push_back(std::move(message));
}

int FakePeers::DeliverAll() {
  int delivered = 0;
  while (true) {
    Message message;
    bool down = false, frozen = false;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) return delivered;
      message = std::move(queue_.front());
      queue_.pop_front();
      down = down_.count(message.to) > 0;
      frozen = frozen_.count(message.to) > 0;
    }
    message.run(!down && !frozen, frozen);
    ++delivered;
  }
}

void FakePeers::Heartbeats() {
  for (int i = 0; i < size(); ++i) {
    bool down;
    {
      absl::MutexLock lock(&mu_);
      down = down_.count(i) > 0 || frozen_.count(i) > 0;
    }
    if (!down) nodes_[i]->cluster->SendHeartbeats();
  }
  DeliverAll();
}

void FakePeers::SetDown(int node, bool down) {
  absl::MutexLock lock(&mu_);
  if (down) {
    down_.insert(node);
  } else {
    down_.erase(node);
  }
}

void FakePeers::SetFrozen(int node, bool frozen) {
  absl::MutexLock lock(&mu_);
  if (frozen) {
    frozen_.insert(node);
  } else {
    frozen_.erase(node);
  }
}

int FakePeers::Sent(int node, const std::string& kind) {
  absl::MutexLock lock(&mu_);
  auto it = sent_.find({node, kind});
  return it == sent_.end() ? 0 : it->second;
}

}  // namespace testing
}  // namespace sesh

#include "node/rpc_metrics.h"

#include <google/protobuf/descriptor.h>

#include <array>
#include <atomic>
#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/session_handle.h"
#include "replication/session_id.h"
#include "sesh/v1/sessions.pb.h"
#include "util/log.h"

namespace sesh {
namespace {

using grpc::experimental::InterceptionHookPoints;
using metrics::Counter;

constexpr int kCodes = 17;
constexpr std::array<const char*, kCodes> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// Buckets from 100 us to 10 s: a Get served in place takes well under a
// millisecond, a forwarded or QUORUM write a few, a timeout seconds.
const std::vector<double>& DurationBounds() {
  static const auto* bounds = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
  return *bounds;
}

// What the access log names a call by.
struct CallFields {
  std::string ns = "-";
  std::string handle = "-";
};
using MessageFields = void (*)(const void* message, CallFields* fields);

std::string Printable(absl::string_view text) {
  return absl::CHexEscape(text.substr(0, 64));
}

std::string HandleOfId(const std::string& text) {
  absl::StatusOr<std::string> raw = DecodeId(text);
  return raw.ok() ? SessionHandle(*raw) : "-";
}

template <typename Request>
void NamespaceOf(const void* message, CallFields* fields) {
  fields->ns = Printable(static_cast<const Request*>(message)->namespace_());
}

template <typename Request>
void NamespaceAndHandle(const void* message, CallFields* fields) {
  const auto* request = static_cast<const Request*>(message);
  fields->ns = Printable(request->namespace_());
  if (!request->id().empty()) fields->handle = HandleOfId(request->id());
}

void DestroyFields(const void* message, CallFields* fields) {
  const auto* request = static_cast<const v1::DestroyRequest*>(message);
  fields->ns = Printable(request->namespace_());
  if (!request->id().empty()) {
    fields->handle = HandleOfId(request->id());
  } else if (LooksLikeHandle(request->handle())) {
    fields->handle = request->handle();
  }
}

void CreatedFields(const void* message, CallFields* fields) {
  const auto* response = static_cast<const v1::CreateResponse*>(message);
  if (response->has_session()) {
    fields->handle = HandleOfId(response->session().id());
  }
}

// The access log's readers of each unary Sessions method's messages.
// Only these methods' messages are cast, to the type gRPC deserialized.
struct LogReaders {
  MessageFields request = nullptr;
  MessageFields response = nullptr;
};
LogReaders ReadersOf(absl::string_view method) {
  if (method == "Create") {
    return {&NamespaceOf<v1::CreateRequest>, &CreatedFields};
  }
  if (method == "Get") return {&NamespaceAndHandle<v1::GetRequest>};
  if (method == "Update") return {&NamespaceAndHandle<v1::UpdateRequest>};
  if (method == "Touch") return {&NamespaceAndHandle<v1::TouchRequest>};
  if (method == "Destroy") return {&DestroyFields};
  if (method == "Rotate") return {&NamespaceAndHandle<v1::RotateRequest>};
  if (method == "ListByUser") return {&NamespaceOf<v1::ListByUserRequest>};
  if (method == "DestroyByUser") {
    return {&NamespaceOf<v1::DestroyByUserRequest>};
  }
  if (method == "BatchGet") return {&NamespaceOf<v1::BatchGetRequest>};
  return {};
}

// One method's series on one port.
struct MethodSeries {
  std::string name;  // "Sessions.Get", for the access log
  std::vector<std::string> labels;  // port, service, method
  Counter* requests = nullptr;
  Counter* messages = nullptr;
  metrics::Histogram* duration = nullptr;  // null for streaming methods
  metrics::Family<Counter>* errors_family = nullptr;
  std::array<std::atomic<Counter*>, kCodes> errors{};
  LogReaders log;  // set only where the access log applies

  Counter* ErrorCounter(int code) {
    Counter* counter = errors[code].load(std::memory_order_acquire);
    if (counter != nullptr) return counter;
    std::vector<std::string> values = labels;
    values.push_back(kCodeNames[code]);
    absl::StatusOr<Counter*> created = errors_family->WithLabels(values);
    if (!created.ok()) return nullptr;
    errors[code].store(*created, std::memory_order_release);
    return *created;
  }
};

class CallInterceptor : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(MethodSeries* series, std::atomic<int64_t>* in_flight,
                  bool access_log)
      : series_(series),
        in_flight_(in_flight),
        access_log_(access_log),
        start_(std::chrono::steady_clock::now()) {
    in_flight_->fetch_add(1, std::memory_order_relaxed);
  }

  ~CallInterceptor() override {
    // A call that ended without sending a status was cancelled.
    if (!ended_) End(grpc::StatusCode::CANCELLED);
    in_flight_->fetch_sub(1, std::memory_order_relaxed);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      const void* message = methods->GetRecvMessage();
      if (message != nullptr) {
        series_->messages->Increment();
        if (access_log_ && series_->log.request != nullptr) {
          series_->log.request(message, &fields_);
        }
      }
    }
    if (access_log_ && series_->log.response != nullptr &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const void* message = methods->GetSendMessage();
      if (message != nullptr) series_->log.response(message, &fields_);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        !ended_) {
      End(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void End(grpc::StatusCode code) {
    ended_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                      start_)
            .count();
    series_->requests->Increment();
    const int index = static_cast<int>(code);
    const bool known = index >= 0 && index < kCodes;
    if (code != grpc::StatusCode::OK) {
      Counter* errors = series_->ErrorCounter(known ? index : 2);  // UNKNOWN
      if (errors != nullptr) errors->Increment();
    }
    if (series_->duration != nullptr) series_->duration->Observe(seconds);
    if (access_log_) {
      LogInfo("access", "%s ns=%s code=%s latency=%.6fs handle=%s",
              series_->name, fields_.ns, known ? kCodeNames[index] : "UNKNOWN",
              seconds, fields_.handle);
    }
  }

  MethodSeries* const series_;
  std::atomic<int64_t>* const in_flight_;
  const bool access_log_;
  const std::chrono::steady_clock::time_point start_;
  // A call's hooks run one at a time, never concurrently.
  bool ended_ = false;
  CallFields fields_;
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>>
              methods,
          std::unique_ptr<MethodSeries> other, std::atomic<int64_t>* in_flight,
          bool access_log)
      : methods_(std::move(methods)),
        other_(std::move(other)),
        in_flight_(in_flight),
        access_log_(access_log) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    auto it = methods_.find(absl::string_view(info->method()));
    MethodSeries* series =
        it == methods_.end() ? other_.get() : it->second.get();
    return new CallInterceptor(series, in_flight_, access_log_);
  }

 private:
  // Constant after construction: looked up without a lock.
  const absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>>
      methods_;
  const std::unique_ptr<MethodSeries> other_;
  std::atomic<int64_t>* const in_flight_;
  const bool access_log_;
};

}  // namespace

// Calls in flight per port, read at scrape time.
struct RpcMetrics::InFlightPorts {
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::unique_ptr<std::atomic<int64_t>>>>
      ports ABSL_GUARDED_BY(mu);
};

const char* RpcMetrics::CodeName(int code) {
  return code >= 0 && code < kCodes ? kCodeNames[code] : "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<RpcMetrics>> RpcMetrics::Create(
    metrics::Registry* registry, bool access_log) {
  std::unique_ptr<RpcMetrics> m(new RpcMetrics);
  m->access_log_ = access_log;
  const std::vector<std::string> labels = {"port", "service", "method"};
  absl::StatusOr<metrics::Family<Counter>*> requests = registry->AddCounter(
      "sesh_rpc_requests_total", "gRPC calls ended, by port, service and method.",
      labels);
  if (!requests.ok()) return requests.status();
  m->requests_ = *requests;
  absl::StatusOr<metrics::Family<Counter>*> errors = registry->AddCounter(
      "sesh_rpc_errors_total",
      "gRPC calls ended with a status other than OK, by status code.",
      {"port", "service", "method", "code"});
  if (!errors.ok()) return errors.status();
  m->errors_ = *errors;
  absl::StatusOr<metrics::Family<metrics::Histogram>*> durations =
      registry->AddHistogram(
          "sesh_rpc_duration_seconds",
          "Time from the start of a unary gRPC call to its status, in "
          "seconds.",
          labels, DurationBounds());
  if (!durations.ok()) return durations.status();
  m->durations_ = *durations;
  absl::StatusOr<metrics::Family<Counter>*> messages = registry->AddCounter(
      "sesh_rpc_messages_received_total",
      "Request messages received (one per unary call; one per message of a "
      "stream).",
      labels);
  if (!messages.ok()) return messages.status();
  m->messages_ = *messages;
  m->in_flight_ = std::make_shared<InFlightPorts>();
  absl::Status in_flight = registry->AddCallback(
      "sesh_rpc_in_flight", "gRPC calls running now, by port.",
      metrics::MetricType::kGauge, {"port"},
      [ports = m->in_flight_](metrics::SampleSink* sink) {
        absl::MutexLock lock(&ports->mu);
        for (const auto& [port, count] : ports->ports) {
          sink->Add({port}, static_cast<double>(count->load()));
        }
      });
  if (!in_flight.ok()) return in_flight;
  return m;
}

std::vector<
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
RpcMetrics::Interceptors(absl::string_view port,
                         const std::vector<std::string>& services) {
  std::atomic<int64_t>* in_flight = nullptr;
  {
    absl::MutexLock lock(&in_flight_->mu);
    in_flight_->ports.emplace_back(std::string(port),
                                   std::make_unique<std::atomic<int64_t>>(0));
    in_flight = in_flight_->ports.back().second.get();
  }
  auto make = [&](const std::string& service, const std::string& method,
                  bool streaming) {
    auto series = std::make_unique<MethodSeries>();
    const size_t dot = service.rfind('.');
    series->name = absl::StrCat(
        dot == std::string::npos ? service : service.substr(dot + 1), ".",
        method);
    series->labels = {std::string(port), service, method};
    // Label counts are fixed here, so WithLabels cannot fail.
    series->requests = *requests_->WithLabels(series->labels);
    series->messages = *messages_->WithLabels(series->labels);
    if (!streaming) series->duration = *durations_->WithLabels(series->labels);
    series->errors_family = errors_;
    if (access_log_ && port == "client" && service == "sesh.v1.Sessions" &&
        !streaming) {
      series->log = ReadersOf(method);
    }
    return series;
  };
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> methods;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& service : services) {
    const google::protobuf::ServiceDescriptor* descriptor =
        pool->FindServiceByName(service);
    if (descriptor != nullptr) {
      for (int i = 0; i < descriptor->method_count(); ++i) {
        const google::protobuf::MethodDescriptor* method = descriptor->method(i);
        methods[absl::StrCat("/", service, "/", method->name())] =
            make(service, method->name(),
                 method->client_streaming() || method->server_streaming());
      }
    } else if (service == "grpc.health.v1.Health") {
      // gRPC's own health service has no descriptor in the generated pool.
      methods["/grpc.health.v1.Health/Check"] = make(service, "Check", false);
      methods["/grpc.health.v1.Health/Watch"] = make(service, "Watch", true);
    }
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      factories;
  factories.push_back(std::make_unique<Factory>(
      std::move(methods), make("other", "other", /*streaming=*/true),
      in_flight, access_log_));
  return factories;
}

}  // namespace sesh

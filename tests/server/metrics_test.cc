// Unit tests of server::Metrics: families, label bounds, text format and the HTTP endpoint.
#include "server/metrics.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The sample's value; -1 when the series is absent.
double Value(const std::string& text, const std::string& name,
             std::vector<std::pair<std::string, std::string>> labels = {}) {
  const std::map<std::string, double> samples = testing::PrometheusSamples(text);
  auto it = samples.find(testing::SampleKey(name, std::move(labels)));
  return it == samples.end() ? -1 : it->second;
}

std::unique_ptr<Metrics> NoEndpoint() {
  absl::StatusOr<std::unique_ptr<Metrics>> m = Metrics::Create("");
  EXPECT_THAT(m, IsOk());
  return m.ok() ? std::move(*m) : nullptr;
}

v1::ExecuteResponse Response(v1::Outcome outcome) {
  v1::ExecuteResponse r;
  r.set_outcome(outcome);
  for (const char* alias : {"/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    r.add_channels()->set_alias(alias);
  }
  return r;
}

TEST(MetricsTest, FixedSeriesExistAtZeroBeforeAnyEvent) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->port(), 0);
  const std::string text = m->Serialize();
  for (const char* outcome : {"exited", "signaled", "timeout", "cpu_limit", "memory_limit",
                              "output_limit", "policy_violation"}) {
    EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", outcome}}), 0) << outcome;
  }
  for (const char* kind : {"get", "put", "output", "memory", "cpu", "timeout"}) {
    EXPECT_EQ(Value(text, "zerocell_quota_exceeded_total", {{"kind", kind}}), 0) << kind;
  }
  EXPECT_EQ(Value(text, "zerocell_image_validations_total", {{"result", "rejected"}}), 0);
  EXPECT_EQ(Value(text, "zerocell_execute_duration_seconds_count"), 0);
  EXPECT_EQ(Value(text, "zerocell_executions_in_flight"), 0);
  EXPECT_THAT(text, HasSubstr("# TYPE zerocell_execute_run_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE zerocell_executions_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE zerocell_queue_depth gauge"));
}

TEST(MetricsTest, ExecutionCountsOutcomeAndObservesEveryPhase) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  v1::ExecuteResponse r = Response(v1::OUTCOME_EXITED);
  r.mutable_usage()->set_user_cpu_ns(1'500'000);
  r.mutable_usage()->set_system_cpu_ns(500'000);
  m->ExecutionDone(r, {.queue_wait = absl::Microseconds(50),
                       .startup = absl::Microseconds(700),
                       .run = absl::Milliseconds(2),
                       .total = absl::Milliseconds(3)});
  m->ExecutionDone(Response(v1::OUTCOME_SIGNALED), {.queue_wait = absl::Seconds(2),
                                                    .startup = absl::Milliseconds(1),
                                                    .run = absl::Seconds(45),
                                                    .total = absl::Seconds(90)});
  const std::string text = m->Serialize();
  EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", "exited"}}), 1);
  EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", "signaled"}}), 1);
  EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", "timeout"}}), 0);

  const std::string qw = "zerocell_execute_queue_wait_seconds";
  EXPECT_EQ(Value(text, qw + "_bucket", {{"le", "0.0001"}}), 1);  // 50 us
  EXPECT_EQ(Value(text, qw + "_bucket", {{"le", "1"}}), 1);
  EXPECT_EQ(Value(text, qw + "_bucket", {{"le", "2.5"}}), 2);  // 2 s
  EXPECT_EQ(Value(text, qw + "_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(Value(text, qw + "_count"), 2);
  EXPECT_NEAR(Value(text, qw + "_sum"), 2.00005, 1e-9);

  const std::string st = "zerocell_execute_startup_seconds";
  EXPECT_EQ(Value(text, st + "_bucket", {{"le", "0.0005"}}), 0);
  EXPECT_EQ(Value(text, st + "_bucket", {{"le", "0.001"}}), 2);
  const std::string run = "zerocell_execute_run_seconds";
  EXPECT_EQ(Value(text, run + "_bucket", {{"le", "0.0025"}}), 1);
  EXPECT_EQ(Value(text, run + "_bucket", {{"le", "30"}}), 1);
  EXPECT_EQ(Value(text, run + "_bucket", {{"le", "60"}}), 2);
  const std::string total = "zerocell_execute_duration_seconds";
  EXPECT_EQ(Value(text, total + "_bucket", {{"le", "60"}}), 1);  // 90 s only in +Inf
  EXPECT_EQ(Value(text, total + "_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_NEAR(Value(text, "zerocell_guest_cpu_seconds_total"), 0.002, 1e-12);
}

TEST(MetricsTest, QuotaKindsCountOncePerExecution) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  v1::ExecuteResponse r = Response(v1::OUTCOME_MEMORY_LIMIT);
  r.mutable_channels(0)->set_get_quota_exceeded(true);
  r.add_channels()->set_get_quota_exceeded(true);  // a second channel: still one "get"
  m->ExecutionDone(r, {});
  v1::ExecuteResponse w = Response(v1::OUTCOME_EXITED);
  w.mutable_channels(1)->set_put_quota_exceeded(true);
  m->ExecutionDone(w, {});
  for (v1::Outcome o : {v1::OUTCOME_TIMEOUT, v1::OUTCOME_CPU_LIMIT, v1::OUTCOME_OUTPUT_LIMIT,
                        v1::OUTCOME_OUTPUT_LIMIT}) {
    m->ExecutionDone(Response(o), {});
  }
  const std::string text = m->Serialize();
  const std::string q = "zerocell_quota_exceeded_total";
  EXPECT_EQ(Value(text, q, {{"kind", "memory"}}), 1);
  EXPECT_EQ(Value(text, q, {{"kind", "get"}}), 1);
  EXPECT_EQ(Value(text, q, {{"kind", "put"}}), 1);
  EXPECT_EQ(Value(text, q, {{"kind", "timeout"}}), 1);
  EXPECT_EQ(Value(text, q, {{"kind", "cpu"}}), 1);
  EXPECT_EQ(Value(text, q, {{"kind", "output"}}), 2);
  EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", "exited"}}), 1);
}

TEST(MetricsTest, ViolationsBySyscallWithBoundedLabels) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  const auto violation = [&](const std::string& syscall) {
    v1::ExecuteResponse r = Response(v1::OUTCOME_POLICY_VIOLATION);
    r.mutable_violation()->set_syscall(syscall);
    m->ExecutionDone(r, {});
  };
  violation("socket");
  violation("socket");
  violation("i386:write");
  violation("syscall_123456");     // unresolved number: unbounded family, so "other"
  violation("bad\"label\nvalue");  // never reaches the text format
  const std::string text = m->Serialize();
  const std::string v = "zerocell_policy_violations_total";
  EXPECT_EQ(Value(text, v, {{"syscall", "socket"}}), 2);
  EXPECT_EQ(Value(text, v, {{"syscall", "i386:write"}}), 1);
  EXPECT_EQ(Value(text, v, {{"syscall", "other"}}), 2);
  EXPECT_EQ(Value(text, "zerocell_executions_total", {{"outcome", "policy_violation"}}), 5);
  EXPECT_THAT(text, Not(HasSubstr("123456")));
  EXPECT_THAT(text, Not(HasSubstr("bad")));

  // Many distinct well-formed names: at most kMaxSyscallLabels series plus "other".
  for (int i = 0; i < 2 * Metrics::kMaxSyscallLabels; ++i) violation(absl::StrCat("call", i));
  const std::string after = m->Serialize();
  int series = 0;
  for (const auto& [key, value] : testing::PrometheusSamples(after)) {
    if (key.starts_with(v + "{")) ++series;
  }
  EXPECT_EQ(series, Metrics::kMaxSyscallLabels + 1);
  EXPECT_GT(Value(after, v, {{"syscall", "other"}}), Metrics::kMaxSyscallLabels);
}

TEST(MetricsTest, LabelHelpers) {
  EXPECT_EQ(OutcomeLabel(v1::OUTCOME_CPU_LIMIT), "cpu_limit");
  EXPECT_EQ(OutcomeLabel(static_cast<v1::Outcome>(99)), "unknown");
  EXPECT_EQ(GrpcCodeLabel(0), "OK");
  EXPECT_EQ(GrpcCodeLabel(8), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeLabel(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeLabel(17), "UNKNOWN");
  EXPECT_EQ(GrpcCodeLabel(-1), "UNKNOWN");
  EXPECT_EQ(MethodLabel("/zerocell.v1.Sandbox/Execute"), "Execute");
  EXPECT_EQ(MethodLabel("ListImages"), "ListImages");
  EXPECT_EQ(MethodLabel("/grpc.health.v1.Health/Check"), "other");
  EXPECT_EQ(MethodLabel("/other.Svc/Execute"), "other");
  EXPECT_EQ(MethodLabel("Nope"), "other");
  EXPECT_EQ(SyscallLabel("x32:read"), "x32:read");
  EXPECT_EQ(SyscallLabel("rt_sigaction"), "rt_sigaction");
  EXPECT_EQ(SyscallLabel("arch_1234:syscall_5"), "other");
  EXPECT_EQ(SyscallLabel(""), "other");
  EXPECT_EQ(SyscallLabel(std::string(41, 'a')), "other");
  EXPECT_EQ(SyscallLabel("Socket"), "other");
}

TEST(MetricsTest, RequestsAndRejectionsByMethodAndCode) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  m->RequestFinished("/zerocell.v1.Sandbox/Execute", 0);
  m->RequestFinished("Execute", 0);
  m->RequestFinished("Execute", 8);
  m->RequestFinished("/zerocell.v1.Sandbox/RegisterImage", 3);
  m->RequestFinished("/evil/method\"name", 99);
  const std::string text = m->Serialize();
  const std::string req = "zerocell_requests_total";
  const std::string rej = "zerocell_rejected_requests_total";
  EXPECT_EQ(Value(text, req, {{"method", "Execute"}, {"code", "OK"}}), 2);
  EXPECT_EQ(Value(text, req, {{"method", "Execute"}, {"code", "RESOURCE_EXHAUSTED"}}), 1);
  EXPECT_EQ(Value(text, rej, {{"method", "Execute"}, {"code", "RESOURCE_EXHAUSTED"}}), 1);
  EXPECT_EQ(Value(text, rej, {{"method", "Execute"}, {"code", "OK"}}), -1);
  EXPECT_EQ(Value(text, rej, {{"method", "RegisterImage"}, {"code", "INVALID_ARGUMENT"}}), 1);
  EXPECT_EQ(Value(text, rej, {{"method", "other"}, {"code", "UNKNOWN"}}), 1);
  EXPECT_THAT(text, Not(HasSubstr("evil")));
}

TEST(MetricsTest, GaugesAndCacheObserver) {
  std::unique_ptr<Metrics> m = NoEndpoint();
  ASSERT_NE(m, nullptr);
  m->SetInFlight(3);
  m->SetQueueDepth(5);
  image::CacheObserver o = m->CacheObserver();
  o.on_hit();
  o.on_hit();
  o.on_miss();
  o.on_evict(4096);
  o.on_evict(100);
  o.on_size(12345, 7);
  image::Validation accepted;
  accepted.report.validation_ns = 3'000'000;
  o.on_validated(accepted);
  image::Validation rejected{.status = absl::InvalidArgumentError("no"), .report = {}};
  o.on_validated(rejected);
  o.on_validated(rejected);
  o.on_store_error(absl::InternalError("disk full"));
  const std::string text = m->Serialize();
  EXPECT_EQ(Value(text, "zerocell_executions_in_flight"), 3);
  EXPECT_EQ(Value(text, "zerocell_queue_depth"), 5);
  EXPECT_EQ(Value(text, "zerocell_image_cache_hits_total"), 2);
  EXPECT_EQ(Value(text, "zerocell_image_cache_misses_total"), 1);
  EXPECT_EQ(Value(text, "zerocell_image_cache_evictions_total"), 2);
  EXPECT_EQ(Value(text, "zerocell_image_cache_evicted_bytes_total"), 4196);
  EXPECT_EQ(Value(text, "zerocell_image_cache_bytes"), 12345);
  EXPECT_EQ(Value(text, "zerocell_image_cache_images"), 7);
  EXPECT_EQ(Value(text, "zerocell_image_store_errors_total"), 1);
  EXPECT_EQ(Value(text, "zerocell_image_validations_total", {{"result", "accepted"}}), 1);
  EXPECT_EQ(Value(text, "zerocell_image_validations_total", {{"result", "rejected"}}), 2);
  EXPECT_EQ(Value(text, "zerocell_image_validation_seconds_bucket", {{"le", "0.005"}}), 3);
  EXPECT_EQ(Value(text, "zerocell_image_validation_seconds_bucket", {{"le", "0.0025"}}), 2);

  // The observer keeps its state alive: a cache may outlive the Metrics object.
  m.reset();
  o.on_hit();
  o.on_size(0, 0);
}

TEST(MetricsTest, HttpEndpointServesTheSameText) {
  absl::StatusOr<std::unique_ptr<Metrics>> m = Metrics::Create("127.0.0.1:0");
  ASSERT_THAT(m, IsOk());
  const int port = (*m)->port();
  ASSERT_GT(port, 0);
  (*m)->ExecutionDone(Response(v1::OUTCOME_TIMEOUT), {.run = absl::Seconds(1)});
  (*m)->RequestFinished("Execute", 0);
  absl::StatusOr<std::string> body = testing::HttpGet(port, "/metrics");
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(Value(*body, "zerocell_executions_total", {{"outcome", "timeout"}}), 1);
  EXPECT_EQ(Value(*body, "zerocell_quota_exceeded_total", {{"kind", "timeout"}}), 1);
  EXPECT_EQ(Value(*body, "zerocell_requests_total", {{"method", "Execute"}, {"code", "OK"}}), 1);
  EXPECT_EQ(Value(*body, "zerocell_execute_run_seconds_count"), 1);

  absl::StatusOr<testing::HttpResponse> missing = testing::HttpRequest(port, "GET", "/");
  ASSERT_THAT(missing, IsOk());
  EXPECT_EQ(missing->status, 404);

  // The port is taken now: a second endpoint on it fails cleanly.
  absl::StatusOr<std::unique_ptr<Metrics>> clash =
      Metrics::Create(absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kUnavailable) << clash.status();

  // Gone with the object: nothing listens there any more.
  m->reset();
  EXPECT_THAT(testing::HttpGet(port, "/metrics"), ::testing::Not(IsOk()));
}

TEST(MetricsTest, MalformedListenAddressNamesIt) {
  for (const char* bad : {"nonsense", ":9464", "127.0.0.1:", "127.0.0.1:99999", "host:port"}) {
    absl::StatusOr<std::unique_ptr<Metrics>> m = Metrics::Create(bad);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(m.status().message(), HasSubstr(bad));
  }
}

}  // namespace
}  // namespace zerocell::server

// End-to-end: executions through a real zerocelld move the /metrics families (scraped over
// HTTP) with the right labels, and its stderr holds JSON lines with request ids, no guest data.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using testing::SampleKey;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({"--max_concurrency=2"});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_GT(server_->metrics_port(), 0);
    stub_ = v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Execute(const v1::ExecuteRequest& req, v1::ExecuteResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Execute(&ctx, req, resp);
  }

  // Executes guest `name` inline and checks the outcome.
  v1::ExecuteResponse Run(const std::string& name, v1::Manifest manifest, v1::Outcome expected) {
    v1::ExecuteRequest req;
    req.set_image(zerocell::testing::GuestBytes(name));
    *req.mutable_manifest() = std::move(manifest);
    v1::ExecuteResponse resp;
    grpc::Status s = Execute(req, &resp);
    EXPECT_THAT(s, IsOk()) << name;
    EXPECT_EQ(resp.outcome(), expected) << name << ": " << resp.ShortDebugString();
    return resp;
  }

  std::map<std::string, double> Scrape() {
    absl::StatusOr<std::string> body = testing::HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_THAT(body, IsOk());
    return testing::PrometheusSamples(body.value_or(""));
  }

  // Scrapes until `ready` holds (bounded): the server records a call just before answering it,
  // so a scrape right after the answer sees it; the bound only guards against a hang.
  std::map<std::string, double> ScrapeWhen(
      const std::function<bool(const std::map<std::string, double>&)>& ready) {
    const absl::Time until = absl::Now() + absl::Seconds(10);
    std::map<std::string, double> samples = Scrape();
    while (!ready(samples) && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
      samples = Scrape();
    }
    return samples;
  }

  static double At(const std::map<std::string, double>& samples, const std::string& name,
                   std::vector<std::pair<std::string, std::string>> labels = {}) {
    auto it = samples.find(SampleKey(name, std::move(labels)));
    return it == samples.end() ? -1 : it->second;
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

TEST_F(MetricsE2eTest, ExecutionsMoveCountersAndHistogramsWithTheRightLabels) {
  const std::map<std::string, double> before = Scrape();
  EXPECT_EQ(At(before, "zerocell_executions_total", {{"outcome", "exited"}}), 0);
  EXPECT_EQ(At(before, "zerocell_execute_duration_seconds_count"), 0);

  // Registered, then run by id (a cache hit).
  v1::RegisterImageRequest reg;
  reg.set_elf(zerocell::testing::GuestBytes("hello"));
  v1::RegisterImageResponse registered;
  {
    grpc::ClientContext ctx;
    ASSERT_THAT(stub_->RegisterImage(&ctx, reg, &registered), IsOk());
  }
  v1::ExecuteRequest by_id;
  by_id.set_image_id(registered.image().image_id());
  *by_id.mutable_manifest() = testing::StdManifest({"hello"});
  v1::ExecuteResponse hello;
  ASSERT_THAT(Execute(by_id, &hello), IsOk());
  EXPECT_EQ(hello.outcome(), v1::OUTCOME_EXITED);

  v1::ExecuteResponse violation =
      Run("pol_socket", testing::StdManifest({"pol_socket"}), v1::OUTCOME_POLICY_VIOLATION);
  EXPECT_EQ(violation.violation().syscall(), "socket");

  // Two writes allowed on stdout, five attempted: a put quota hit, the guest still exits.
  v1::Manifest put_quota = testing::StdManifest({"quota_probe", "write", "1", "8", "5"});
  put_quota.mutable_channels(1)->set_puts(2);
  v1::ExecuteResponse quota = Run("quota_probe", put_quota, v1::OUTCOME_EXITED);
  EXPECT_TRUE(quota.channels(1).put_quota_exceeded());

  Run("spin", testing::StdManifest({"spin"}, /*timeout_ms=*/300), v1::OUTCOME_TIMEOUT);
  v1::Manifest memory = testing::StdManifest({"alloc", "64", "mmap"});
  memory.set_memory_bytes(int64_t{32} << 20);
  Run("alloc", memory, v1::OUTCOME_MEMORY_LIMIT);

  // Rejected requests: unknown image, missing manifest, refused image.
  v1::ExecuteRequest unknown;
  unknown.set_image_id(absl::StrCat("sha256:", std::string(64, '0')));
  *unknown.mutable_manifest() = testing::StdManifest({"x"});
  v1::ExecuteResponse ignored;
  EXPECT_EQ(Execute(unknown, &ignored).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ExecuteRequest no_manifest;
  no_manifest.set_image_id(registered.image().image_id());
  EXPECT_EQ(Execute(no_manifest, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    v1::RegisterImageRequest bad;
    bad.set_elf(zerocell::testing::GuestBytes("pol_int80"));  // int 0x80: refused by admission
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->RegisterImage(&ctx, bad, &registered).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  const auto m = ScrapeWhen([](const std::map<std::string, double>& s) {
    return At(s, "zerocell_rejected_requests_total",
              {{"method", "RegisterImage"}, {"code", "INVALID_ARGUMENT"}}) >= 1 &&
           At(s, "zerocell_requests_total", {{"method", "Execute"}, {"code", "OK"}}) >= 5 &&
           At(s, "zerocell_executions_in_flight") == 0;
  });
  const std::string ex = "zerocell_executions_total";
  EXPECT_EQ(At(m, ex, {{"outcome", "exited"}}), 2);
  EXPECT_EQ(At(m, ex, {{"outcome", "policy_violation"}}), 1);
  EXPECT_EQ(At(m, ex, {{"outcome", "timeout"}}), 1);
  EXPECT_EQ(At(m, ex, {{"outcome", "memory_limit"}}), 1);
  EXPECT_EQ(At(m, ex, {{"outcome", "signaled"}}), 0);
  EXPECT_EQ(At(m, "zerocell_policy_violations_total", {{"syscall", "socket"}}), 1);
  const std::string quota_family = "zerocell_quota_exceeded_total";
  EXPECT_EQ(At(m, quota_family, {{"kind", "put"}}), 1);
  EXPECT_EQ(At(m, quota_family, {{"kind", "timeout"}}), 1);
  EXPECT_EQ(At(m, quota_family, {{"kind", "memory"}}), 1);
  EXPECT_EQ(At(m, quota_family, {{"kind", "get"}}), 0);
  EXPECT_EQ(At(m, quota_family, {{"kind", "output"}}), 0);

  for (const char* h : {"zerocell_execute_queue_wait_seconds", "zerocell_execute_startup_seconds",
                        "zerocell_execute_run_seconds", "zerocell_execute_duration_seconds"}) {
    EXPECT_EQ(At(m, absl::StrCat(h, "_count")), 5) << h;
    EXPECT_EQ(At(m, absl::StrCat(h, "_bucket"), {{"le", "+Inf"}}), 5) << h;
    EXPECT_GE(At(m, absl::StrCat(h, "_sum")), 0) << h;
  }
  // The 300 ms timeout run alone puts the run and total sums above 0.3 s.
  EXPECT_GE(At(m, "zerocell_execute_run_seconds_sum"), 0.3);
  EXPECT_GE(At(m, "zerocell_execute_duration_seconds_sum"), 0.3);
  EXPECT_GT(At(m, "zerocell_execute_startup_seconds_sum"), 0);
  EXPECT_GT(At(m, "zerocell_guest_cpu_seconds_total"), 0);

  const std::string req = "zerocell_requests_total";
  const std::string rej = "zerocell_rejected_requests_total";
  EXPECT_EQ(At(m, req, {{"method", "Execute"}, {"code", "OK"}}), 5);
  EXPECT_EQ(At(m, req, {{"method", "RegisterImage"}, {"code", "OK"}}), 1);
  EXPECT_EQ(At(m, rej, {{"method", "Execute"}, {"code", "NOT_FOUND"}}), 1);
  EXPECT_EQ(At(m, rej, {{"method", "Execute"}, {"code", "INVALID_ARGUMENT"}}), 1);
  EXPECT_EQ(At(m, rej, {{"method", "RegisterImage"}, {"code", "INVALID_ARGUMENT"}}), 1);
  EXPECT_EQ(At(m, rej, {{"method", "Execute"}, {"code", "OK"}}), -1);

  // Image cache: hello + 4 inline guests accepted, pol_int80 rejected; the by-id run hit.
  EXPECT_EQ(At(m, "zerocell_image_validations_total", {{"result", "accepted"}}), 5);
  EXPECT_EQ(At(m, "zerocell_image_validations_total", {{"result", "rejected"}}), 1);
  EXPECT_GE(At(m, "zerocell_image_cache_hits_total"), 1);
  EXPECT_GE(At(m, "zerocell_image_cache_misses_total"), 1);
  EXPECT_EQ(At(m, "zerocell_image_cache_images"), 5);
  EXPECT_GE(At(m, "zerocell_image_cache_bytes"), static_cast<double>(reg.elf().size()));
  EXPECT_EQ(At(m, "zerocell_image_validation_seconds_count"), 6);

  // Nothing runs or waits any more (a worker lowers the gauge just after the answer is sent).
  EXPECT_EQ(At(m, "zerocell_executions_in_flight"), 0);
  EXPECT_EQ(At(m, "zerocell_queue_depth"), 0);
}

TEST_F(MetricsE2eTest, EndpointServesPrometheusTextOnlyAtMetrics) {
  absl::StatusOr<testing::HttpResponse> r =
      testing::HttpRequest(server_->metrics_port(), "GET", "/metrics");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(absl::AsciiStrToLower(r->headers), HasSubstr("content-type: text/plain"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE zerocell_executions_total counter"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE zerocell_execute_duration_seconds histogram"));
  // Other paths and methods are refused, and never take the server down.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/"}, {"GET", "/nope"}, {"POST", "/metrics"}}) {
    absl::StatusOr<testing::HttpResponse> other =
        testing::HttpRequest(server_->metrics_port(), method, path);
    ASSERT_THAT(other, IsOk()) << method << " " << path;
    EXPECT_GE(other->status, 400) << method << " " << path;
    ASSERT_THAT(testing::HttpGet(server_->metrics_port(), "/metrics"), IsOk())
        << "zerocelld died after " << method << " " << path << "\n"
        << server_->Logs();
  }
}

TEST_F(MetricsE2eTest, LogLinesAreJsonWithRequestIdsAndNoGuestData) {
  // Guest data that must never reach the log: argv, env, stdin, and what the guest writes.
  const std::string secret_arg = "argv-secret-4f1c";
  const std::string secret_env = "ENV_SECRET=env-secret-9a2b";
  const std::string secret_in = "stdin-secret-77d0\n";
  v1::Manifest m = testing::StdManifest({"cat", secret_arg});
  m.add_env(secret_env);
  m.mutable_channels(0)->set_initial_data(secret_in);
  v1::ExecuteResponse echoed = Run("cat", m, v1::OUTCOME_EXITED);
  EXPECT_EQ(echoed.channels(1).output(), secret_in);
  Run("pol_socket", testing::StdManifest({"pol_socket", secret_arg}), v1::OUTCOME_POLICY_VIOLATION);

  // A failed request with a client-chosen request id is logged under that id.
  v1::ExecuteRequest unknown;
  unknown.set_image_id(absl::StrCat("sha256:", std::string(64, 'f')));
  *unknown.mutable_manifest() = testing::StdManifest({secret_arg});
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "e2e0000000000001");
  v1::ExecuteResponse ignored;
  EXPECT_EQ(stub_->Execute(&ctx, unknown, &ignored).error_code(), grpc::StatusCode::NOT_FOUND);

  // The log lines are written before the answers; stop the server so that all are flushed.
  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  absl::StatusOr<int> status = server_->WaitExit(absl::Seconds(30));
  ASSERT_THAT(status, IsOk());
  const std::string logs = server_->Logs();

  EXPECT_THAT(logs, Not(HasSubstr("argv-secret")));
  EXPECT_THAT(logs, Not(HasSubstr("env-secret")));
  EXPECT_THAT(logs, Not(HasSubstr("stdin-secret")));
  EXPECT_THAT(logs, Not(HasSubstr("survived")));  // pol_socket's output, had it run on

  int executes = 0, failed = 0;
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    const std::string l(line);
    EXPECT_THAT(l, MatchesRegex("\\{\"ts\":\"[0-9T:.-]+Z\",\"level\":\"[a-z]+\",\"event\":.*\\}"))
        << "not a JSON log line: " << l;
    if (l.find("\"event\":\"execute\"") != std::string::npos) {
      ++executes;
      EXPECT_THAT(l, MatchesRegex(".*\"request_id\":\"[0-9a-f]{16}\".*")) << l;
    }
    if (l.find("\"event\":\"request_failed\"") != std::string::npos) {
      ++failed;
      EXPECT_THAT(l, HasSubstr("\"request_id\":\"e2e0000000000001\"")) << l;
    }
  }
  EXPECT_EQ(executes, 2) << logs;
  EXPECT_EQ(failed, 1) << logs;
}

}  // namespace
}  // namespace zerocell::server

// zerocelld end to end: execute, caps, NOT_FOUND, deadline, cancellation, backpressure, drain.
// Tests that need no process of the server's own run it in this process (ZerocellServer).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/rpc_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "sandbox/host/host_probe.h"
#include "server/json_log.h"
#include "server/server.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

using testing::AddChannel;
using testing::StdManifest;

// Parked sandboxes retire this soon after an image's last call (tests that count sandboxes).
constexpr char kQuickRetire[] = "--pool_idle_ms=300";

std::string Guest(const std::string& name) { return zerocell::testing::GuestBytes(name); }

int DevNull() {
  static const int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  return fd;
}

// What zerocelld's flags default to where ServerOptions' own defaults differ; `configure` then
// sets what a test's flags would.
ServerOptions InProcessOptions(const std::function<void(ServerOptions&)>& configure) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.engine.loader_path = zerocell::testing::BinPath("zerocell-loader");
  // One host probe for the whole test binary.
  static const auto* const host = new std::shared_ptr<const sandbox::host::HostCapabilities>(
      std::make_shared<sandbox::host::HostCapabilities>(sandbox::host::ProbeHost()));
  options.engine.host = *host;
  if (configure) configure(options);
  options.cache.validator.max_image_bytes = options.caps.max_image_bytes;  // as zerocelld does
  return options;
}

class ServiceTest : public ::testing::Test {
 protected:
  // A zerocelld process, for what needs one: signals, its logs, its children and fds in /proc.
  void StartServer(std::vector<std::string> flags) {
    in_process_.reset();
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start(std::move(flags));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    Connect(server_->grpc_address());
  }

  // The server in this process (ZerocellServer::Start), for the tests that need none of the
  // above: no exec, no start-up of a second process.
  void StartInProcess(const std::function<void(ServerOptions&)>& configure = nullptr) {
    server_.reset();
    in_process_.reset();
    absl::StatusOr<std::unique_ptr<ZerocellServer>> server =
        ZerocellServer::Start(InProcessOptions(configure), &log_);
    ASSERT_THAT(server, IsOk());
    in_process_ = *std::move(server);
    Connect(absl::StrCat("127.0.0.1:", in_process_->grpc_port()));
  }

  void Connect(const std::string& address) {
    stub_.reset();
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    stub_ = v1::Sandbox::NewStub(channel_);
  }

  std::string Register(const std::string& elf) {
    grpc::ClientContext ctx;
    v1::RegisterImageRequest req;
    req.set_elf(elf);
    v1::RegisterImageResponse resp;
    grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
    EXPECT_THAT(s, IsOk());
    return resp.image().image_id();
  }

  grpc::Status Execute(const v1::ExecuteRequest& req, v1::ExecuteResponse* resp,
                       absl::Duration deadline = absl::Seconds(30)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
    return stub_->Execute(&ctx, req, resp);
  }

  // Sandboxes are the server's direct children (the loader becomes the guest). Tests that use
  // this start the server with kQuickRetire, so that parked ones are gone soon after the calls.
  void ExpectNoSandboxesEventually() {
    const absl::Time until = absl::Now() + absl::Seconds(5);
    while (!zerocell::testing::ChildPids(server_->pid()).empty() && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_THAT(zerocell::testing::ChildPids(server_->pid()), IsEmpty());
  }

  // The in-process server's request log goes nowhere: the tests read responses, not logs.
  JsonLog log_{DevNull()};
  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<ZerocellServer> in_process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

TEST_F(ServiceTest, ExecutesByIdAndInlineWithTheSameResult) {
  StartInProcess();
  const std::string elf = Guest("cat");
  v1::ExecuteRequest req;
  req.set_image(elf);
  *req.mutable_manifest() = StdManifest({"cat"});
  req.mutable_manifest()->mutable_channels(0)->set_initial_data("hello over grpc\n");
  v1::ExecuteResponse inline_resp;
  ASSERT_THAT(Execute(req, &inline_resp), IsOk());
  EXPECT_EQ(inline_resp.outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(inline_resp.channels(1).output(), "hello over grpc\n");
  EXPECT_EQ(inline_resp.image_id(), image::ImageIdOf(elf));

  req.set_image_id(image::ImageIdOf(elf));  // the inline image was cached
  v1::ExecuteResponse by_id;
  ASSERT_THAT(Execute(req, &by_id), IsOk());
  EXPECT_EQ(by_id.channels(1).output(), "hello over grpc\n");
  EXPECT_GT(by_id.usage().wall_ns(), by_id.usage().startup_ns());
  EXPECT_GT(by_id.usage().startup_ns(), 0);
}

// GetServerInfo: the version, the caps and policy from the flags, the host probe's findings
// (the same names as the probe's, in its order); the start-up log and /metrics say the same.
TEST_F(ServiceTest, ServerInfoCarriesVersionCapsPolicyAndHostReport) {
  StartServer(
      {"--max_timeout_ms=5000", "--max_concurrency=3", "--instruction_policy=deterministic"});
  grpc::ClientContext ctx;
  v1::ServerInfo info;
  grpc::Status s = stub_->GetServerInfo(&ctx, v1::GetServerInfoRequest(), &info);
  ASSERT_THAT(s, IsOk());
  EXPECT_THAT(info.version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  EXPECT_FALSE(info.commit().empty());
  EXPECT_EQ(info.instruction_policy(), v1::INSTRUCTION_POLICY_DETERMINISTIC);
  EXPECT_EQ(info.caps().max_timeout_ms(), 5000);
  EXPECT_EQ(info.caps().max_concurrency(), 3);
  EXPECT_EQ(info.caps().max_memory_bytes(), int64_t{4} << 30);
  EXPECT_TRUE(info.warm_pool());
  std::vector<std::string> names;
  for (const v1::HostCapability& c : info.host().capabilities()) {
    names.push_back(c.name());
    EXPECT_FALSE(c.meaning().empty()) << c.name();
    if (c.name() == "user_notification") {
      EXPECT_TRUE(c.ok()) << "the server runs sandboxes";  // a proto bool, not a status
    }
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"kernel", "user_notification", "tsc_trap",
                                              "fixed_addresses", "int80", "privilege_drop"}));
  EXPECT_GT(info.host().probe_ns(), 0);

  const std::string logs = server_->LogsWith("\"event\":\"host_probe\"");
  EXPECT_THAT(logs, HasSubstr("\"user_notification\":\"yes\""));
  for (const v1::HostCapability& c : info.host().capabilities()) {
    if (!c.ok()) {
      EXPECT_THAT(logs, HasSubstr(absl::StrCat("\"capability\":\"", c.name(), "\"")))
          << "a missing guarantee is logged as a warning";
    }
  }
  absl::StatusOr<std::string> metrics = testing::HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_THAT(metrics, IsOk());
  EXPECT_THAT(*metrics, HasSubstr("zerocell_host_capability{capability=\"user_notification\"} 1"));
  EXPECT_THAT(*metrics, HasSubstr(absl::StrCat("zerocell_build_info{commit=\"", info.commit(),
                                               "\",version=\"", info.version(), "\"} 1")));
}

// Anonymous resident memory of a process in bytes (RssAnon: heap, stacks; not library pages
// it happens to have executed), or -1.
int64_t AnonRssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "RssAnon:")) {
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8, line.size() - 8 - 3)), &kib)) {
        return kib * 1024;
      }
    }
  }
  return -1;
}

// Large calls free many MiB of messages and channel data; the server must give that back to the
// system, not keep it in its allocator's arenas (it held ~800 MiB after one 256 MiB cat).
TEST_F(ServiceTest, LargeCallsDoNotLeaveTheServerHoldingTheirMemory) {
  StartServer({});
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  stub_ = v1::Sandbox::NewStub(
      grpc::CreateCustomChannel(server_->grpc_address(), grpc::InsecureChannelCredentials(), args));
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("cat")));
  *req.mutable_manifest() = StdManifest({"cat"});
  req.mutable_manifest()->set_memory_bytes(int64_t{64} << 20);
  req.mutable_manifest()->set_output_limit_bytes(int64_t{60} << 20);
  req.mutable_manifest()->mutable_channels(1)->set_put_size(int64_t{60} << 20);
  v1::ExecuteResponse resp;
  ASSERT_THAT(Execute(req, &resp), IsOk());  // small: settles the server's own allocations
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t before = AnonRssBytes(server_->pid());
  ASSERT_GT(before, 0);
  const std::string big(48 << 20, 'z');
  req.mutable_manifest()->mutable_channels(0)->set_initial_data(big);
  for (int i = 0; i < 3; ++i) {
    grpc::Status s = Execute(req, &resp);
    ASSERT_THAT(s, IsOk());
    ASSERT_EQ(resp.channels(1).output().size(), big.size());
  }
  const absl::Time until = absl::Now() + absl::Seconds(10);
  int64_t after = AnonRssBytes(server_->pid());
  while (after > before + (16 << 20) && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    after = AnonRssBytes(server_->pid());
  }
  EXPECT_LE(after, before + (16 << 20)) << "idle server kept " << (after - before) << " bytes";
}

TEST_F(ServiceTest, GuestOutcomeIsDataNotAnRpcError) {
  StartInProcess();
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("pol_socket")));
  *req.mutable_manifest() = StdManifest({"pol_socket"});
  v1::ExecuteResponse resp;
  ASSERT_THAT(Execute(req, &resp), IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_POLICY_VIOLATION);
  EXPECT_EQ(resp.violation().syscall(), "socket");
}

TEST_F(ServiceTest, MemoryEtagOnRequestAndStableAcrossCalls) {
  StartInProcess();
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("mem_pattern")));
  *req.mutable_manifest() = StdManifest({"mem_pattern", "server"});
  v1::ExecuteResponse plain;
  ASSERT_THAT(Execute(req, &plain), IsOk());
  EXPECT_EQ(plain.memory_etag(), "");  // not asked for
  req.mutable_manifest()->set_memory_etag(true);
  v1::ExecuteResponse a, b;
  ASSERT_THAT(Execute(req, &a), IsOk());  // warm or cold: the same digest
  ASSERT_THAT(Execute(req, &b), IsOk());
  EXPECT_EQ(a.outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(a.memory_etag().size(), 64u);
  req.mutable_manifest()->set_argv(1, "other");
  v1::ExecuteResponse c;
  ASSERT_THAT(Execute(req, &c), IsOk());
  EXPECT_NE(c.memory_etag(), a.memory_etag());
  for (const std::string& item : a.nondeterminism()) {
    if (absl::StartsWith(item, "addresses:")) {
      GTEST_SKIP() << "this host refuses fixed addresses (the response reports it): the memory "
                      "etag covers the mapping layout and varies with it";
    }
  }
  EXPECT_EQ(a.memory_etag(), b.memory_etag());
}

TEST_F(ServiceTest, UnknownAndMalformedIds) {
  StartInProcess();
  v1::ExecuteRequest req;
  req.set_image_id(image::ImageIdOf("never registered"));
  *req.mutable_manifest() = StdManifest({"x"});
  v1::ExecuteResponse resp;
  grpc::Status s = Execute(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("image_id"));

  req.set_image_id("sha256:XYZ");
  s = Execute(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("image_id"));

  grpc::ClientContext ctx;
  v1::GetImageRequest get;
  get.set_image_id(image::ImageIdOf("nope"));
  v1::Image image;
  EXPECT_EQ(stub_->GetImage(&ctx, get, &image).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, RejectedImageCarriesItsReport) {
  StartInProcess();
  grpc::ClientContext ctx;
  v1::RegisterImageRequest req;
  req.set_elf(Guest("pol_int80"));  // contains int 0x80
  v1::RegisterImageResponse resp;
  grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("int 0x80"));
  std::optional<v1::ValidationReport> report = api::RejectionReportOf(s);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->accepted());
  ASSERT_GE(report->rejections_size(), 1);
  EXPECT_THAT(report->rejections(0).instruction(), HasSubstr("int"));

  grpc::ClientContext ctx2;
  req.set_elf("not an elf");
  s = stub_->RegisterImage(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ELF"));
}

// A bad manifest is refused before the inline image costs a validation or a cache slot, and
// the refusal's log line carries nothing from the request.
TEST_F(ServiceTest, BadManifestWithInlineImageCachesNothingAndLogsNoRequestData) {
  StartServer({});
  v1::ExecuteRequest req;
  req.set_image(Guest("hello"));
  *req.mutable_manifest() = StdManifest({"hello"});
  req.mutable_manifest()->add_env("TOKEN=hunter2-secret");
  req.mutable_manifest()->mutable_channels(0)->set_type(static_cast<v1::ChannelType>(9));
  v1::ExecuteResponse resp;
  grpc::Status s = Execute(req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx;
  v1::ListImagesResponse list;
  ASSERT_THAT(stub_->ListImages(&ctx, v1::ListImagesRequest(), &list), IsOk());
  EXPECT_EQ(list.images_size(), 0);
  req.mutable_manifest()->mutable_channels(0)->set_type(v1::CHANNEL_TYPE_SEQ_READ_SEQ_WRITE);
  req.mutable_manifest()->set_env(0, "hunter2-secret-without-an-equals-sign");
  s = Execute(req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("hunter2"));  // the caller may see its own data
  EXPECT_THAT(server_->LogsWith("\"request_failed\""), HasSubstr("\"request_failed\""));
  EXPECT_THAT(server_->Logs(), ::testing::Not(HasSubstr("hunter2")));
}

TEST_F(ServiceTest, RegisterIsIdempotentAndListed) {
  StartInProcess();
  const std::string elf = Guest("hello");
  grpc::ClientContext c1, c2, c3;
  v1::RegisterImageRequest req;
  req.set_elf(elf);
  req.set_name("hello");
  v1::RegisterImageResponse first, second;
  ASSERT_THAT(stub_->RegisterImage(&c1, req, &first), IsOk());
  ASSERT_THAT(stub_->RegisterImage(&c2, req, &second), IsOk());
  EXPECT_FALSE(first.already_registered());
  EXPECT_TRUE(second.already_registered());
  EXPECT_EQ(first.image().image_id(), second.image().image_id());
  EXPECT_TRUE(first.image().validation().accepted());
  EXPECT_FALSE(first.image().in_use());
  EXPECT_GT(first.image().validation().instructions(), 0);
  v1::ListImagesResponse list;
  ASSERT_THAT(stub_->ListImages(&c3, v1::ListImagesRequest(), &list), IsOk());
  ASSERT_EQ(list.images_size(), 1);
  EXPECT_EQ(list.images(0).name(), "hello");
  EXPECT_EQ(list.images(0).size_bytes(), static_cast<int64_t>(elf.size()));
}

// --image_dir: accepted images survive a restart and are preloaded (listed, executable by id).
TEST_F(ServiceTest, PersistedImagesArePreloadedAfterARestart) {
  zerocell::testing::TempDir dir;
  const std::string flag = absl::StrCat("--image_dir=", dir.path());
  StartServer({flag});
  const std::string id = Register(Guest("hello"));
  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  ASSERT_THAT(server_->WaitExit(absl::Seconds(10)), IsOk());

  StartServer({flag});
  grpc::ClientContext ctx;
  v1::ListImagesResponse list;
  ASSERT_THAT(stub_->ListImages(&ctx, v1::ListImagesRequest(), &list), IsOk());
  ASSERT_EQ(list.images_size(), 1);
  EXPECT_EQ(list.images(0).image_id(), id);
  v1::ExecuteRequest req;
  req.set_image_id(id);
  *req.mutable_manifest() = StdManifest({"hello"});
  v1::ExecuteResponse resp;
  ASSERT_THAT(Execute(req, &resp), IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
}

// --instruction_policy=deterministic refuses rdtsc at admission; the standard policy admits it.
TEST_F(ServiceTest, DeterministicPolicyRefusesTimeStampReads) {
  StartInProcess([](ServerOptions& o) {
    o.cache.validator.policy = image::InstructionPolicy::kDeterministic;
  });
  grpc::ClientContext ctx;
  v1::RegisterImageRequest req;
  req.set_elf(Guest("rdtsc"));
  v1::RegisterImageResponse resp;
  grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("rdtsc"));
  std::optional<v1::ValidationReport> report = api::RejectionReportOf(s);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->policy(), v1::INSTRUCTION_POLICY_DETERMINISTIC);

  StartInProcess();
  EXPECT_FALSE(Register(Guest("rdtsc")).empty());
}

// Every cap answers INVALID_ARGUMENT naming the field, before anything runs.
TEST_F(ServiceTest, EveryCapNamesItsField) {
  StartInProcess([](ServerOptions& o) {
    o.caps = {.max_timeout_ms = 2000,
              .max_memory_bytes = 67108864,
              .max_channels = 4,
              .max_inline_bytes = 1000,
              .max_output_bytes = 5000,
              .max_args_bytes = 100,
              .max_image_bytes = 200000};
  });
  const std::string id = Register(Guest("hello"));
  struct Case {
    std::string field;
    std::function<void(v1::ExecuteRequest*)> mutate;
  };
  std::vector<Case> cases = {
      {"manifest.timeout_ms", [](auto* r) { r->mutable_manifest()->set_timeout_ms(2001); }},
      {"manifest.memory_bytes",
       [](auto* r) { r->mutable_manifest()->set_memory_bytes(int64_t{128} << 20); }},
      {"manifest.output_limit_bytes",
       [](auto* r) { r->mutable_manifest()->set_output_limit_bytes(5001); }},
      {"manifest.channels",
       [](auto* r) {
         AddChannel(r->mutable_manifest(), "/dev/a", true, false);
         AddChannel(r->mutable_manifest(), "/dev/b", true, false);
       }},
      {"manifest.channels[0].initial_data",
       [](auto* r) {
         r->mutable_manifest()->mutable_channels(0)->set_initial_data(std::string(1001, 'x'));
       }},
      {"manifest.argv+env", [](auto* r) { r->mutable_manifest()->add_env(std::string(100, 'e')); }},
      {"image", [](auto* r) { r->set_image(std::string(200001, '\x7f')); }},
      {"manifest.channels[3].alias",
       [](auto* r) { AddChannel(r->mutable_manifest(), std::string(256, 'a'), true, false); }},
  };
  for (const Case& c : cases) {
    v1::ExecuteRequest req;
    req.set_image_id(id);
    *req.mutable_manifest() = StdManifest({"hello"}, 1000);
    req.mutable_manifest()->mutable_channels(1)->set_put_size(1000);
    req.mutable_manifest()->mutable_channels(2)->set_put_size(1000);
    c.mutate(&req);
    v1::ExecuteResponse resp;
    grpc::Status s = Execute(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(s.error_message(), HasSubstr(c.field + ":")) << s.error_message();
  }
  // A default (0) timeout above the cap becomes the cap instead of failing.
  v1::ExecuteRequest ok;
  ok.set_image_id(id);
  *ok.mutable_manifest() = StdManifest({"hello"}, 0);
  ok.mutable_manifest()->mutable_channels(1)->set_put_size(1000);
  ok.mutable_manifest()->mutable_channels(2)->set_put_size(1000);
  v1::ExecuteResponse resp;
  grpc::Status s = Execute(ok, &resp);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  // And a manifest the engine refuses names its field too.
  ok.mutable_manifest()->mutable_channels(0)->set_type(static_cast<v1::ChannelType>(9));
  s = Execute(ok, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("manifest.channels[0].type"));
}

TEST_F(ServiceTest, CallerDeadlineKillsTheSandbox) {
  StartServer({"--max_concurrency=1", kQuickRetire});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("spin")));
  *req.mutable_manifest() = StdManifest({"spin"}, 30000);
  v1::ExecuteResponse resp;
  const absl::Time start = absl::Now();
  grpc::Status s = Execute(req, &resp, absl::Milliseconds(300));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ExpectNoSandboxesEventually();
  // The worker is free again: a new run completes.
  v1::ExecuteRequest hello;
  hello.set_image_id(Register(Guest("hello")));
  *hello.mutable_manifest() = StdManifest({"hello"});
  ASSERT_THAT(Execute(hello, &resp), IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
}

TEST_F(ServiceTest, CancellationKillsTheSandbox) {
  StartServer({"--max_concurrency=1", kQuickRetire});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("spin")));
  *req.mutable_manifest() = StdManifest({"spin"}, 30000);
  grpc::ClientContext ctx;
  v1::ExecuteResponse resp;
  grpc::Status status;
  std::thread call([&] { status = stub_->Execute(&ctx, req, &resp); });
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (zerocell::testing::ChildPids(server_->pid()).empty() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_FALSE(zerocell::testing::ChildPids(server_->pid()).empty()) << "the sandbox never started";
  ctx.TryCancel();
  call.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoSandboxesEventually();
}

// One worker, a queue of one: the third concurrent call is refused at once and the queued one
// is refused when its wait deadline passes.
TEST_F(ServiceTest, Backpressure) {
  StartInProcess([](ServerOptions& o) {
    o.pool.workers = 1;
    o.pool.max_queue = 1;
    o.pool.max_queue_wait = absl::Milliseconds(300);
  });
  v1::ExecuteRequest spin;
  spin.set_image_id(Register(Guest("spin")));
  *spin.mutable_manifest() = StdManifest({"spin"}, 2000);
  std::vector<grpc::Status> results(3);
  std::vector<std::thread> calls;
  for (int i = 0; i < 3; ++i) {
    calls.emplace_back([&, i] {
      absl::SleepFor(absl::Milliseconds(100 * i));  // arrive in order
      v1::ExecuteResponse resp;
      results[i] = Execute(spin, &resp);
      if (results[i].ok()) {
        EXPECT_EQ(resp.outcome(), v1::OUTCOME_TIMEOUT);
      }
    });
  }
  for (std::thread& t : calls) t.join();
  EXPECT_THAT(results[0], IsOk());
  EXPECT_EQ(results[1].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(results[1].error_message(), HasSubstr("max_queue_wait_ms"));
  EXPECT_EQ(results[2].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(results[2].error_message(), HasSubstr("queue full"));
}

// Many concurrent calls with every kind of ending (answers, guest failures, caller deadlines,
// cancellations, refusals): afterwards the server holds no extra fds and no sandbox survives.
TEST_F(ServiceTest, MixedConcurrentLoadLeavesNothingBehind) {
  StartServer({"--max_concurrency=2", "--max_queue=4", "--max_queue_wait_ms=200", kQuickRetire});
  const std::string hello = Register(Guest("hello"));
  const std::string spin = Register(Guest("spin"));
  const std::string socket = Register(Guest("pol_socket"));
  v1::ExecuteRequest warm;
  warm.set_image_id(hello);
  *warm.mutable_manifest() = StdManifest({"hello"});
  v1::ExecuteResponse warm_resp;
  ASSERT_THAT(Execute(warm, &warm_resp), IsOk());
  const int fds_before = zerocell::testing::OpenFdCount(server_->pid());

  std::atomic<int> answered{0}, gave_up{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        v1::ExecuteRequest req;
        absl::Duration deadline = absl::Seconds(30);
        switch ((t + i) % 4) {
          case 0:
            req.set_image_id(hello);
            *req.mutable_manifest() = StdManifest({"hello"});
            break;
          case 1:
            req.set_image_id(socket);
            *req.mutable_manifest() = StdManifest({"pol_socket"});
            break;
          case 2:  // the caller gives up while the guest spins
            req.set_image_id(spin);
            *req.mutable_manifest() = StdManifest({"spin"}, 30000);
            deadline = absl::Milliseconds(20 + 10 * (i % 5));
            break;
          default:  // the guest's own timeout
            req.set_image_id(spin);
            *req.mutable_manifest() = StdManifest({"spin"}, 30);
            break;
        }
        v1::ExecuteResponse resp;
        grpc::Status s = Execute(req, &resp, deadline);
        if (s.ok()) {
          ++answered;
        } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          ++gave_up;
        } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++refused;
        } else {
          ++other;
          ADD_FAILURE() << s.error_code() << ": " << s.error_message();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(answered.load(), 0);
  EXPECT_GT(gave_up.load(), 0);
  ExpectNoSandboxesEventually();
  // Connections and notify fds are released (a few may linger briefly in gRPC's pollers).
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (zerocell::testing::OpenFdCount(server_->pid()) > fds_before && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_LE(zerocell::testing::OpenFdCount(server_->pid()), fds_before);
  ASSERT_THAT(Execute(warm, &warm_resp), IsOk());  // still serving
  EXPECT_EQ(warm_resp.outcome(), v1::OUTCOME_EXITED);
}

// SIGTERM: the running call finishes within the grace period, new calls are refused, the
// process exits 0 and leaves no sandbox behind.
TEST_F(ServiceTest, SigtermDrainsInFlightRuns) {
  StartServer({"--max_concurrency=2", "--grace_period_ms=10000"});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("spin_cpu")));
  *req.mutable_manifest() = StdManifest({"spin_cpu", "300"}, 20000);
  v1::ExecuteResponse resp;
  grpc::Status status;
  std::thread call([&] { status = Execute(req, &resp); });
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (zerocell::testing::ChildPids(server_->pid()).empty() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  // While the run drains, a new connection's call is refused.
  absl::SleepFor(absl::Milliseconds(100));
  auto late = v1::Sandbox::NewStub(
      grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext late_ctx;
  late_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ExecuteResponse late_resp;
  const grpc::Status late_status = late->Execute(&late_ctx, req, &late_resp);
  EXPECT_EQ(late_status.error_code(), grpc::StatusCode::UNAVAILABLE) << late_status.error_message();
  call.join();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  absl::StatusOr<int> exit = server_->WaitExit(absl::Seconds(10));
  ASSERT_THAT(exit, IsOk());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
  EXPECT_THAT(server_->LogsWith("\"draining\""), HasSubstr("\"draining\""));
}

// With nothing running, SIGTERM does not wait out the grace period for idle client connections.
TEST_F(ServiceTest, SigtermWithIdleClientsDoesNotWaitForTheGracePeriod) {
  StartServer({"--grace_period_ms=60000"});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("hello")));
  *req.mutable_manifest() = StdManifest({"hello"});
  v1::ExecuteResponse resp;
  ASSERT_THAT(Execute(req, &resp), IsOk());  // channel_ stays open and connected
  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  // Not a speed target: without the early exit gRPC holds the drain for seconds.
  absl::StatusOr<int> exit = server_->WaitExit(absl::Seconds(2));
  ASSERT_THAT(exit, IsOk()) << "still draining an idle connection";
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
}

// Past the grace period the remaining runs are cancelled: nothing survives the server.
TEST_F(ServiceTest, SigtermKillsRunsPastTheGracePeriod) {
  StartServer({"--max_concurrency=2", "--grace_period_ms=200"});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("spin")));
  *req.mutable_manifest() = StdManifest({"spin"}, 30000);
  std::vector<std::thread> calls;
  std::atomic<int> failed{0};
  for (int i = 0; i < 3; ++i) {  // two running, one queued
    calls.emplace_back([&] {
      v1::ExecuteResponse resp;
      if (!Execute(req, &resp).ok()) {
        ++failed;
      }
    });
  }
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (zerocell::testing::ChildPids(server_->pid()).size() < 2 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Two running, and any the warm pool has parked: none may outlive the server.
  std::vector<pid_t> sandboxes = zerocell::testing::ChildPids(server_->pid());
  ASSERT_GE(sandboxes.size(), 2u);
  const absl::Time start = absl::Now();
  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  absl::StatusOr<int> exit = server_->WaitExit(absl::Seconds(10));
  ASSERT_THAT(exit, IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
  for (std::thread& t : calls) t.join();
  EXPECT_EQ(failed.load(), 3);
  // Recorded as the server's doing (UNAVAILABLE = 14), not as the callers' cancellations.
  EXPECT_THAT(server_->Logs(), HasSubstr("\"code\":14"));
  EXPECT_THAT(server_->Logs(), ::testing::Not(HasSubstr("\"code\":1,")));
  for (pid_t pid : sandboxes) EXPECT_NE(kill(pid, 0), 0) << "sandbox " << pid << " survived";
}

}  // namespace
}  // namespace zerocell::server

// zerocelld end to end: execute by id and inline, server info, memory, NOT_FOUND, refusals, the
// image cache and its persistence, the deterministic policy, caps naming their fields.
// Tests that need no process of the server's own run it in this process (ZerocellServer).
#include "tests/server/service_test.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::zerocell::testing::IsOk;
namespace v1 = ::zerocell::v1;

using testing::AddChannel;
using testing::DevNull;
using testing::Guest;
using testing::kQuickRetire;
using testing::ServiceTest;
using testing::StdManifest;

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
  EXPECT_EQ(info.caps().max_processes(), 16);
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
  while (!::zerocell::testing::kShadowMemorySanitizer && after > before + (16 << 20) &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    after = AnonRssBytes(server_->pid());
  }
  if (!::zerocell::testing::kShadowMemorySanitizer) {
    EXPECT_LE(after, before + (16 << 20)) << "idle server kept " << (after - before) << " bytes";
  }
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
              .max_image_bytes = 200000,
              .max_processes = 4};
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
      {"manifest.max_processes", [](auto* r) { r->mutable_manifest()->set_max_processes(5); }},
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

}  // namespace
}  // namespace zerocell::server

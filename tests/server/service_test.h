// The fixture of the zerocelld end-to-end suite (service_e2e_test, service_lifecycle_e2e_test):
// a zerocelld process or an in-process server, a stub, and what the tests share.
#ifndef ZEROCELL_TESTS_SERVER_SERVICE_TEST_H_
#define ZEROCELL_TESTS_SERVER_SERVICE_TEST_H_

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

namespace zerocell::server::testing {

using ::zerocell::testing::IsOk;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

// Parked sandboxes retire this soon after an image's last call (tests that count sandboxes).
inline constexpr char kQuickRetire[] = "--pool_idle_ms=300";

inline std::string Guest(const std::string& name) { return zerocell::testing::GuestBytes(name); }

inline int DevNull() {
  static const int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  return fd;
}

// What zerocelld's flags default to where ServerOptions' own defaults differ; `configure` then
// sets what a test's flags would.
inline ServerOptions InProcessOptions(const std::function<void(ServerOptions&)>& configure) {
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

  // No sandbox under the server, for good, within 5 s. Tests that use this start the server with
  // kQuickRetire, so that parked ones are gone soon after the calls.
  void ExpectNoSandboxesEventually() {
    EXPECT_TRUE(::zerocell::testing::WaitForNoSandboxes(server_->pid()))
        << ::zerocell::testing::DescribeProcesses(::zerocell::testing::SandboxPids(server_->pid()));
  }

  // The in-process server's request log goes nowhere: the tests read responses, not logs.
  JsonLog log_{DevNull()};
  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<ZerocellServer> in_process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_SERVICE_TEST_H_

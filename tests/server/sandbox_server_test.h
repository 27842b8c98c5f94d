// Base fixture for end-to-end tests that start one zerocelld and call it through a stub.
#ifndef ZEROCELL_TESTS_SERVER_SANDBOX_SERVER_TEST_H_
#define ZEROCELL_TESTS_SERVER_SANDBOX_SERVER_TEST_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server::testing {

class SandboxServerTest : public ::testing::Test {
 protected:
  // Starts zerocelld on 127.0.0.1 port 0 with `flags` and connects stub_ to it.
  void StartServer(std::vector<std::string> flags) {
    absl::StatusOr<std::unique_ptr<::zerocell::testing::ZerocelldProcess>> server =
        ::zerocell::testing::ZerocelldProcess::Start(std::move(flags));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = zerocell::v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  // Registers the test guest `guest`; its image id ("" and a test failure when refused).
  std::string Register(const std::string& guest) {
    grpc::ClientContext ctx;
    zerocell::v1::RegisterImageRequest req;
    req.set_elf(::zerocell::testing::GuestBytes(guest));
    zerocell::v1::RegisterImageResponse resp;
    grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.image().image_id();
  }

  // No sandbox under the server, for good, within 5 s (a cancelled or failed run leaves none).
  void ExpectNoSandboxesEventually() {
    EXPECT_TRUE(::zerocell::testing::WaitForNoSandboxes(server_->pid()))
        << ::zerocell::testing::DescribeProcesses(::zerocell::testing::SandboxPids(server_->pid()));
  }

  std::unique_ptr<::zerocell::testing::ZerocelldProcess> server_;
  std::unique_ptr<zerocell::v1::Sandbox::Stub> stub_;
};

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_SANDBOX_SERVER_TEST_H_

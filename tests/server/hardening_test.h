// The fixture of the zerocelld hardening end-to-end suites: a real zerocelld started with given
// flags, its stub, and requests (optionally with an x-tenant header).
#ifndef ZEROCELL_TESTS_SERVER_HARDENING_TEST_H_
#define ZEROCELL_TESTS_SERVER_HARDENING_TEST_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server::testing {

namespace v1 = ::zerocell::v1;
using ::zerocell::testing::ZerocelldProcess;

inline std::string Guest(const std::string& name) { return ::zerocell::testing::GuestBytes(name); }

// Small caps, so that the budget and message tests move megabytes, not hundreds.
inline const std::vector<std::string> kSmallCaps = {
    "--max_message_bytes=16777216", "--max_inline_bytes=4194304", "--max_output_bytes=1048576",
    "--max_image_bytes=2097152"};

inline std::vector<std::string> With(std::vector<std::string> a,
                                     const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class HardeningTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> flags) {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start(std::move(flags));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = NewStub();
  }
  std::unique_ptr<v1::Sandbox::Stub> NewStub() const {
    return v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  // Registers `elf`; `tenant` non-empty: with x-tenant metadata.
  std::string Register(const std::string& elf, const std::string& tenant = "") {
    grpc::ClientContext ctx;
    if (!tenant.empty()) ctx.AddMetadata("x-tenant", tenant);
    v1::RegisterImageRequest req;
    req.set_elf(elf);
    v1::RegisterImageResponse resp;
    grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.image().image_id();
  }

  static v1::ExecuteRequest Request(const std::string& id, std::vector<std::string> argv,
                                    int64_t timeout_ms = 10000) {
    v1::ExecuteRequest req;
    req.set_image_id(id);
    *req.mutable_manifest() = StdManifest(std::move(argv), timeout_ms);
    return req;
  }

  grpc::Status Execute(const v1::ExecuteRequest& req, v1::ExecuteResponse* resp,
                       const std::string& tenant = "", v1::Sandbox::Stub* stub = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!tenant.empty()) ctx.AddMetadata("x-tenant", tenant);
    return (stub != nullptr ? stub : stub_.get())->Execute(&ctx, req, resp);
  }

  void WaitForSandboxes(size_t n) {
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (::zerocell::testing::SandboxPids(server_->pid()).size() < n && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_HARDENING_TEST_H_

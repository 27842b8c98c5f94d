// zerocelld against hostile clients and faults (issue 14): message limits, the request memory
// budget, per-client image namespaces, drain without lost calls, SIGKILL, a full --image_dir,
// a client that stops reading.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::StdManifest;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

std::string Guest(const std::string& name) { return ::zerocell::testing::GuestBytes(name); }

// Small caps, so that the budget and message tests move megabytes, not hundreds.
const std::vector<std::string> kSmallCaps = {
    "--max_message_bytes=16777216", "--max_inline_bytes=4194304", "--max_output_bytes=1048576",
    "--max_image_bytes=2097152"};

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
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
    while (::zerocell::testing::ChildPids(server_->pid()).size() < n && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

// Finding 6: a read-write channel returns its initial data as output, so the largest response is
// --max_output_bytes + --max_inline_bytes. Flags whose message limit only covers the output
// (accepted before) are refused at start, naming the flags, instead of failing calls after
// their guest ran.
TEST_F(HardeningTest, MessageLimitMustHoldOutputPlusReturnedInput) {
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> refused =
      ZerocelldProcess::Start({"--max_message_bytes=8388608", "--max_output_bytes=6291456",
                               "--max_inline_bytes=3145728", "--max_image_bytes=1048576"});
  ASSERT_FALSE(refused.ok()) << "started with a message limit below the largest response";
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--max_message_bytes"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("read-write channel"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--max_inline_bytes"));
}

// Finding 3: calls are charged their memory before they are queued; past the calls' share of
// --max_request_memory_bytes they are refused at once (not after a queue wait), naming the flag.
// gRPC's transport share may also reset streams still arriving (RESOURCE_EXHAUSTED, "RST_STREAM
// ... 11"): refused early too.
TEST_F(HardeningTest, RequestMemoryBudgetRefusesAtOnce) {
  StartServer(With(
      {"--max_concurrency=1", "--max_queue_wait_ms=60000", "--max_request_memory_bytes=67108864"},
      kSmallCaps));
  if (HasFatalFailure()) return;
  const std::string spin_cpu = Register(Guest("spin_cpu"));
  v1::ExecuteRequest busy = Request(Register(Guest("spin")), {"spin"}, 3000);  // its timeout
  v1::ExecuteResponse busy_resp;
  grpc::Status busy_status;
  std::unique_ptr<v1::Sandbox::Stub> busy_stub = NewStub();  // a connection of its own
  std::thread occupy([&] { busy_status = Execute(busy, &busy_resp, "", busy_stub.get()); });
  WaitForSandboxes(1);

  // 64 MiB: 16 for gRPC's transport, 48 for calls. Each of these is charged about 2 x 4 MiB plus
  // its 1 MiB output limit: five fit beside the running call.
  v1::ExecuteRequest big = Request(spin_cpu, {"spin_cpu", "1"});
  big.mutable_manifest()->mutable_channels(0)->set_initial_data(
      std::string((4 << 20) - (64 << 10), 'x'));
  std::atomic<int> budget_refused{0}, reset{0}, ok{0};
  std::atomic<int64_t> slowest_refusal_ms{0};
  std::vector<std::thread> calls;
  for (int i = 0; i < 8; ++i) {
    absl::SleepFor(absl::Milliseconds(60));  // one after another, not all at the transport
    calls.emplace_back([&] {
      const absl::Time start = absl::Now();
      v1::ExecuteResponse resp;
      grpc::Status s = Execute(big, &resp);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                 absl::StrContains(s.error_message(), "--max_request_memory_bytes")) {
        ++budget_refused;
        const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
        slowest_refusal_ms.store(std::max(slowest_refusal_ms.load(), ms));
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++reset;
        const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
        slowest_refusal_ms.store(std::max(slowest_refusal_ms.load(), ms));
      } else {
        ADD_FAILURE() << s.error_code() << ": " << s.error_message();
      }
    });
  }
  for (std::thread& t : calls) t.join();
  occupy.join();
  // Refused, by either share, while the 3 s run still held the only worker: without queueing.
  EXPECT_GT(budget_refused.load() + reset.load(), 0) << ok.load() << " ok";
  EXPECT_LT(slowest_refusal_ms.load(), 2500);
  // gRPC resets a random stream of a transport when its quota runs out: that may be the busy
  // call (docs/service-notes.md); anything else is a failure.
  EXPECT_TRUE(busy_status.ok() || busy_status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
      << busy_status.error_message();
}

// Finding 7: with --image_namespace=header:x-tenant each tenant sees and runs only its images.
TEST_F(HardeningTest, ImageNamespacesIsolateTenantsAndSurviveARestart) {
  absl::StatusOr<::zerocell::testing::TempDir> dir = ::zerocell::testing::TempDir::Create("ns");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::vector<std::string> flags = {"--image_namespace=header:x-tenant",
                                          absl::StrCat("--image_dir=", dir->path())};
  StartServer(flags);
  if (HasFatalFailure()) return;
  const std::string id = Register(Guest("hello"), "alice");
  ASSERT_FALSE(id.empty());

  const auto list = [&](const std::string& tenant) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-tenant", tenant);
    v1::ListImagesResponse resp;
    EXPECT_TRUE(stub_->ListImages(&ctx, v1::ListImagesRequest(), &resp).ok());
    std::vector<std::string> ids;
    for (const v1::Image& image : resp.images()) ids.push_back(image.image_id());
    return ids;
  };
  const auto check = [&] {
    EXPECT_THAT(list("alice"), ::testing::ElementsAre(id));
    EXPECT_THAT(list("bob"), IsEmpty());
    grpc::ClientContext get_ctx;
    get_ctx.AddMetadata("x-tenant", "bob");
    v1::GetImageRequest get;
    get.set_image_id(id);
    v1::Image image;
    EXPECT_EQ(stub_->GetImage(&get_ctx, get, &image).error_code(), grpc::StatusCode::NOT_FOUND);
    v1::ExecuteResponse resp;
    EXPECT_EQ(Execute(Request(id, {"hello"}), &resp, "bob").error_code(),
              grpc::StatusCode::NOT_FOUND);
    grpc::Status mine = Execute(Request(id, {"hello"}), &resp, "alice");
    EXPECT_TRUE(mine.ok()) << mine.error_message();
    // No identity, no images.
    grpc::ClientContext anon;
    v1::ListImagesResponse all;
    EXPECT_EQ(stub_->ListImages(&anon, v1::ListImagesRequest(), &all).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  };
  check();
  // Bob registering the same bytes makes them his too, as a first registration of his.
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-tenant", "carol");
  v1::RegisterImageRequest req;
  req.set_elf(Guest("hello"));
  v1::RegisterImageResponse resp;
  ASSERT_TRUE(stub_->RegisterImage(&ctx, req, &resp).ok());
  EXPECT_FALSE(resp.already_registered());
  EXPECT_EQ(resp.image().executions(), 0);  // alice's execution is not carol's to see

  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  ASSERT_TRUE(server_->WaitExit(absl::Seconds(10)).ok());
  StartServer(flags);
  if (HasFatalFailure()) return;
  check();
}

// SIGTERM under load: every call that reached the server before the signal runs to its answer;
// calls after it are answered UNAVAILABLE by the draining service (clients retry those). A call on
// the wire at the instant gRPC itself shuts down (after the last answer) can still be cancelled by
// gRPC core: counted and reported, not failed (docs/service-notes.md, "The drain ends early").
TEST_F(HardeningTest, SigtermUnderLoadLosesNoAcceptedCall) {
  StartServer({"--max_concurrency=2", "--grace_period_ms=20000"});
  if (HasFatalFailure()) return;
  const std::string spin_cpu = Register(Guest("spin_cpu"));
  const v1::ExecuteRequest req = Request(spin_cpu, {"spin_cpu", "40"});
  std::atomic<bool> stop{false}, signalled{false};
  std::atomic<int> ok{0}, unavailable{0}, cut_at_close{0};
  absl::Mutex mu;
  std::vector<std::string> lost;
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&] {
      std::unique_ptr<v1::Sandbox::Stub> stub = NewStub();
      while (!stop.load()) {
        const bool before_signal = !signalled.load();
        v1::ExecuteResponse resp;
        grpc::Status s = Execute(req, &resp, "", stub.get());
        if (s.ok()) {
          ++ok;
        } else if (!before_signal && s.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++unavailable;
          absl::SleepFor(absl::Milliseconds(2));
        } else if (!before_signal && s.error_code() == grpc::StatusCode::CANCELLED) {
          ++cut_at_close;
        } else {
          absl::MutexLock lock(&mu);
          lost.push_back(absl::StrCat(before_signal ? "sent before SIGTERM: " : "after: ",
                                      s.error_code(), ": ", s.error_message()));
        }
      }
    });
  }
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (ok.load() < 20 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  signalled.store(true);
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  absl::StatusOr<int> exit = server_->WaitExit(absl::Seconds(20));
  stop.store(true);
  for (std::thread& t : clients) t.join();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;
  EXPECT_THAT(lost, IsEmpty());
  EXPECT_GT(unavailable.load(), 0);  // the load went on into the drain
  RecordProperty("cancelled_at_close", cut_at_close.load());
  EXPECT_LE(cut_at_close.load(), 2) << "more calls cut off than the closing instant explains";
}

// SIGKILL under load: no sandbox survives its server (parent-death signal), and a restart
// preloads the persisted images.
TEST_F(HardeningTest, SigkillUnderLoadLeavesNoSandboxAndRestartPreloads) {
  absl::StatusOr<::zerocell::testing::TempDir> dir = ::zerocell::testing::TempDir::Create("kill");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string image_dir = absl::StrCat("--image_dir=", dir->path());
  StartServer({"--max_concurrency=3", image_dir});
  if (HasFatalFailure()) return;
  const std::string spin = Register(Guest("spin"));
  const std::string hello = Register(Guest("hello"));
  std::vector<std::thread> calls;
  for (int i = 0; i < 4; ++i) {
    calls.emplace_back([&] {
      v1::ExecuteResponse resp;
      (void)Execute(Request(spin, {"spin"}, 30000), &resp);
    });
  }
  WaitForSandboxes(3);
  const std::vector<pid_t> sandboxes = ::zerocell::testing::DescendantPids(server_->pid());
  ASSERT_GE(sandboxes.size(), 3u);
  ASSERT_TRUE(server_->Signal(SIGKILL).ok());
  ASSERT_TRUE(server_->WaitExit(absl::Seconds(10)).ok());
  for (std::thread& t : calls) t.join();
  // Gone, or a zombie waiting for init to reap it: not running either way.
  const auto running = [&] {
    std::vector<pid_t> alive;
    for (pid_t pid : sandboxes) {
      absl::StatusOr<std::string> stat =
          ::zerocell::testing::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
      if (!stat.ok()) continue;
      const size_t paren = stat->rfind(')');
      if (paren != std::string::npos && stat->size() > paren + 2 && (*stat)[paren + 2] != 'Z') {
        alive.push_back(pid);
      }
    }
    return alive;
  };
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (!running().empty() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_THAT(running(), IsEmpty());

  StartServer({image_dir});
  if (HasFatalFailure()) return;
  grpc::ClientContext ctx;
  v1::ListImagesResponse list;
  ASSERT_TRUE(stub_->ListImages(&ctx, v1::ListImagesRequest(), &list).ok());
  EXPECT_EQ(list.images_size(), 2);
  v1::ExecuteResponse resp;
  ASSERT_TRUE(Execute(Request(hello, {"hello"}), &resp).ok());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  EXPECT_THAT(server_->Logs(), ::testing::Not(HasSubstr("image_preload_skipped")));
}

// A full --image_dir: a 64 KiB tmpfs, mounted in a user and mount namespace of the server's own
// (probed: skipped where unprivileged namespaces are refused). The image that does not fit is
// still served from memory, the failure is logged with its path and errno, and the directory
// holds only whole images (each file's name is its content's SHA-256), no temp file.
TEST_F(HardeningTest, FullImageDirGivesAClearErrorAndNoCorruptImage) {
  absl::StatusOr<std::string> probe = testing::RunCommand({"unshare", "-rm", "true"});
  if (!probe.ok()) {
    GTEST_SKIP() << "no unprivileged user+mount namespace here (unshare -rm): " << probe.status();
  }
  absl::StatusOr<::zerocell::testing::TempDir> dir = ::zerocell::testing::TempDir::Create("full");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string mount = absl::StrCat(dir->path(), "/images");
  std::filesystem::create_directory(mount);
  absl::StatusOr<std::string> zerocelld = ::zerocell::testing::BinPath("zerocelld");
  ASSERT_TRUE(zerocelld.ok());
  const std::string wrapper = absl::StrCat(dir->path(), "/zerocelld-on-tmpfs");
  {
    std::ofstream out(wrapper);
    out << "#!/bin/sh\nexec unshare -rm sh -c 'mount -t tmpfs -o size=64k zerocell-full " << mount
        << " && exec \"$0\" \"$@\"' " << *zerocelld << " \"$@\"\n";
  }
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  ZerocelldProcess::Options options;
  options.binary = wrapper;
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
      ZerocelldProcess::Start({absl::StrCat("--image_dir=", mount)}, options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  stub_ = NewStub();

  // 7 + 5 pages fit in 16; cat's 9 do not.
  const std::string hello = Register(Guest("hello"));
  const std::string spin = Register(Guest("spin"));
  const std::string cat = Register(Guest("cat"));
  ASSERT_FALSE(cat.empty());
  EXPECT_THAT(server_->LogsWith("image_store_failed"), HasSubstr("image_store_failed"));
  EXPECT_THAT(server_->Logs(), HasSubstr("No space left on device"));
  EXPECT_THAT(server_->Logs(), HasSubstr(mount));
  v1::ExecuteRequest req = Request(cat, {"cat"});
  req.mutable_manifest()->mutable_channels(0)->set_initial_data("still served");
  v1::ExecuteResponse resp;
  ASSERT_TRUE(Execute(req, &resp).ok());

  // The server's view of the directory, through its root.
  const std::string seen = absl::StrCat("/proc/", server_->pid(), "/root", mount);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(seen)) {
    const std::string name = entry.path().filename();
    if (entry.is_directory()) continue;
    names.push_back(name);
    absl::StatusOr<std::string> bytes = ::zerocell::testing::ReadFile(entry.path());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_THAT(name, HasSubstr(base::Sha256Hex(*bytes))) << "a corrupt or partial image";
  }
  EXPECT_EQ(names.size(), 2u) << ::testing::PrintToString(names);
}

// A client that stops reading a large response holds no worker: the one worker serves the next
// call while the first response waits in gRPC's buffers.
TEST_F(HardeningTest, ClientThatStopsReadingHoldsNoWorker) {
  StartServer({"--max_concurrency=1", "--max_queue_wait_ms=3000"});
  if (HasFatalFailure()) return;
  const std::string bigout = Register(Guest("bigout"));
  const std::string hello = Register(Guest("hello"));
  v1::ExecuteRequest big = Request(bigout, {"bigout", "33554432"});
  big.mutable_manifest()->set_output_limit_bytes(40 << 20);
  big.mutable_manifest()->mutable_channels(1)->set_put_size(40 << 20);
  grpc::CompletionQueue cq;  // never polled: the response is never read
  grpc::ClientContext stalled;
  stalled.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ExecuteResponse>> reader =
      stub_->AsyncExecute(&stalled, big, &cq);
  WaitForSandboxes(1);
  // Until its 32 MiB run ends the worker is its; then the response only waits to be read.
  for (int i = 0; i < 3; ++i) {
    v1::ExecuteResponse resp;
    grpc::Status s = Execute(Request(hello, {"hello"}), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  }
  stalled.TryCancel();
  reader.reset();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace zerocell::server

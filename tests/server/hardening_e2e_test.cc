// zerocelld against hostile clients and faults (issue 14): message limits, the request memory
// budget, per-client image namespaces, drain without lost calls, SIGKILL, a full --image_dir,
// a client that stops reading.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

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

extern char** environ;

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
    while (::zerocell::testing::SandboxPids(server_->pid()).size() < n && absl::Now() < until) {
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
// ... 11"): refused early too. "At once" is shown by order, not by a clock (sanitizers make any
// bound flaky): the refusals arrive while the only worker is still held by a run that ends only
// when the test cancels it, so none of them waited for a worker.
TEST_F(HardeningTest, RequestMemoryBudgetRefusesAtOnce) {
  StartServer(With(
      {"--max_concurrency=1", "--max_queue_wait_ms=60000", "--max_request_memory_bytes=67108864"},
      kSmallCaps));
  if (HasFatalFailure()) return;
  const std::string spin_cpu = Register(Guest("spin_cpu"));
  // Holds the only worker until cancelled (its 60 s timeout only bounds a failing test).
  v1::ExecuteRequest busy = Request(Register(Guest("spin")), {"spin"}, 60000);
  grpc::ClientContext busy_ctx;
  v1::ExecuteResponse busy_resp;
  grpc::Status busy_status;
  absl::Mutex mu;
  std::atomic<bool> busy_done{false};  // set under mu, so that the wait below sees it
  std::unique_ptr<v1::Sandbox::Stub> busy_stub = NewStub();  // a connection of its own
  std::thread occupy([&] {
    busy_status = busy_stub->Execute(&busy_ctx, busy, &busy_resp);
    absl::MutexLock lock(&mu);
    busy_done = true;
  });
  WaitForSandboxes(1);
  ASSERT_FALSE(::zerocell::testing::SandboxPids(server_->pid()).empty()) << "no busy run";

  // 64 MiB: 16 for gRPC's transport, 48 for calls. Each of these is charged about 2 x 4 MiB plus
  // its 1 MiB output limit: five fit beside the running call, so at least three of the eight
  // end (refused by the budget, or reset) while the others wait in the queue.
  constexpr int kCalls = 8, kFit = 5;
  v1::ExecuteRequest big = Request(spin_cpu, {"spin_cpu", "1"});
  big.mutable_manifest()->mutable_channels(0)->set_initial_data(
      std::string((4 << 20) - (64 << 10), 'x'));
  std::atomic<int> budget_refused{0}, reset{0}, ok{0}, refused_while_busy{0};
  int ended = 0;  // calls that returned; guarded by mu
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    absl::SleepFor(absl::Milliseconds(60));  // one after another, not all at the transport
    calls.emplace_back([&] {
      v1::ExecuteResponse resp;
      grpc::Status s = Execute(big, &resp);
      const bool busy_running = !busy_done.load();
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        const bool budget = absl::StrContains(s.error_message(), "--max_request_memory_bytes");
        ++(budget ? budget_refused : reset);
        if (busy_running) ++refused_while_busy;
      } else {
        ADD_FAILURE() << s.error_code() << ": " << s.error_message();
      }
      absl::MutexLock lock(&mu);
      ++ended;
    });
  }
  // Until the calls that cannot fit have ended (or the busy run ended: then this test fails).
  {
    absl::MutexLock lock(&mu);
    const auto decided = [&] { return ended >= kCalls - kFit || busy_done.load(); };
    mu.Await(absl::Condition(&decided));
  }
  const bool busy_ended_first = busy_done.load();
  busy_ctx.TryCancel();  // the queued calls now run, one at a time
  for (std::thread& t : calls) t.join();
  occupy.join();
  EXPECT_FALSE(busy_ended_first) << busy_status.error_code() << ": " << busy_status.error_message();
  EXPECT_GE(refused_while_busy.load(), kCalls - kFit)
      << budget_refused.load() << " refused by the budget, " << reset.load() << " reset, "
      << ok.load() << " ok";
  // Cancelled by the test; gRPC resets a random stream of a transport when its quota runs out:
  // that may be the busy call (docs/service-notes.md); anything else is a failure.
  EXPECT_TRUE(busy_status.error_code() == grpc::StatusCode::CANCELLED ||
              busy_status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
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

// The cache is shared, but each namespace is bounded (--image_namespace_max_bytes): a client
// registering image after image evicts its own least recently used images, never another
// client's. Here the cache holds four images and a namespace two; without the bound, mallory's
// four registrations would push bob's older image out of the shared LRU.
TEST_F(HardeningTest, OneClientsImagesCannotEvictAnothers) {
  const std::string hello = Guest("hello");
  const auto variant = [&](int n) { return hello + std::string(static_cast<size_t>(n), 'j'); };
  constexpr uint64_t kPage = 4096;
  const uint64_t charge = (hello.size() + 8 + kPage - 1) / kPage * kPage + kPage;  // all variants
  ASSERT_EQ((hello.size() + kPage - 1) / kPage, (hello.size() + 8 + kPage - 1) / kPage)
      << "the variants straddle a page: pick other padding";
  StartServer({"--image_namespace=header:x-tenant", absl::StrCat("--cache_bytes=", 4 * charge),
               absl::StrCat("--image_namespace_max_bytes=", 2 * charge),
               absl::StrCat("--max_image_bytes=", hello.size() + 8)});
  if (HasFatalFailure()) return;
  const std::string bobs = Register(variant(0), "bob");
  std::vector<std::string> hers;
  for (int i = 1; i <= 4; ++i) hers.push_back(Register(variant(i), "mallory"));
  const auto list = [&](const std::string& tenant) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-tenant", tenant);
    v1::ListImagesResponse resp;
    EXPECT_TRUE(stub_->ListImages(&ctx, v1::ListImagesRequest(), &resp).ok());
    std::vector<std::string> ids;
    for (const v1::Image& image : resp.images()) ids.push_back(image.image_id());
    return ids;
  };
  EXPECT_THAT(list("bob"), ::testing::ElementsAre(bobs));
  EXPECT_THAT(list("mallory"), ::testing::UnorderedElementsAre(hers[2], hers[3]));
  v1::ExecuteResponse resp;
  grpc::Status bob_runs = Execute(Request(bobs, {"hello"}), &resp, "bob");
  EXPECT_TRUE(bob_runs.ok()) << bob_runs.error_message();
  EXPECT_EQ(Execute(Request(hers[0], {"hello"}), &resp, "mallory").error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Her evicted images left the cache too (no namespace holds them): the cache holds three.
  absl::StatusOr<std::string> metrics = testing::HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const size_t at = metrics->find("\nzerocell_image_cache_images ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(metrics->substr(at + 1, metrics->find('\n', at + 1) - at - 1),
            "zerocell_image_cache_images 3");
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
        } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                   (!before_signal || absl::StrContains(s.error_message(), "accepts no new"))) {
          // A call the client started just before the signal may reach the server after it: the
          // draining service's refusal at the door shows it was never accepted, so not lost.
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
  // A bound on timing: under ASan or TSan every step is several times slower and the closing
  // instant wider (7 cuts seen), so it is checked in uninstrumented builds only.
  if (!zerocell::testing::kShadowMemorySanitizer) {
    EXPECT_LE(cut_at_close.load(), 2) << "more calls cut off than the closing instant explains";
  }
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

// A 64 KiB tmpfs mounted in a user and mount namespace held by a `sleep` of its own, so that it
// outlives one zerocelld and the next (started inside it with nsenter) preloads from it. Killed
// and reaped on destruction, which unmounts it. Skipped by the caller where the host refuses
// unprivileged namespaces.
class FullDisk {
 public:
  // mount: an empty directory; ready: a path the holder creates once mounted.
  static absl::StatusOr<std::unique_ptr<FullDisk>> Mount(const std::string& mount,
                                                         const std::string& ready) {
    std::vector<std::string> args = {
        "unshare",
        "-rm",
        "sh",
        "-c",
        "mount -t tmpfs -o size=64k zerocell-full \"$0\" && : > \"$1\" && exec sleep 600",
        mount,
        ready};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int err = posix_spawnp(&pid, "unshare", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) return absl::InternalError(absl::StrCat("cannot run unshare: ", strerror(err)));
    auto disk = std::unique_ptr<FullDisk>(new FullDisk(pid));
    const bool ready_seen = ::zerocell::testing::WaitFor(
        [&] { return std::filesystem::exists(ready) || ::zerocell::testing::HasZombieChild(); });
    if (!ready_seen || !std::filesystem::exists(ready)) {
      return absl::FailedPreconditionError("the tmpfs holder did not mount (unshare -rm refused?)");
    }
    return disk;
  }
  ~FullDisk() {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const { return pid_; }

 private:
  explicit FullDisk(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

// A full --image_dir (issue 14, "faults"): registering an image that does not fit fails with
// RESOURCE_EXHAUSTED naming the directory and the errno; nothing of it stays (not cached, no
// file, no temp file), the images that fit are served; a restart on the same disk, which also
// holds a crash's leftovers (a temp file and a torn <hex>.elf), preloads only complete images.
TEST_F(HardeningTest, FullImageDirRefusesTheImageAndKeepsNoPartOfIt) {
  absl::StatusOr<std::string> probe = testing::RunCommand({"unshare", "-rm", "true"});
  if (!probe.ok()) {
    GTEST_SKIP() << "no unprivileged user+mount namespace here (unshare -rm): " << probe.status();
  }
  absl::StatusOr<::zerocell::testing::TempDir> dir = ::zerocell::testing::TempDir::Create("full");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string mount = absl::StrCat(dir->path(), "/images");
  std::filesystem::create_directory(mount);
  absl::StatusOr<std::unique_ptr<FullDisk>> disk =
      FullDisk::Mount(mount, absl::StrCat(dir->path(), "/mounted"));
  if (!disk.ok()) GTEST_SKIP() << disk.status();
  absl::StatusOr<std::string> zerocelld = ::zerocell::testing::BinPath("zerocelld");
  ASSERT_TRUE(zerocelld.ok());
  // --preserve-credentials: unshare -r denied setgroups, which nsenter would otherwise call.
  const std::string wrapper = absl::StrCat(dir->path(), "/zerocelld-on-tmpfs");
  {
    std::ofstream out(wrapper);
    out << "#!/bin/sh\nexec nsenter --preserve-credentials -U -m -t " << (*disk)->pid() << " "
        << *zerocelld << " \"$@\"\n";
  }
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  ZerocelldProcess::Options options;
  options.binary = wrapper;
  const std::vector<std::string> flags = {absl::StrCat("--image_dir=", mount)};
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
      ZerocelldProcess::Start(flags, options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  stub_ = NewStub();

  // 7 + 5 pages fit in 16; cat's 9 do not.
  const std::string hello = Register(Guest("hello"));
  const std::string spin = Register(Guest("spin"));
  const std::string cat_bytes = Guest("cat");
  const std::string cat = absl::StrCat("sha256:", base::Sha256Hex(cat_bytes));
  for (int attempt = 0; attempt < 2; ++attempt) {  // the same answer again: nothing was kept
    grpc::ClientContext ctx;
    v1::RegisterImageRequest req;
    req.set_elf(cat_bytes);
    v1::RegisterImageResponse resp;
    grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(mount));
    EXPECT_THAT(s.error_message(), HasSubstr("No space left on device (ENOSPC)"));
  }
  EXPECT_THAT(server_->LogsWith("image_store_failed"), HasSubstr("image_store_failed"));
  const auto listed = [&] {
    grpc::ClientContext ctx;
    v1::ListImagesResponse list;
    EXPECT_TRUE(stub_->ListImages(&ctx, v1::ListImagesRequest(), &list).ok());
    std::vector<std::string> ids;
    for (const v1::Image& image : list.images()) ids.push_back(image.image_id());
    return ids;
  };
  EXPECT_THAT(listed(), ::testing::UnorderedElementsAre(hello, spin));
  v1::ExecuteResponse resp;
  EXPECT_EQ(Execute(Request(cat, {"cat"}), &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Execute(Request(hello, {"hello"}), &resp).ok());

  // The directory as the namespace sees it, through the holder's root: only whole images.
  const std::string seen = absl::StrCat("/proc/", (*disk)->pid(), "/root", mount);
  const auto names = [&] {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(seen)) {
      const std::string name = entry.path().filename();
      found.push_back(name);
      absl::StatusOr<std::string> bytes = ::zerocell::testing::ReadFile(entry.path());
      EXPECT_TRUE(bytes.ok()) << bytes.status();
      if (bytes.ok()) {
        EXPECT_EQ(name, base::Sha256Hex(*bytes) + ".elf") << "a partial image";
      }
    }
    return found;
  };
  EXPECT_THAT(names(), ::testing::SizeIs(2));

  // What a crash (or power loss) mid-write leaves: a temp file and a torn image, one page each.
  const std::string cat_hex = base::Sha256Hex(cat_bytes);
  for (const std::string& leftover :
       {absl::StrCat(".tmp-", cat_hex, "-Xy12Zq"), cat_hex + ".elf"}) {
    std::ofstream out(absl::StrCat(seen, "/", leftover), std::ios::binary);
    out << cat_bytes.substr(0, 4096);
    ASSERT_TRUE(out.good()) << leftover;
  }
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  ASSERT_TRUE(server_->WaitExit(absl::Seconds(10)).ok());
  server = ZerocelldProcess::Start(flags, options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  stub_ = NewStub();
  EXPECT_THAT(listed(), ::testing::UnorderedElementsAre(hello, spin));
  EXPECT_THAT(server_->LogsWith("image_preload_skipped"), HasSubstr("not the id its name claims"));
  ASSERT_TRUE(Execute(Request(hello, {"hello"}), &resp).ok());
  // The temp file was removed; the torn file is left for the operator, never served.
  std::vector<std::string> after;
  for (const auto& entry : std::filesystem::directory_iterator(seen)) {
    after.push_back(entry.path().filename());
  }
  EXPECT_THAT(after, ::testing::UnorderedElementsAre(hello.substr(7) + ".elf",
                                                     spin.substr(7) + ".elf", cat_hex + ".elf"));
  server_.reset();
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
  // Finish, then wait for it: a call abandoned without Finish leaves its received message and
  // call object to gRPC, which never frees them (LeakSanitizer, scripts/sanitize.sh asan).
  stalled.TryCancel();
  v1::ExecuteResponse ignored;
  grpc::Status cancelled;
  reader->Finish(&ignored, &cancelled, &stalled);
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok) && tag != &stalled) {
  }
  reader.reset();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace zerocell::server

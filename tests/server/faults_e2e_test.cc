// zerocelld under faults (issue 14): SIGTERM under load loses no accepted call, SIGKILL under
// load leaves no sandbox and a restart preloads, a full --image_dir keeps no part of an image.
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
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/hardening_test.h"
#include "tests/testing/files.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

extern char** environ;

namespace zerocell::server {
namespace {

using testing::Guest;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kSmallCaps;
using testing::StdManifest;
using testing::With;
using testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

// The hardening fixture; the suite is named for what it does.
using FaultTest = testing::HardeningTest;

// SIGTERM under load: every call the service accepted runs to its answer; calls after the signal
// are refused UNAVAILABLE by the draining service at the door (clients retry those). A call on
// the wire at the instant gRPC itself shuts down (after the last answer) can still be cancelled by
// gRPC core: counted and reported, not failed (docs/service-notes.md, "The drain ends early").
// Which calls the service accepted is the server's log's to tell, not the client's clock (under
// ASan a call sent just before the signal reached gRPC only at its close): every call the
// service saw and did not answer OK is logged with its x-request-id and code, a refusal at the
// door with 14 (no run is killed within this grace period).
TEST_F(FaultTest, SigtermUnderLoadLosesNoAcceptedCall) {
  StartServer({"--max_concurrency=2", "--grace_period_ms=20000"});
  if (HasFatalFailure()) return;
  const std::string spin_cpu = Register(Guest("spin_cpu"));
  const v1::ExecuteRequest req = Request(spin_cpu, {"spin_cpu", "40"});
  std::atomic<bool> stop{false}, signalled{false};
  std::atomic<int> ok{0};
  struct Failed {
    std::string request_id;
    bool before_signal;
    grpc::Status status;
  };
  absl::Mutex mu;
  std::vector<Failed> failed;
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      std::unique_ptr<v1::Sandbox::Stub> stub = NewStub();
      for (int n = 0; !stop.load(); ++n) {
        const bool before_signal = !signalled.load();
        const std::string request_id = absl::StrCat("sigterm-", t, "-", n);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        ctx.AddMetadata("x-request-id", request_id);
        v1::ExecuteResponse resp;
        grpc::Status s = stub->Execute(&ctx, req, &resp);
        if (s.ok()) {
          ++ok;
          continue;
        }
        {
          absl::MutexLock lock(&mu);
          failed.push_back({request_id, before_signal, s});
        }
        absl::SleepFor(absl::Milliseconds(2));
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
  const std::vector<std::string> log_lines = absl::StrSplit(server_->Logs(), '\n');
  int refused_at_door = 0, never_reached = 0, cut_at_close = 0;
  std::vector<std::string> lost;
  for (const Failed& f : failed) {
    const std::string key = absl::StrCat("\"request_id\":\"", f.request_id, "\"");
    std::string line;
    for (const std::string& l : log_lines) {
      if (absl::StrContains(l, key)) line = l;
    }
    const grpc::StatusCode code = f.status.error_code();
    if (line.empty() && code == grpc::StatusCode::CANCELLED) {
      ++cut_at_close;  // gRPC core cut it before the service saw it
    } else if (line.empty() && code == grpc::StatusCode::UNAVAILABLE) {
      ++never_reached;  // the server no longer listened
    } else if (absl::StrContains(line, "\"request_failed\"") &&
               absl::StrContains(line, "\"code\":14,")) {
      ++refused_at_door;
    } else {
      lost.push_back(absl::StrCat(
          f.before_signal ? "sent before SIGTERM: " : "after: ", f.request_id, ": ", code, ": ",
          f.status.error_message(), "; server log: ", line.empty() ? "none" : line));
    }
  }
  EXPECT_THAT(lost, IsEmpty());
  EXPECT_GT(refused_at_door + never_reached, 0);  // the load went on into the drain
  RecordProperty("cancelled_at_close", cut_at_close);
  // A bound on timing: under ASan or TSan every step is several times slower and the closing
  // instant wider (7 cuts seen), so it is checked in uninstrumented builds only.
  if (!zerocell::testing::kShadowMemorySanitizer) {
    EXPECT_LE(cut_at_close, 2) << "more calls cut off than the closing instant explains";
  }
}

// SIGKILL under load: no sandbox survives its server (parent-death signal), and a restart
// preloads the persisted images.
TEST_F(FaultTest, SigkillUnderLoadLeavesNoSandboxAndRestartPreloads) {
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
TEST_F(FaultTest, FullImageDirRefusesTheImageAndKeepsNoPartOfIt) {
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

}  // namespace
}  // namespace zerocell::server

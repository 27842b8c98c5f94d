// End-to-end: the warm pool inside a real zerocelld. After an image's first (cold) Execute the
// server parks sandboxes for it, later calls start warm and answer exactly as the cold one did;
// --pool=false parks nothing; SIGTERM leaves no parked sandbox alive; --pool_max_total holds.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
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

using testing::SampleKey;
using ::zerocell::testing::ProcessGone;
using ::zerocell::testing::WaitFor;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

using Samples = std::map<std::string, double>;

constexpr char kParked[] = "zerocell_pool_parked";
constexpr char kStarts[] = "zerocell_pool_starts_total";
constexpr char kPrestarts[] = "zerocell_pool_prestart_seconds_count";
constexpr char kPrestartErrors[] = "zerocell_pool_prestart_errors_total";

double At(const Samples& s, const std::string& name,
          std::vector<std::pair<std::string, std::string>> labels = {}) {
  auto it = s.find(SampleKey(name, std::move(labels)));
  return it == s.end() ? -1 : it->second;
}

double Starts(const Samples& s, const char* kind) { return At(s, kStarts, {{"kind", kind}}); }

// The response without what differs between two identical runs (timings, resident peak).
// The response without what may differ between two runs of the same request: timings, and, where
// the host randomizes the kernel's placement of memory (and the response says so), the heap/mmap/
// brk addresses the determinism guest prints.
v1::ExecuteResponse Deterministic(v1::ExecuteResponse r) {
  const int64_t notified = r.usage().notified_syscalls();
  r.clear_usage();
  r.mutable_usage()->set_notified_syscalls(notified);
  bool placed_varies = false;
  for (const std::string& item : r.nondeterminism()) {
    placed_varies |= absl::StartsWith(item, "addresses:");
  }
  if (!placed_varies) return r;
  for (v1::ChannelResult& channel : *r.mutable_channels()) {
    std::string masked;
    for (absl::string_view line : absl::StrSplit(channel.output(), '\n', absl::SkipEmpty())) {
      for (absl::string_view key : {"heap=", "heap_big=", "mmap=", "brk="}) {
        if (absl::StartsWith(line, key)) line = key;
      }
      absl::StrAppend(&masked, line, "\n");
    }
    channel.set_output(masked);
  }
  return r;
}

// One request per guest, each reading or writing data whose bytes and etags must match.
std::vector<std::pair<std::string, v1::Manifest>> Requests() {
  std::vector<std::pair<std::string, v1::Manifest>> out;
  out.emplace_back("hello", testing::StdManifest({"hello"}));

  v1::Manifest cat = testing::StdManifest({"cat", "1000"});
  std::string data;
  for (int i = 0; i < 50000; ++i) data.push_back(static_cast<char>('a' + (i * 7) % 26));
  cat.mutable_channels(0)->set_initial_data(data);
  cat.mutable_channels(0)->set_etag(true);
  cat.mutable_channels(1)->set_etag(true);
  out.emplace_back("cat", cat);

  v1::Manifest determinism = testing::StdManifest({"determinism"});
  determinism.set_random_seed(42);
  determinism.set_clock_start_unix_ns(int64_t{1700000000} * 1000000000);
  out.emplace_back("determinism", determinism);

  v1::Manifest channels = testing::StdManifest({"channels", "/dev/in", "/dev/out"});
  v1::Channel* in = testing::AddChannel(&channels, "/dev/in", true, false);
  in->set_initial_data("some input");
  in->set_etag(true);
  testing::AddChannel(&channels, "/dev/out", false, true)->set_etag(true);
  channels.mutable_channels(1)->set_etag(true);
  out.emplace_back("channels", channels);

  v1::Manifest quota = testing::StdManifest({"quota_probe", "write", "1", "8", "5"});
  quota.mutable_channels(1)->set_puts(2);
  quota.mutable_channels(1)->set_etag(true);
  out.emplace_back("quota_probe", quota);
  return out;
}

class WarmPoolE2eTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> flags) {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start(std::move(flags));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_GT(server_->metrics_port(), 0);
    stub_ = v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  std::string Register(const std::string& guest) {
    v1::RegisterImageRequest req;
    req.set_elf(zerocell::testing::GuestBytes(guest));
    v1::RegisterImageResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->RegisterImage(&ctx, req, &resp);
    EXPECT_THAT(s, IsOk()) << guest;
    return resp.image().image_id();
  }

  v1::ExecuteResponse Execute(const std::string& image_id, const v1::Manifest& manifest) {
    v1::ExecuteRequest req;
    req.set_image_id(image_id);
    *req.mutable_manifest() = manifest;
    v1::ExecuteResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub_->Execute(&ctx, req, &resp);
    EXPECT_THAT(s, IsOk());
    return resp;
  }

  Samples Scrape() {
    absl::StatusOr<std::string> body = testing::HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_THAT(body, IsOk());
    return testing::PrometheusSamples(body.value_or(""));
  }

  // Waits until the pool is at rest with at least `min_parked` parked: the parked gauge and the
  // prestart count unchanged over a few maintenance ticks.
  Samples SettledWithParked(double min_parked) {
    Samples s = Scrape();
    const bool settled = WaitFor(
        [&] {
          const Samples before = Scrape();
          absl::SleepFor(absl::Milliseconds(200));
          s = Scrape();
          return At(s, kParked) >= min_parked && At(s, kParked) == At(before, kParked) &&
                 At(s, kPrestarts) == At(before, kPrestarts);
        },
        absl::Seconds(10));
    EXPECT_TRUE(settled) << "parked " << At(s, kParked) << ", prestarts " << At(s, kPrestarts);
    return s;
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
};

TEST_F(WarmPoolE2eTest, LaterExecutesStartWarmAndAnswerExactlyAsTheColdOne) {
  StartServer({});  // the pool is on by default
  const Samples start = Scrape();
  EXPECT_EQ(At(start, kParked), 0);
  EXPECT_EQ(Starts(start, "warm"), 0);
  EXPECT_EQ(Starts(start, "cold"), 0);

  const auto requests = Requests();
  std::vector<std::string> ids;
  std::vector<v1::ExecuteResponse> cold;
  for (const auto& [guest, manifest] : requests) {
    ids.push_back(Register(guest));
    cold.push_back(Execute(ids.back(), manifest));
    EXPECT_EQ(cold.back().outcome(), v1::OUTCOME_EXITED) << guest << ": " << cold.back().detail();
    if (ids.size() == 1) {
      // The first image in use gets a parked sandbox soon after its first call.
      EXPECT_TRUE(WaitFor([&] { return At(Scrape(), kParked) >= 1; }, absl::Seconds(5)));
    }
  }
  Samples s = Scrape();
  EXPECT_EQ(Starts(s, "cold"), static_cast<double>(requests.size()));
  EXPECT_EQ(Starts(s, "warm"), 0);

  s = SettledWithParked(static_cast<double>(requests.size()));
  EXPECT_EQ(At(s, kPrestartErrors), 0);
  EXPECT_GE(zerocell::testing::SandboxPids(server_->pid()).size(), requests.size());

  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < requests.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(requests[i].first, " round ", round));
      const v1::ExecuteResponse warm = Execute(ids[i], requests[i].second);
      std::string diff;
      google::protobuf::util::MessageDifferencer differencer;
      differencer.ReportDifferencesToString(&diff);
      EXPECT_TRUE(differencer.Compare(Deterministic(cold[i]), Deterministic(warm))) << diff;
    }
    if (round == 0) {
      s = Scrape();
      EXPECT_EQ(Starts(s, "warm"), static_cast<double>(requests.size()))
          << "every image had a parked sandbox";
      EXPECT_EQ(Starts(s, "cold"), static_cast<double>(requests.size()));
      SettledWithParked(static_cast<double>(requests.size()));  // refilled
    }
  }
  // The outputs compared above are the real ones.
  EXPECT_EQ(cold[0].channels(1).output(), "hello, world\n");
  EXPECT_EQ(cold[1].channels(1).output(), requests[1].second.channels(0).initial_data());
  EXPECT_EQ(cold[1].channels(1).etag().size(), 64u);
  EXPECT_EQ(cold[3].channels(3).etag().size(), 64u);
  EXPECT_TRUE(cold[4].channels(1).put_quota_exceeded());
  EXPECT_EQ(Starts(Scrape(), "warm"), 2.0 * static_cast<double>(requests.size()));
}

TEST_F(WarmPoolE2eTest, PoolOffMeansColdStartsAndNoParkedProcess) {
  StartServer({"--pool=false"});
  const std::string id = Register("hello");
  for (int i = 0; i < 3; ++i) {
    v1::ExecuteResponse r = Execute(id, testing::StdManifest({"hello"}));
    EXPECT_EQ(r.outcome(), v1::OUTCOME_EXITED);
    EXPECT_EQ(r.channels(1).output(), "hello, world\n");
  }
  // Idle: no process under the server, now or over the next maintenance periods.
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(zerocell::testing::SandboxPids(server_->pid()).size(), 0u) << "sample " << i;
    absl::SleepFor(absl::Milliseconds(20));
  }
  const Samples s = Scrape();
  EXPECT_EQ(Starts(s, "warm"), 0);
  EXPECT_EQ(Starts(s, "cold"), 3);  // every start still counted, all cold
  EXPECT_LE(At(s, kParked), 0);
  EXPECT_LE(At(s, kPrestarts), 0);
}

TEST_F(WarmPoolE2eTest, SigtermWithParkedSandboxesLeavesNoneAlive) {
  StartServer({});
  const std::string hello = Register("hello");
  const std::string cat = Register("cat");
  Execute(hello, testing::StdManifest({"hello"}));
  Execute(cat, testing::StdManifest({"cat"}));
  SettledWithParked(2);
  const std::vector<pid_t> parked = zerocell::testing::SandboxPids(server_->pid());
  ASSERT_GE(parked.size(), 2u);

  ASSERT_THAT(server_->Signal(SIGTERM), IsOk());
  absl::StatusOr<int> exit = server_->WaitExit(absl::Seconds(15));
  ASSERT_THAT(exit, IsOk());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit << "\n" << server_->Logs();
  for (pid_t pid : parked) {
    // The server killed and reaped them itself: none is left, not even for init to reap.
    EXPECT_TRUE(ProcessGone(pid)) << "parked sandbox " << pid << " outlived the server";
    EXPECT_TRUE(WaitFor([&] { return ProcessGone(pid); }, absl::Seconds(2))) << pid << " survives";
  }
}

TEST_F(WarmPoolE2eTest, GlobalCapHoldsWithMoreImagesThanSlots) {
  StartServer({"--pool_max_total=2"});
  const std::vector<std::pair<std::string, v1::Manifest>> guests = {
      {"hello", testing::StdManifest({"hello"})},
      {"exit_code", testing::StdManifest({"exit_code", "3"})},
      {"cat", testing::StdManifest({"cat"})}};
  std::vector<std::string> ids;
  for (const auto& g : guests) ids.push_back(Register(g.first));
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < guests.size(); ++i) {
      v1::ExecuteResponse r = Execute(ids[i], guests[i].second);
      EXPECT_EQ(r.outcome(), v1::OUTCOME_EXITED) << guests[i].first;
      // Idle between calls: no more than two processes under the server once the run's own
      // sandbox is reaped (the response may leave before it is: a slow host, ASan).
      EXPECT_TRUE(zerocell::testing::WaitFor([&] {
        return zerocell::testing::SandboxPids(server_->pid()).size() <= 2;
      })) << guests[i].first
          << ": " << zerocell::testing::SandboxPids(server_->pid()).size()
          << " processes under the server";
    }
  }
  // Idle: watch it over many maintenance ticks while the pool settles.
  size_t most = 0;
  double most_parked = 0;
  for (int i = 0; i < 60; ++i) {
    most = std::max(most, zerocell::testing::SandboxPids(server_->pid()).size());
    if (i % 10 == 0) most_parked = std::max(most_parked, At(Scrape(), kParked));
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_LE(most, 2u);
  EXPECT_LE(most_parked, 2);
  const Samples s = SettledWithParked(2);
  EXPECT_EQ(At(s, kParked), 2);
  // (Taking a slot from a colder image is covered in warm_pool_test; images taking turns
  // within one demand window do not take slots from each other, which would only churn.)
  EXPECT_EQ(zerocell::testing::SandboxPids(server_->pid()).size(), 2u);
}

}  // namespace
}  // namespace zerocell::server

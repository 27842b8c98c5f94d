// zerocelld end to end, a call's life: the caller's deadline and cancellation kill the sandbox,
// backpressure, mixed load leaving nothing behind, SIGTERM draining and its grace period.
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
  const bool started = zerocell::testing::WaitFor(
      [&] { return !zerocell::testing::SandboxPids(server_->pid()).empty(); }, absl::Seconds(10));
  if (!started) {  // end the call so that the thread joins
    ctx.TryCancel();
    call.join();
  }
  ASSERT_TRUE(started) << "the sandbox never started";
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
  // No warm pool: its parked sandboxes are children too, and the first child must be the call's
  // (with them, a slower build signalled before the call arrived, which was then refused).
  StartServer({"--max_concurrency=2", "--grace_period_ms=10000", "--pool=false"});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("spin_cpu")));
  *req.mutable_manifest() = StdManifest({"spin_cpu", "300"}, 20000);
  v1::ExecuteResponse resp;
  grpc::Status status;
  std::thread call([&] { status = Execute(req, &resp); });
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (zerocell::testing::SandboxPids(server_->pid()).empty() && absl::Now() < until) {
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

// Only the main thread, in sigwait, takes SIGTERM and SIGINT: had any other thread let them
// through, the kernel could deliver one there, and its default action would end the server
// without a drain (seen: a replica killed by SIGTERM about once in eight runs).
TEST_F(ServiceTest, StopSignalsReachOnlyTheDrainingThread) {
  StartServer({"--max_concurrency=2"});
  v1::ExecuteRequest req;
  req.set_image_id(Register(Guest("hello")));
  *req.mutable_manifest() = StdManifest({"hello"});
  v1::ExecuteResponse resp;
  ASSERT_THAT(Execute(req, &resp), IsOk());  // every pool, log and gRPC thread has started
  EXPECT_THAT(zerocell::testing::ThreadsNotBlocking(server_->pid(), SIGTERM), IsEmpty());
  EXPECT_THAT(zerocell::testing::ThreadsNotBlocking(server_->pid(), SIGINT), IsEmpty());
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
  while (zerocell::testing::SandboxPids(server_->pid()).size() < 2 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Two running, and any the warm pool has parked: none may outlive the server.
  std::vector<pid_t> sandboxes = zerocell::testing::SandboxPids(server_->pid());
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
  // Dead: gone, or a zombie the server had killed but not reaped when it exited (init reaps
  // those, a little later). Never running.
  for (pid_t pid : sandboxes) {
    char state = '?';
    EXPECT_TRUE(zerocell::testing::WaitFor([&] {
      state = zerocell::testing::ProcessState(pid);
      return state == '\0' || state == 'Z';
    })) << "sandbox "
        << pid << " survived the server, state " << state;
  }
}

}  // namespace
}  // namespace zerocell::server

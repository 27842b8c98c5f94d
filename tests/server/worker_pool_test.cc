// WorkerPool: FIFO runs, queue bound, queue wait deadline, withdrawal, shutdown.
#include "server/worker_pool.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

// Records what happened to it; Run blocks until `release` is notified (when given).
class TestJob : public Job {
 public:
  explicit TestJob(absl::Notification* release = nullptr) : release_(release) {}
  void Run(absl::Duration queue_wait) override {
    waited = queue_wait;
    started.Notify();
    if (release_ != nullptr) release_->WaitForNotification();
    ran = true;
    done.Notify();
  }
  void Reject(absl::Status status) override {
    rejection = status;
    done.Notify();
  }
  absl::Notification started, done;
  std::atomic<bool> ran{false};
  absl::Status rejection;
  absl::Duration waited;

 private:
  absl::Notification* release_;
};

TEST(WorkerPoolTest, RunsJobsAndReportsQueueWait) {
  WorkerPool pool(PoolOptions{2, 4, absl::Seconds(10), nullptr});
  std::vector<std::shared_ptr<TestJob>> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(std::make_shared<TestJob>());
    ASSERT_THAT(pool.Submit(jobs.back()), IsOk());
  }
  for (auto& job : jobs) {
    ASSERT_TRUE(job->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_TRUE(job->ran);
    EXPECT_GE(job->waited, absl::ZeroDuration());
  }
}

TEST(WorkerPoolTest, RunsInSubmissionOrder) {
  absl::Notification release;
  WorkerPool pool(PoolOptions{1, 16, absl::Seconds(10), nullptr});
  auto blocker = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(blocker), IsOk());
  ASSERT_TRUE(blocker->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Mutex mu;
  std::vector<int> order;
  class OrderJob : public Job {
   public:
    OrderJob(int n, absl::Mutex* mu, std::vector<int>* order) : n_(n), mu_(mu), order_(order) {}
    void Run(absl::Duration) override {
      absl::MutexLock lock(mu_);
      order_->push_back(n_);
    }
    void Reject(absl::Status) override {}

   private:
    int n_;
    absl::Mutex* mu_;
    std::vector<int>* order_;
  };
  for (int i = 0; i < 8; ++i)
    ASSERT_THAT(pool.Submit(std::make_shared<OrderJob>(i, &mu, &order)), IsOk());
  release.Notify();
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                      +[](std::vector<int>* o) { return o->size() == 8; }, &order),
                                  absl::Seconds(10)));
  EXPECT_THAT(order, ::testing::ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
}

// A job is refused for its queue wait only while every worker is busy: a zero wait with an idle
// worker still runs every job.
TEST(WorkerPoolTest, IdleWorkersMeanNoQueueWaitRefusal) {
  WorkerPool pool(PoolOptions{4, 8, absl::ZeroDuration(), nullptr});
  for (int i = 0; i < 200; ++i) {
    auto job = std::make_shared<TestJob>();
    ASSERT_THAT(pool.Submit(job), IsOk());
    ASSERT_TRUE(job->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    ASSERT_TRUE(job->ran) << "job " << i << ": " << job->rejection;
  }
}

TEST(WorkerPoolTest, FullQueueRefusesAtOnce) {
  absl::Notification release;
  std::atomic<int64_t> max_running{0};
  WorkerPool pool(PoolOptions{1, 1, absl::Seconds(10), [&](int64_t, int64_t running) {
                                int64_t seen = max_running.load();
                                while (running > seen &&
                                       !max_running.compare_exchange_weak(seen, running)) {
                                }
                              }});
  auto running = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(running), IsOk());
  ASSERT_TRUE(running->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto queued = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(queued), IsOk());
  absl::Status refused = pool.Submit(std::make_shared<TestJob>());
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.queued(), 1);
  EXPECT_EQ(pool.running(), 1);
  release.Notify();
  ASSERT_TRUE(queued->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(queued->ran);
  EXPECT_EQ(max_running.load(), 1);
}

TEST(WorkerPoolTest, QueueWaitDeadlineRejects) {
  absl::Notification release;
  WorkerPool pool(PoolOptions{1, 8, absl::Milliseconds(50), nullptr});
  auto running = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(running), IsOk());
  ASSERT_TRUE(running->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto waiting = std::make_shared<TestJob>();
  ASSERT_THAT(pool.Submit(waiting), IsOk());
  ASSERT_TRUE(waiting->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(waiting->ran);
  EXPECT_EQ(waiting->rejection.code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
}

TEST(WorkerPoolTest, WithdrawnJobNeverRunsNorIsRejected) {
  absl::Notification release;
  WorkerPool pool(PoolOptions{1, 8, absl::Seconds(10), nullptr});
  auto running = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(running), IsOk());
  ASSERT_TRUE(running->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto withdrawn = std::make_shared<TestJob>();
  ASSERT_THAT(pool.Submit(withdrawn), IsOk());
  EXPECT_TRUE(pool.Withdraw(withdrawn.get()));
  EXPECT_FALSE(pool.Withdraw(running.get()));  // already started
  release.Notify();
  pool.Shutdown();
  EXPECT_FALSE(withdrawn->done.HasBeenNotified());
}

TEST(WorkerPoolTest, ShutdownRejectsQueuedAndFinishesRunning) {
  absl::Notification release;
  WorkerPool pool(PoolOptions{1, 8, absl::Seconds(10), nullptr});
  auto running = std::make_shared<TestJob>(&release);
  ASSERT_THAT(pool.Submit(running), IsOk());
  ASSERT_TRUE(running->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  auto queued = std::make_shared<TestJob>();
  ASSERT_THAT(pool.Submit(queued), IsOk());
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(50));
    release.Notify();
  });
  pool.Shutdown();
  releaser.join();
  EXPECT_TRUE(running->ran);
  EXPECT_EQ(queued->rejection.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool.Submit(std::make_shared<TestJob>()).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace zerocell::server

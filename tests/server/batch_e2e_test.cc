// zerocelld end to end, issue 15: a minimal Execute (default standard channels) and ExecuteBatch
// (mixed outcomes, whole-batch refusals, scheduling beside single calls, cancellation).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/sandbox_server_test.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::StdManifest;
namespace v1 = ::zerocell::v1;

class BatchTest : public testing::SandboxServerTest {
 protected:
  // The whole batch: its results by index (each index at most once) and the final status.
  grpc::Status RunBatch(const v1::ExecuteBatchRequest& req,
                        std::map<int, v1::ExecuteBatchResult>* results,
                        grpc::ClientContext* ctx = nullptr) {
    grpc::ClientContext own;
    if (ctx == nullptr) ctx = &own;
    std::unique_ptr<grpc::ClientReader<v1::ExecuteBatchResult>> reader =
        stub_->ExecuteBatch(ctx, req);
    v1::ExecuteBatchResult r;
    while (reader->Read(&r)) {
      EXPECT_EQ(results->count(r.index()), 0u) << "index " << r.index() << " sent twice";
      (*results)[r.index()] = r;
    }
    return reader->Finish();
  }
};

// Issue 15 point 5: {image_id, manifest{argv}} just works; the defaulted standard channels are
// reported after the declared ones (here: all three, in stdin, stdout, stderr order).
TEST_F(BatchTest, MinimalExecuteGetsDefaultStandardChannels) {
  StartServer({});
  v1::ExecuteRequest req;
  req.set_image_id(Register("hello"));
  req.mutable_manifest()->add_argv("hello");
  grpc::ClientContext ctx;
  v1::ExecuteResponse resp;
  grpc::Status s = stub_->Execute(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  ASSERT_EQ(resp.channels_size(), 3);
  EXPECT_EQ(resp.channels(0).alias(), "/dev/stdin");
  EXPECT_EQ(resp.channels(1).alias(), "/dev/stdout");
  EXPECT_EQ(resp.channels(1).output(), "hello, world\n");
  EXPECT_EQ(resp.channels(2).alias(), "/dev/stderr");
}

// Every kind of ending in one batch: exits, a timeout, a stdin-fed run, a bad manifest and one
// over a server cap (per-run errors naming the field); each index answered once, the call OK.
TEST_F(BatchTest, MixedOutcomesEachIndexOnce) {
  StartServer({"--max_concurrency=4", "--max_timeout_ms=5000"});
  v1::ExecuteBatchRequest exit_req;
  exit_req.set_image_id(Register("exit_code"));
  for (int code : {0, 3, 7}) {
    v1::Manifest* m = exit_req.add_runs();
    m->add_argv("exit_code");
    m->add_argv(std::to_string(code));
  }
  exit_req.add_runs()->set_timeout_ms(-1);    // index 3: invalid manifest
  exit_req.add_runs()->set_timeout_ms(6000);  // index 4: above the server cap
  std::map<int, v1::ExecuteBatchResult> results;
  grpc::Status s = RunBatch(exit_req, &results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 5u);
  for (int i : {0, 1, 2}) {
    EXPECT_EQ(results[i].error_code(), 0);
    EXPECT_EQ(results[i].response().outcome(), v1::OUTCOME_EXITED);
    EXPECT_EQ(results[i].response().exit_code(), (std::vector<int>{0, 3, 7}[i]));
  }
  EXPECT_EQ(results[3].error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(results[3].error_message(), HasSubstr("manifest.timeout_ms"));
  EXPECT_FALSE(results[3].has_response());
  EXPECT_EQ(results[4].error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(results[4].error_message(), HasSubstr("max_timeout_ms"));

  // An inline image; runs with their own stdin data, and one declaring only /dev/stdin (empty)
  // whose stdout and stderr are the defaults.
  v1::ExecuteBatchRequest cat_req;
  cat_req.set_image(::zerocell::testing::GuestBytes("cat"));
  *cat_req.add_runs() = StdManifest({"cat"}, 5000);
  cat_req.mutable_runs(0)->mutable_channels(0)->set_initial_data("batched input\n");
  v1::Manifest* empty = cat_req.add_runs();
  empty->add_argv("cat");
  v1::Channel* in = empty->add_channels();
  in->set_alias("/dev/stdin");
  in->set_gets(1);
  in->set_get_size(1);
  results.clear();
  s = RunBatch(cat_req, &results);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(results.size(), 2u);
  ASSERT_EQ(results[0].error_code(), 0) << results[0].error_message();
  ASSERT_EQ(results[0].response().channels_size(), 3);
  EXPECT_EQ(results[0].response().channels(1).output(), "batched input\n");
  EXPECT_EQ(results[1].response().outcome(), v1::OUTCOME_EXITED);  // empty stdin: EOF
  ASSERT_EQ(results[1].response().channels_size(), 3);
  EXPECT_EQ(results[1].response().channels(1).alias(), "/dev/stdout");
}

// What is wrong for every run refuses the whole batch before any result.
TEST_F(BatchTest, RefusedAsAWholeOnlyForWhatEveryRunShares) {
  StartServer({"--max_concurrency=4"});
  const std::string id = Register("hello");
  auto refused = [&](const v1::ExecuteBatchRequest& req, grpc::StatusCode code,
                     const std::string& field) {
    std::map<int, v1::ExecuteBatchResult> results;
    grpc::Status s = RunBatch(req, &results);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(field));
    EXPECT_THAT(results, IsEmpty());
  };
  v1::ExecuteBatchRequest req;
  req.add_runs();
  refused(req, grpc::StatusCode::INVALID_ARGUMENT, "program");
  req.set_image_id("sha256:" + std::string(64, '0'));
  refused(req, grpc::StatusCode::NOT_FOUND, "image_id");
  req.set_image("not an elf");
  refused(req, grpc::StatusCode::INVALID_ARGUMENT, "");
  req.set_image_id(id);
  req.clear_runs();
  refused(req, grpc::StatusCode::INVALID_ARGUMENT, "runs");
  req.add_runs();
  req.set_parallelism(3);  // the batch share of 4 workers is 2
  refused(req, grpc::StatusCode::INVALID_ARGUMENT, "parallelism: must be 0..2");
}

// Two workers, a batch of slow runs: the batch holds at most one worker (its share), so a
// single Execute sent while it runs is served before the batch ends, without waiting behind it.
TEST_F(BatchTest, BatchCannotStarveSingleCalls) {
  StartServer({"--max_concurrency=2"});
  v1::ExecuteBatchRequest batch;
  batch.set_image_id(Register("spin"));
  constexpr int kRuns = 8;
  for (int i = 0; i < kRuns; ++i) *batch.add_runs() = StdManifest({"spin"}, 250);
  const std::string hello = Register("hello");
  std::atomic<int> batch_results{0};
  grpc::Status batch_status;
  std::thread batch_thread([&] {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::ExecuteBatchResult>> reader =
        stub_->ExecuteBatch(&ctx, batch);
    v1::ExecuteBatchResult r;
    while (reader->Read(&r)) {
      EXPECT_EQ(r.response().outcome(), v1::OUTCOME_TIMEOUT);
      batch_results.fetch_add(1);
    }
    batch_status = reader->Finish();
  });
  while (batch_results.load() == 0) absl::SleepFor(absl::Milliseconds(5));
  int singles_done_during_batch = 0;
  for (int i = 0; i < 3; ++i) {
    v1::ExecuteRequest req;
    req.set_image_id(hello);
    req.mutable_manifest()->add_argv("hello");
    grpc::ClientContext ctx;
    v1::ExecuteResponse resp;
    ASSERT_TRUE(stub_->Execute(&ctx, req, &resp).ok());
    if (batch_results.load() < kRuns) ++singles_done_during_batch;
  }
  batch_thread.join();
  ASSERT_TRUE(batch_status.ok()) << batch_status.error_message();
  EXPECT_EQ(batch_results.load(), kRuns);
  EXPECT_EQ(singles_done_during_batch, 3) << "single calls waited for the batch";
}

// Cancelling mid-batch kills the running sandbox and withdraws the queued runs: the call ends
// CANCELLED, no sandbox process is left, and the results already sent stand.
TEST_F(BatchTest, CancellationMidBatchLeavesNoProcess) {
  StartServer({"--max_concurrency=2", "--pool_idle_ms=300"});
  v1::ExecuteBatchRequest batch;
  batch.set_image_id(Register("spin"));
  *batch.add_runs() = StdManifest({"spin"}, 100);
  for (int i = 0; i < 5; ++i) *batch.add_runs() = StdManifest({"spin"}, 30000);
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::ExecuteBatchResult>> reader =
      stub_->ExecuteBatch(&ctx, batch);
  v1::ExecuteBatchResult first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.index(), 0);
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (::zerocell::testing::SandboxPids(server_->pid()).empty() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ctx.TryCancel();
  v1::ExecuteBatchResult more;
  while (reader->Read(&more)) ADD_FAILURE() << "a result after the cancellation";
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoSandboxesEventually();
}

}  // namespace
}  // namespace zerocell::server

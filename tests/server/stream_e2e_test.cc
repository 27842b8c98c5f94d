// zerocelld end to end, issue 15: ExecuteStream (order of data, EOF, quota, output limit and
// timeout; backpressure both ways; refusal of random-access channels; cancellation).
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
namespace v1 = ::zerocell::v1;
using Stream = grpc::ClientReaderWriter<v1::StreamRequest, v1::StreamResponse>;

// Resident memory of a process (VmRSS) in bytes, or -1.
int64_t RssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6, line.size() - 6 - 3)), &kib)) {
        return kib * 1024;
      }
    }
  }
  return -1;
}

// Everything a stream sent back: outputs in arrival order (alias, bytes), the result.
struct Received {
  std::vector<std::pair<std::string, std::string>> outputs;
  std::string Joined(const std::string& alias) const {
    std::string out;
    for (const auto& [a, bytes] : outputs) {
      if (a == alias) out += bytes;
    }
    return out;
  }
  bool has_result = false;
  v1::ExecuteResponse result;
  grpc::Status status;
};

class StreamTest : public testing::SandboxServerTest {
 protected:
  static v1::StreamRequest Start(const std::string& image_id, v1::Manifest manifest) {
    v1::StreamRequest req;
    req.mutable_start()->set_image_id(image_id);
    *req.mutable_start()->mutable_manifest() = std::move(manifest);
    return req;
  }
  static v1::StreamRequest Input(const std::string& data, bool end, const std::string& alias = "") {
    v1::StreamRequest req;
    req.mutable_input()->set_alias(alias);
    req.mutable_input()->set_data(data);
    req.mutable_input()->set_end(end);
    return req;
  }

  // Reads the stream to its end; every output must come before the result.
  static Received ReadAll(Stream* stream) {
    Received r;
    v1::StreamResponse resp;
    while (stream->Read(&resp)) {
      EXPECT_FALSE(r.has_result) << "a message after the result";
      if (resp.has_output()) r.outputs.emplace_back(resp.output().alias(), resp.output().data());
      if (resp.has_result()) {
        r.has_result = true;
        r.result = resp.result();
      }
    }
    r.status = stream->Finish();
    return r;
  }
};

// Input chunks reach the guest in order and its output comes back as written; the guest reads
// end of data only after the end mark (it waits in read for the second chunk meanwhile); the
// result is Execute's, with the streamed output left out of it.
TEST_F(StreamTest, EchoesInputInOrderThenTheResult) {
  StartServer({});
  const std::string id = Register("cat");
  v1::Manifest m;
  m.add_argv("cat");
  m.set_timeout_ms(20000);
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
  ASSERT_TRUE(stream->Write(Start(id, m)));
  ASSERT_TRUE(stream->Write(Input("first line\n", false)));
  v1::StreamResponse echoed;
  ASSERT_TRUE(stream->Read(&echoed));  // the guest answered before any more input exists
  EXPECT_EQ(echoed.output().alias(), "/dev/stdout");
  EXPECT_EQ(echoed.output().data(), "first line\n");
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(stream->Write(Input("second line\n", true)));
  stream->WritesDone();
  Received r = ReadAll(stream.get());
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_TRUE(r.has_result);
  EXPECT_EQ(r.Joined("/dev/stdout"), "second line\n");
  EXPECT_EQ(r.result.outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(r.result.exit_code(), 0);
  ASSERT_EQ(r.result.channels_size(), 3);
  EXPECT_EQ(r.result.channels(0).read_bytes(), 23);
  EXPECT_EQ(r.result.channels(1).write_bytes(), 23);
  EXPECT_EQ(r.result.channels(1).output(), "");
  EXPECT_GE(r.result.usage().wall_ns(), 200'000'000) << "the guest waited for the second chunk";
}

// A quota ends the guest's reading after exactly get_size bytes, and its complaint on stderr
// follows the stdout bytes it wrote before; the output limit keeps exactly the limit's bytes
// and OUTPUT_LIMIT comes after them; a timeout comes after the bytes written before it.
TEST_F(StreamTest, QuotaOutputLimitAndTimeoutArriveInOrderWithTheData) {
  StartServer({});
  {
    v1::Manifest m;
    m.add_argv("cat");
    m.add_argv("5");  // 5-byte reads
    v1::Channel* in = m.add_channels();
    in->set_alias("/dev/stdin");
    in->set_gets(100);
    in->set_get_size(5);
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
    ASSERT_TRUE(stream->Write(Start(Register("cat"), m)));
    ASSERT_TRUE(stream->Write(Input("0123456789", true)));
    stream->WritesDone();
    Received r = ReadAll(stream.get());
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_GE(r.outputs.size(), 2u);
    EXPECT_EQ(r.outputs.front(), std::make_pair(std::string("/dev/stdout"), std::string("01234")));
    EXPECT_EQ(r.outputs.back().first, "/dev/stderr");
    EXPECT_THAT(r.outputs.back().second, HasSubstr("errno=122"));  // EDQUOT
    EXPECT_TRUE(r.result.channels(0).get_quota_exceeded());
  }
  {
    v1::Manifest m;
    m.add_argv("bigout");
    m.add_argv("100000");
    m.add_argv("4096");
    m.set_output_limit_bytes(10000);
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
    ASSERT_TRUE(stream->Write(Start(Register("bigout"), m)));
    stream->WritesDone();
    Received r = ReadAll(stream.get());
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.Joined("/dev/stdout").size(), 10000u);
    EXPECT_EQ(r.result.outcome(), v1::OUTCOME_OUTPUT_LIMIT);
  }
  {
    v1::Manifest m;
    m.add_argv("cat");
    m.set_timeout_ms(300);
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
    ASSERT_TRUE(stream->Write(Start(Register("cat"), m)));
    ASSERT_TRUE(stream->Write(Input("before the timeout", false)));  // no end mark: it waits
    Received r = ReadAll(stream.get());
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.Joined("/dev/stdout"), "before the timeout");
    EXPECT_EQ(r.result.outcome(), v1::OUTCOME_TIMEOUT);
  }
}

// A client that reads nothing: the guest's writes wait (no server memory grows with the data),
// and once the client reads, every byte arrives; the waiting counted in the guest's wall time.
TEST_F(StreamTest, ClientReadingNothingStopsTheGuestNotGrowsTheServer) {
  StartServer({});
  const std::string id = Register("bigout");
  v1::Manifest m;
  constexpr int64_t kTotal = int64_t{24} << 20;
  m.add_argv("bigout");
  m.add_argv(std::to_string(kTotal));
  m.set_output_limit_bytes(kTotal);
  m.set_timeout_ms(60000);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = v1::Sandbox::NewStub(
      grpc::CreateCustomChannel(server_->grpc_address(), grpc::InsecureChannelCredentials(), args));
  const int64_t before = RssBytes(server_->pid());
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub->ExecuteStream(&ctx);
  ASSERT_TRUE(stream->Write(Start(id, m)));
  stream->WritesDone();
  absl::SleepFor(absl::Milliseconds(1500));
  const int64_t during = RssBytes(server_->pid());
  if (!::zerocell::testing::kShadowMemorySanitizer) {
    EXPECT_LT(during - before, int64_t{8} << 20) << "the server buffered what nobody read";
  }
  Received r = ReadAll(stream.get());
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(static_cast<int64_t>(r.Joined("/dev/stdout").size()), kTotal);
  EXPECT_EQ(r.result.outcome(), v1::OUTCOME_EXITED);
  EXPECT_GE(r.result.usage().wall_ns(), 1'400'000'000) << "the guest did not wait in write";
}

// The server reads no further input than its window while the guest does not read: a client
// pushing 32 MiB at a guest that never reads is held back by flow control.
TEST_F(StreamTest, GuestNotReadingHoldsTheClientBack) {
  StartServer({});
  v1::Manifest m;
  m.add_argv("spin");
  m.set_timeout_ms(1500);
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
  ASSERT_TRUE(stream->Write(Start(Register("spin"), m)));
  const int64_t before = RssBytes(server_->pid());
  std::atomic<int64_t> sent{0};
  std::thread writer([&] {
    const std::string chunk(64 << 10, 'x');
    for (int i = 0; i < 512 && stream->Write(Input(chunk, false)); ++i) sent += chunk.size();
  });
  absl::SleepFor(absl::Milliseconds(1000));
  EXPECT_LT(sent.load(), int64_t{16} << 20) << "the server took input nobody read";
  if (!::zerocell::testing::kShadowMemorySanitizer) {
    EXPECT_LT(RssBytes(server_->pid()) - before, int64_t{16} << 20);
  }
  Received r = ReadAll(stream.get());  // the timeout ends the run; the writer's Write fails
  writer.join();
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.result.outcome(), v1::OUTCOME_TIMEOUT);
}

// A stream holds none of its output, so its output limit is bound by --max_stream_output_bytes,
// not by --max_output_bytes (which bounds what Execute holds); the limit itself behaves as in
// Execute (OUTPUT_LIMIT, the bytes up to it delivered).
TEST_F(StreamTest, OutputLimitHasItsOwnCapAboveMaxOutputBytes) {
  StartServer({"--max_output_bytes=1048576", "--max_stream_output_bytes=8388608"});
  const std::string id = Register("bigout");
  auto run = [&](int64_t limit, int64_t bytes) {
    v1::Manifest m;
    m.add_argv("bigout");
    m.add_argv(absl::StrCat(bytes));
    m.set_output_limit_bytes(limit);
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
    stream->Write(Start(id, m));
    stream->WritesDone();
    return ReadAll(stream.get());
  };
  Received within = run(6 << 20, 4 << 20);  // above --max_output_bytes, within the stream cap
  ASSERT_TRUE(within.status.ok()) << within.status.error_message();
  EXPECT_EQ(within.result.outcome(), v1::OUTCOME_EXITED) << within.result.detail();
  EXPECT_EQ(within.Joined("/dev/stdout").size(), size_t{4} << 20);

  Received limited = run(2 << 20, 4 << 20);
  ASSERT_TRUE(limited.status.ok()) << limited.status.error_message();
  EXPECT_EQ(limited.result.outcome(), v1::OUTCOME_OUTPUT_LIMIT);
  EXPECT_EQ(limited.Joined("/dev/stdout").size(), size_t{2} << 20);

  Received over = run(16 << 20, 1);
  EXPECT_EQ(over.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(over.status.error_message(),
              AllOf(HasSubstr("manifest.output_limit_bytes"), HasSubstr("8388608"),
                    HasSubstr("--max_stream_output_bytes")));
}

TEST_F(StreamTest, RandomAccessAndBidirectionalChannelsAreRefusedByName) {
  StartServer({});
  const std::string id = Register("cat");
  for (int type : {1, 2, 3}) {
    v1::Manifest m;
    v1::Channel* c = m.add_channels();
    c->set_alias("/dev/table");
    c->set_type(static_cast<v1::ChannelType>(type));
    c->set_gets(1);
    c->set_get_size(1);
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
    stream->Write(Start(id, m));
    Received r = ReadAll(stream.get());
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(r.status.error_message(), HasSubstr("/dev/table"));
    EXPECT_THAT(r.status.error_message(), HasSubstr("random access"));
  }
  v1::Manifest m;
  testing::AddChannel(&m, "/dev/both", true, true);
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
  stream->Write(Start(id, m));
  Received r = ReadAll(stream.get());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("/dev/both"));
}

// Cancelling mid-stream (the guest waiting for input) kills the sandbox at once.
TEST_F(StreamTest, CancellationMidStreamLeavesNoProcess) {
  StartServer({"--pool_idle_ms=300"});
  v1::Manifest m;
  m.add_argv("cat");
  m.set_timeout_ms(60000);
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->ExecuteStream(&ctx);
  ASSERT_TRUE(stream->Write(Start(Register("cat"), m)));
  ASSERT_TRUE(stream->Write(Input("ping", false)));
  v1::StreamResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.output().data(), "ping");
  ctx.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoSandboxesEventually();
}

}  // namespace
}  // namespace zerocell::server

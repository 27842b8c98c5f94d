// Channels reading real host sources through RunOptions::inputs: endless ones (/dev/zero, a pipe
// fed forever) stop at the quota or the timeout in bounded memory, slow ones count against the
// timeout and can be cancelled, files are read at offsets, streams at random within get_size.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/input_source.h"
#include "sandbox/sys/unique_fd.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using testing::FindChannel;
using testing::HasChildProcess;
using ::testing::HasSubstr;
using testing::LoadGuest;
using testing::Pattern;
using testing::Sha256Hex;
using testing::SharedEngine;
using testing::StdManifest;
using testing::StdoutOf;

constexpr int64_t kMiB = int64_t{1} << 20;

std::unique_ptr<InputSource> Open(const std::string& path) {
  sys::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  EXPECT_TRUE(fd.valid()) << path;
  absl::StatusOr<std::unique_ptr<InputSource>> s = FdInput(std::move(fd), path);
  EXPECT_THAT(s, IsOk());
  return s.ok() ? *std::move(s) : nullptr;
}

// A pipe whose read end is an input source; the test writes to `write_end`.
struct Pipe {
  std::unique_ptr<InputSource> source;
  sys::UniqueFd write_end;
};
Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  Pipe p;
  absl::StatusOr<std::unique_ptr<InputSource>> s = FdInput(sys::UniqueFd(fds[0]), "pipe");
  EXPECT_THAT(s, IsOk());
  p.source = *std::move(s);
  p.write_end.reset(fds[1]);
  return p;
}

// stdin with the given quotas (and no bytes of its own), then stdout and stderr.
ManifestBuilder StdinQuota(std::vector<std::string> argv, int64_t get_size,
                           absl::Duration timeout = absl::Seconds(5)) {
  ManifestBuilder b;
  ChannelSpec in = StdinChannel("");
  in.get_size = get_size;
  b.add_channel(in)
      .add_channel(StdoutChannel(kMiB))
      .add_channel(StderrChannel(kMiB))
      .set_argv(std::move(argv))
      .set_timeout(timeout);
  return b;
}

absl::StatusOr<Result> RunWith(std::string_view guest, const ManifestBuilder& builder,
                               std::vector<InputSource*> inputs,
                               const CancelToken* cancel = nullptr) {
  absl::StatusOr<const Engine*> engine = SharedEngine();
  if (!engine.ok()) return engine.status();
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(guest);
  if (!image.ok()) return image.status();
  absl::StatusOr<Manifest> m = builder.Build();
  if (!m.ok()) return m.status();
  return (*engine)->Run(**image, *m, RunOptions{cancel, nullptr, std::move(inputs)});
}

// This process's resident high-water mark, reset first by ResetPeak.
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }
int64_t PeakBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

TEST(InputStreamTest, EndlessZeroStopsAtTheQuota) {
  std::unique_ptr<InputSource> zero = Open("/dev/zero");
  ZC_ASSERT_RUN(r,
                RunWith("drain", StdinQuota({"drain"}, 0x1000000), {zero.get(), nullptr, nullptr}));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "read=16777216 end=122\n");  // then EDQUOT
  const ChannelResult* in = FindChannel(r, kStdinAlias);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->read_bytes, 0x1000000);
  EXPECT_TRUE(in->get_quota_exceeded);
}

TEST(InputStreamTest, EndlessZeroEndsAtTheTimeoutInBoundedMemory) {
  std::unique_ptr<InputSource> zero = Open("/dev/zero");
  ResetPeak();
  const int64_t before = PeakBytes();
  ZC_ASSERT_RUN(r, RunWith("drain", StdinQuota({"drain"}, int64_t{1} << 50, absl::Seconds(1)),
                           {zero.get(), nullptr, nullptr}));
  const int64_t after = PeakBytes();
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << Describe(r);
  const ChannelResult* in = FindChannel(r, kStdinAlias);
  ASSERT_NE(in, nullptr);
  // Far more went through than the memory this process used: nothing was kept.
  EXPECT_GT(in->read_bytes, 32 * kMiB);
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 16 * kMiB) << "read " << in->read_bytes << " bytes";
}

TEST(InputStreamTest, EndlessPipeStopsAtTheQuota) {
  signal(SIGPIPE, SIG_IGN);
  Pipe p = MakePipe();
  std::atomic<bool> stop = false;
  std::thread writer([fd = p.write_end.get(), &stop] {
    const std::string block(65536, 'y');
    while (!stop && write(fd, block.data(), block.size()) > 0) {
    }
  });
  ZC_ASSERT_RUN(
      r, RunWith("drain", StdinQuota({"drain"}, 8 * kMiB), {p.source.get(), nullptr, nullptr}));
  stop = true;
  p.source.reset();  // the read end closes: the writer gets EPIPE
  writer.join();
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), absl::StrCat("read=", 8 * kMiB, " end=122\n"));
}

TEST(InputStreamTest, ASlowSourceCountsAgainstTheTimeout) {
  Pipe p = MakePipe();
  ASSERT_EQ(write(p.write_end.get(), "abc", 3), 3);  // then nothing, and never an end
  const absl::Time start = absl::Now();
  ZC_ASSERT_RUN(r, RunWith("drain", StdinQuota({"drain"}, kMiB, absl::Milliseconds(800)),
                           {p.source.get(), nullptr, nullptr}));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << Describe(r);
  EXPECT_GE(r.usage.wall, absl::Milliseconds(800));
  EXPECT_LT(took, absl::Seconds(5));
  const ChannelResult* in = FindChannel(r, kStdinAlias);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->read_bytes, 3);
  EXPECT_FALSE(HasChildProcess());
}

TEST(InputStreamTest, DataArrivingLaterIsRead) {
  Pipe p = MakePipe();
  std::thread writer([fd = std::move(p.write_end)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    (void)!write(fd.get(), "late ", 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)!write(fd.get(), "data\n", 5);
    fd.reset();  // end of input
  });
  ZC_ASSERT_RUN(r, RunWith("cat", StdinQuota({"cat"}, kMiB), {p.source.get(), nullptr, nullptr}));
  writer.join();
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  // Two writes 100 ms apart, the end of input only after both: all of it in the output shows the
  // guest's reads waited for data still to come. (Not the run's wall time: how long after the
  // writer the run starts is not this test's to bound, and sanitizers delay it.)
  EXPECT_EQ(StdoutOf(r), "late data\n");
}

TEST(InputStreamTest, AWaitingReadCanBeCancelled) {
  Pipe p = MakePipe();
  CancelToken cancel;
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.Cancel();
  });
  const absl::Time start = absl::Now();
  absl::StatusOr<Result> r =
      RunWith("drain", StdinQuota({"drain"}, kMiB), {p.source.get(), nullptr, nullptr}, &cancel);
  canceller.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_FALSE(HasChildProcess());
}

TEST(InputStreamTest, FilesAreReadAtOffsetsAndInFull) {
  const std::string data = Pattern(3 * kMiB + 123);
  const std::string path = testing::WriteTempFile(data);
  std::unique_ptr<InputSource> seq = Open(path);
  std::unique_ptr<InputSource> rnd = Open(path);
  ManifestBuilder b =
      StdinQuota({"random_io", "pread,3,10,2000000", "fstat,3", "read,0,4"}, int64_t{1} << 40);
  ChannelSpec file;
  file.alias = "/dev/data";
  file.type = ChannelType::kRandReadSeqWrite;
  file.gets = 10;
  file.get_size = kMiB;
  file.etag = true;
  b.add_channel(file);
  ZC_ASSERT_RUN(r, RunWith("random_io", b, {seq.get(), nullptr, nullptr, rnd.get()}));
  unlink(path.c_str());
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_THAT(StdoutOf(r),
              HasSubstr(absl::StrCat("pread,3,10,2000000 = 10 [", data.substr(2000000, 10), "]")));
  EXPECT_THAT(StdoutOf(r), HasSubstr(absl::StrCat("fstat,3 = 0 size=", data.size())));
  EXPECT_THAT(StdoutOf(r), HasSubstr(absl::StrCat("read,0,4 = 4 [", data.substr(0, 4), "]")));
  EXPECT_EQ(FindChannel(r, "/dev/data")->etag, Sha256Hex(data.substr(2000000, 10)));

  // The whole file through cat, sequentially, piece by piece.
  const std::string path2 = testing::WriteTempFile(data);
  std::unique_ptr<InputSource> whole = Open(path2);
  ManifestBuilder cat;
  cat.add_channel(StdinChannel(""))
      .add_channel(StdoutChannel(8 * kMiB))
      .add_channel(StderrChannel(kMiB))
      .set_argv({"cat", "65536"})
      .set_output_limit_bytes(8 * kMiB)
      .set_timeout(absl::Seconds(10));
  ZC_ASSERT_RUN(w, RunWith("cat", cat, {whole.get(), nullptr, nullptr}));
  unlink(path2.c_str());
  ASSERT_EQ(w.outcome, Outcome::kExited) << Describe(w);
  EXPECT_EQ(StdoutOf(w), data);
}

TEST(InputStreamTest, RandomReadsOverAStreamSeeItsFirstGetSizeBytes) {
  Pipe p = MakePipe();
  ASSERT_EQ(write(p.write_end.get(), "0123456789", 10), 10);
  p.write_end.reset();
  ManifestBuilder b =
      StdinQuota({"random_io", "pread,3,3,2", "pread,3,4,7", "fstat,3"}, int64_t{1} << 40);
  ChannelSpec stream;
  stream.alias = "/dev/stream";
  stream.type = ChannelType::kRandReadRandWrite;
  stream.gets = 100;
  stream.get_size = 6;
  b.add_channel(stream);
  ZC_ASSERT_RUN(r, RunWith("random_io", b, {nullptr, nullptr, nullptr, p.source.get()}));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_THAT(StdoutOf(r), HasSubstr("pread,3,3,2 = 3 [234]"));
  EXPECT_THAT(StdoutOf(r), HasSubstr("pread,3,4,7 = 0"));  // past the first 6 bytes
  EXPECT_THAT(StdoutOf(r), HasSubstr("fstat,3 = 0 size=6"));
}

TEST(InputStreamTest, BadInputsAreRefusedBeforeAnythingRuns) {
  Pipe p = MakePipe();
  ManifestBuilder b = StdinQuota({"cat"}, kMiB);
  ChannelSpec rw;
  rw.alias = "/dev/rw";
  rw.type = ChannelType::kRandReadRandWrite;
  rw.gets = rw.get_size = rw.puts = rw.put_size = 100;
  b.add_channel(rw);
  absl::StatusOr<Result> r = RunWith("cat", b, {nullptr, nullptr, nullptr, p.source.get()});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("channels[3] (/dev/rw)"));
  r = RunWith("cat", StdinQuota({"cat"}, kMiB), {p.source.get()});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("inputs: 1 given for 3 channels"));
  r = RunWith("cat", StdinQuota({"cat"}, kMiB), {nullptr, p.source.get(), nullptr});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("not readable"));
  EXPECT_FALSE(HasChildProcess());
}

TEST(InputStreamTest, AReadableAndWritableChannelStartsWithItsFile) {
  const std::string path = testing::WriteTempFile("hello world");
  std::unique_ptr<InputSource> file = Open(path);
  ManifestBuilder b = StdinQuota({"random_io", "pwrite,3,HELLO,0", "pread,3,11,0"}, kMiB);
  ChannelSpec rw;
  rw.alias = "/dev/rw";
  rw.type = ChannelType::kRandReadRandWrite;
  rw.gets = rw.get_size = rw.puts = rw.put_size = 100;
  b.add_channel(rw);
  ZC_ASSERT_RUN(r, RunWith("random_io", b, {nullptr, nullptr, nullptr, file.get()}));
  unlink(path.c_str());
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_THAT(StdoutOf(r), HasSubstr("pread,3,11,0 = 11 [HELLO world]"));
  EXPECT_EQ(FindChannel(r, "/dev/rw")->output, "HELLO world");
}

}  // namespace
}  // namespace zerocell::sandbox

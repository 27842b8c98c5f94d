// GuestState unit tests: seeded random bytes, the random stream, the virtual clock, bookkeeping.
#include "sandbox/supervisor/guest_state.h"

#include <openssl/sha.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "base/sha256.h"
#include "gtest/gtest.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/supervisor/dispatcher.h"
#include "tests/testing/fake_kernel.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox::supervisor {
namespace {

Manifest MakeManifest(uint64_t seed, int64_t output_limit = int64_t{1} << 20) {
  ChannelSpec extra;
  extra.alias = "/dev/b";
  extra.puts = 10;
  extra.put_size = 10;
  ChannelSpec extra2;
  extra2.alias = "/dev/a";
  extra2.gets = 10;
  extra2.get_size = 10;
  extra2.initial_bytes = "data";
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdoutChannel(100))
                                   .add_channel(extra)
                                   .add_channel(StdinChannel("in"))
                                   .add_channel(StderrChannel(100))
                                   .add_channel(extra2)
                                   .set_random_seed(seed)
                                   .set_output_limit_bytes(output_limit)
                                   .set_clock_start(absl::FromUnixSeconds(1000))
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

std::string Random(GuestState& g, size_t len) {
  std::string out(len, '\0');
  g.RandomBytes(out.data(), len);
  return out;
}

// ---- SeededBytes ----

TEST(SeededBytesTest, SameInputsGiveSameBytes) {
  EXPECT_EQ(base::SeededBytes(42, "label", 0, 100), base::SeededBytes(42, "label", 0, 100));
  EXPECT_EQ(base::SeededBytes(42, "label", 0, 100).size(), 100u);
  EXPECT_EQ(base::SeededBytes(42, "label", 0, 0), "");
}

TEST(SeededBytesTest, ShorterOutputIsAPrefix) {
  const std::string full = base::SeededBytes(7, "x", 3, 1000);
  for (size_t len : {1, 16, 31, 32, 33, 64, 999}) {
    EXPECT_EQ(base::SeededBytes(7, "x", 3, len), full.substr(0, len)) << len;
  }
}

TEST(SeededBytesTest, SeedLabelAndStreamAllMatter) {
  const std::string base = base::SeededBytes(1, "label", 0, 64);
  EXPECT_NE(base::SeededBytes(2, "label", 0, 64), base);
  EXPECT_NE(base::SeededBytes(uint64_t{1} << 63 | 1, "label", 0, 64), base);
  EXPECT_NE(base::SeededBytes(1, "labem", 0, 64), base);
  EXPECT_NE(base::SeededBytes(1, "", 0, 64), base);
  EXPECT_NE(base::SeededBytes(1, "label", 1, 64), base);
}

TEST(SeededBytesTest, NoRepetitionWithinOrAcrossStreams) {
  // Every 32-byte block of streams 0..7 (4 KiB each) is distinct.
  std::set<std::string> blocks;
  size_t total = 0;
  for (uint64_t stream = 0; stream < 8; ++stream) {
    const std::string bytes = base::SeededBytes(5, "zerocell-getrandom", stream, 4096);
    for (size_t i = 0; i < bytes.size(); i += 32) {
      blocks.insert(bytes.substr(i, 32));
      ++total;
    }
  }
  EXPECT_EQ(blocks.size(), total);
}

TEST(SeededBytesTest, NotTriviallyStructured) {
  const std::string b = base::SeededBytes(0, "zerocell-at-random", 0, 4096);
  EXPECT_NE(b, std::string(4096, '\0'));
  int counts[256] = {};
  for (unsigned char c : b) ++counts[c];
  for (int v = 0; v < 256; ++v) EXPECT_LT(counts[v], 64) << v;  // expected ~16 each
}

TEST(SeededBytesTest, StableDerivation) {
  // Recorded runs must stay reproducible across builds: the first block is
  // SHA-256(label || seed || stream || counter), integers little-endian 64-bit.
  std::string block = "zerocell-at-random";
  const uint64_t words[] = {0x1122334455667788u, 0, 0};
  for (uint64_t w : words) block.append(reinterpret_cast<const char*>(&w), sizeof(w));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(block.data()), block.size(), digest);
  EXPECT_EQ(base::SeededBytes(0x1122334455667788u, "zerocell-at-random", 0, 16),
            std::string(reinterpret_cast<const char*>(digest), 16));
}

// ---- GuestState ----

TEST(GuestStateTest, RandomStreamIgnoresCallSizes) {
  const Manifest m = MakeManifest(99);
  GuestState a(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  GuestState b(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  std::string pieces = Random(a, 10);
  pieces += Random(a, 20);
  EXPECT_EQ(pieces, Random(b, 30));
  // Across the 4 KiB refill boundary, in odd steps and one large call.
  GuestState c(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  GuestState d(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  std::string steps;
  while (steps.size() < 10000) steps += Random(c, 1 + steps.size() % 997);
  std::string one = Random(d, steps.size());
  EXPECT_EQ(steps, one);
  EXPECT_EQ(one.substr(0, 30), pieces);
}

TEST(GuestStateTest, RandomStreamDependsOnSeedAndDoesNotRepeat) {
  const Manifest m1 = MakeManifest(1);
  const Manifest m2 = MakeManifest(2);
  GuestState a(m1, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  GuestState b(m2, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  const std::string ra = Random(a, 8192);
  EXPECT_NE(ra, Random(b, 8192));
  EXPECT_NE(ra.substr(0, 4096), ra.substr(4096));  // the second pool is a new stream
  EXPECT_NE(ra.substr(0, 16), base::SeededBytes(1, "zerocell-at-random", 0, 16));  // own domain
}

TEST(GuestStateTest, TickClockAdvancesOneMicrosecond) {
  const Manifest m = MakeManifest(0);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  EXPECT_EQ(g.clock_ns(), 0);
  EXPECT_EQ(g.TickClock(), 0);
  EXPECT_EQ(g.TickClock(), 1000);
  EXPECT_EQ(g.clock_ns(), 2000);
  g.AdvanceClock(5'000'000);
  EXPECT_EQ(g.TickClock(), 5'002'000);
  EXPECT_EQ(g.clock_ns(), 5'003'000);
  EXPECT_EQ(g.realtime_base_ns(), int64_t{1000} * 1'000'000'000);
}

// With a clock page the clock is the page's: the guest's vDSO ticks it between two handler
// calls, and each handler use writes it back. A page moved backwards (the guest writes its own
// memory) never moves the supervisor's answers back; an unmapped one leaves its own copy.
TEST(GuestStateTest, TheClockPageIsTheClock) {
  const Manifest m = MakeManifest(0);
  auto memory = std::make_unique<zerocell::testing::FakeGuestMemory>();
  zerocell::testing::FakeGuestMemory* fake = memory.get();
  constexpr uint64_t kPage = 0x7000;
  fake->Map(kPage, 16);
  GuestState g(m, std::move(memory), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  g.set_clock_page(kPage);
  EXPECT_EQ(g.TickClock(), 0);
  int64_t page = 0;
  ASSERT_EQ(fake->ReadValue(kPage, &page), 0);
  EXPECT_EQ(page, 1000);
  page = 50'000;  // the vDSO's ticks
  ASSERT_EQ(fake->WriteValue(kPage, page), 0);
  EXPECT_EQ(g.TickClock(), 50'000);
  page = 10;  // backwards
  ASSERT_EQ(fake->WriteValue(kPage, page), 0);
  EXPECT_EQ(g.TickClock(), 51'000);
  ASSERT_EQ(fake->ReadValue(kPage, &page), 0);
  EXPECT_EQ(page, 52'000);
  g.set_clock_page(0x9000);  // not mapped
  EXPECT_EQ(g.TickClock(), 52'000);
  EXPECT_EQ(g.clock_ns(), 53'000);
}

// Found by tests/fuzz/supervisor_fuzz.cc: a ppoll timeout of ~2^57 s overflowed int64
// nanoseconds (undefined behaviour; in practice a clock that jumped backwards).
TEST(GuestStateTest, ClockSaturatesInsteadOfWrapping) {
  const Manifest m = MakeManifest(0);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_TRUE(g.Open({}).ok());
  g.AdvanceClock(INT64_MAX - 10);
  g.AdvanceClock(INT64_MAX);
  EXPECT_EQ(g.clock_ns(), INT64_MAX);
  EXPECT_EQ(g.TickClock(), INT64_MAX);
  EXPECT_EQ(g.clock_ns(), INT64_MAX);
  g.AdvanceClock(-5);  // never backwards
  EXPECT_EQ(g.clock_ns(), INT64_MAX);
}

TEST(GuestStateTest, HugePpollTimeoutWaitsForeverAndClocksSaturate) {
  const Manifest m = MakeManifest(0);
  auto memory = std::make_unique<zerocell::testing::FakeGuestMemory>();
  constexpr uint64_t kTs = 0x1000;
  constexpr uint64_t kOut = 0x2000;
  const timespec forever = {INT64_MAX / 64, 0};  // seconds: far past int64 nanoseconds
  memory->Map(kTs, std::string(reinterpret_cast<const char*>(&forever), sizeof(forever)));
  memory->Map(kOut, sizeof(timespec));
  zerocell::testing::FakeGuestMemory* mem = memory.get();
  GuestState g(m, std::move(memory), -1);
  ASSERT_TRUE(g.Open({}).ok());
  zerocell::testing::FakeNotifier notifier;
  Dispatcher dispatcher(notifier, g);
  // ppoll(no fds, forever): nothing can become ready, so the virtual clock jumps to the end.
  const uint64_t poll = notifier.Push(SYS_ppoll, {0, 0, kTs, 0, 8});
  ASSERT_TRUE(dispatcher.HandleNext().ok());
  ASSERT_NE(notifier.AnswerFor(poll), nullptr);
  EXPECT_EQ(notifier.AnswerFor(poll)->error, 0);
  EXPECT_EQ(g.clock_ns(), INT64_MAX);
  // Reading CLOCK_REALTIME now (base + clock) saturates too.
  const uint64_t now = notifier.Push(SYS_clock_gettime, {CLOCK_REALTIME, kOut});
  ASSERT_TRUE(dispatcher.HandleNext().ok());
  ASSERT_NE(notifier.AnswerFor(now), nullptr);
  EXPECT_EQ(notifier.AnswerFor(now)->error, 0);
  timespec read_back;
  const std::string out = mem->Bytes(kOut, sizeof(read_back));
  memcpy(&read_back, out.data(), sizeof(read_back));
  EXPECT_EQ(read_back.tv_sec, INT64_MAX / 1'000'000'000);
  // A negative or non-normalized timeout is EINVAL, as the kernel answers.
  const timespec bad = {1, 1'000'000'000};
  ASSERT_EQ(mem->Write(kTs, &bad, sizeof(bad)), 0);
  const uint64_t invalid = notifier.Push(SYS_ppoll, {0, 0, kTs, 0, 8});
  ASSERT_TRUE(dispatcher.HandleNext().ok());
  ASSERT_NE(notifier.AnswerFor(invalid), nullptr);
  EXPECT_EQ(notifier.AnswerFor(invalid)->error, EINVAL);
}

TEST(GuestStateTest, DescriptorsAndChannelsFollowTheManifest) {
  const Manifest m = MakeManifest(0);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  ASSERT_EQ(g.channel_count(), 5);
  const char* expected[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/a", "/dev/b"};
  for (int fd = 0; fd < 5; ++fd) {
    const int ch = g.fds().Lookup(fd);
    ASSERT_GE(ch, 0) << fd;
    EXPECT_EQ(g.channel(ch).spec().alias, expected[fd]) << fd;
    EXPECT_EQ(g.FindAlias(expected[fd]), ch);
  }
  EXPECT_EQ(g.fds().Lookup(5), -1);
  EXPECT_EQ(g.FindAlias("/dev/c"), -1);
  EXPECT_EQ(g.FindAlias("/dev/"), -1);
  EXPECT_EQ(g.channel(g.FindAlias("/dev/a")).size(), 4u);  // its input, read in place
}

TEST(GuestStateTest, OutputCapacityShrinksToZero) {
  const Manifest m = MakeManifest(0, /*output_limit=*/100);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  EXPECT_EQ(g.output_capacity(), 100u);
  g.AddOutput(60);
  EXPECT_EQ(g.output_capacity(), 40u);
  g.AddOutput(40);
  EXPECT_EQ(g.output_capacity(), 0u);
  g.AddOutput(1);
  EXPECT_EQ(g.output_capacity(), 0u);
}

TEST(GuestStateTest, FirstStopReasonWins) {
  const Manifest m = MakeManifest(0);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  EXPECT_FALSE(g.stop().has_value());
  g.Stop(Outcome::kOutputLimit, "first");
  g.Stop(Outcome::kTimeout, "second");
  ASSERT_TRUE(g.stop().has_value());
  EXPECT_EQ(g.stop()->outcome, Outcome::kOutputLimit);
  EXPECT_EQ(g.stop()->detail, "first");
}

TEST(GuestStateTest, ChannelResultsInManifestOrder) {
  const Manifest m = MakeManifest(0);
  GuestState g(m, std::make_unique<zerocell::testing::FakeGuestMemory>(), -1);
  ASSERT_THAT(g.Open({}), IsOk());
  std::vector<ChannelResult> results = g.TakeChannelResults();
  ASSERT_EQ(results.size(), m.channels().size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].alias, m.channels()[i].alias) << i;
    EXPECT_EQ(results[i].writable, m.channels()[i].writable()) << i;
  }
}

}  // namespace
}  // namespace zerocell::sandbox::supervisor

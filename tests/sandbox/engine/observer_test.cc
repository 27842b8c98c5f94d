// OutputObserver: channel writes are seen live, in order, with their offsets.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::LoadGuest;
using testing::SharedEngine;
using testing::StdManifest;
using testing::StdoutOf;

struct Write {
  int channel;
  uint64_t offset;
  std::string bytes;
};

class Recorder : public OutputObserver {
 public:
  void OnWrite(int channel, uint64_t offset, std::string_view bytes) override {
    writes.push_back({channel, offset, std::string(bytes)});
  }
  std::vector<Write> writes;
};

TEST(EngineObserverTest, SeesEveryWriteInOrderWithItsOffset) {
  absl::StatusOr<const Engine*> engine = SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("bigout");
  ASSERT_THAT(image, IsOk());
  absl::StatusOr<Manifest> manifest = StdManifest({"bigout", "10000", "4000"}).Build();
  ASSERT_THAT(manifest, IsOk());

  Recorder recorder;
  ZC_ASSERT_RUN(result, (*engine)->Run(**image, *manifest, RunOptions{nullptr, &recorder}));
  ASSERT_EQ(result.outcome, Outcome::kExited);
  ASSERT_EQ(recorder.writes.size(), 3u);  // 4000 + 4000 + 2000
  std::string seen;
  for (const Write& w : recorder.writes) {
    EXPECT_EQ(manifest->channels()[w.channel].alias, "/dev/stdout");
    EXPECT_EQ(w.offset, seen.size());
    seen += w.bytes;
  }
  EXPECT_EQ(seen, StdoutOf(result));
}

TEST(EngineObserverTest, RefusedWritesAreNotReported) {
  absl::StatusOr<const Engine*> engine = SharedEngine();
  ASSERT_THAT(engine, IsOk());
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest("bigout");
  ASSERT_THAT(image, IsOk());
  // Output limit 5000: the second write is cut to 1000 bytes and the guest is stopped.
  ManifestBuilder builder = StdManifest({"bigout", "10000", "4000"});
  builder.set_output_limit_bytes(5000);
  absl::StatusOr<Manifest> manifest = builder.Build();
  ASSERT_THAT(manifest, IsOk());

  Recorder recorder;
  ZC_ASSERT_RUN(result, (*engine)->Run(**image, *manifest, RunOptions{nullptr, &recorder}));
  EXPECT_EQ(result.outcome, Outcome::kOutputLimit);
  std::string seen;
  for (const Write& w : recorder.writes) seen += w.bytes;
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(seen, StdoutOf(result));
}

}  // namespace
}  // namespace zerocell::sandbox

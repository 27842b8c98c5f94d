// The handler unit tests' fixture: a guest state over fake memory, five channels, helpers.
#ifndef ZEROCELL_TESTS_SANDBOX_SUPERVISOR_HANDLER_FIXTURE_H_
#define ZEROCELL_TESTS_SANDBOX_SUPERVISOR_HANDLER_FIXTURE_H_

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/handlers.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/run_budget.h"
#include "tests/testing/fake_kernel.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::supervisor::handler_test {
using ::zerocell::testing::IsOk;

using zerocell::testing::FakeGuestMemory;

constexpr uint64_t kBuf = 0x10000;   // 64 KiB of mapped scratch
constexpr uint64_t kPath = 0x30000;  // where tests put path strings
constexpr uint64_t kUnmapped = 0x900000;
constexpr int64_t kMemory = 64 << 20;

inline Manifest MakeManifest(uint64_t seed = 7) {
  ChannelSpec data;  // random read, sequential write, 8 bytes of content
  data.alias = "/dev/data";
  data.type = ChannelType::kRandReadRandWrite;
  data.gets = 100;
  data.get_size = 1000;
  data.puts = 100;
  data.put_size = 1000;
  data.initial_bytes = "01234567";
  ChannelSpec limited;  // two reads at most
  limited.alias = "/dev/limited";
  limited.gets = 2;
  limited.get_size = 100;
  limited.initial_bytes = std::string(50, 'x');
  absl::StatusOr<Manifest> m = ManifestBuilder()
                                   .add_channel(StdinChannel("stdin bytes"))
                                   .add_channel(StdoutChannel(1 << 20))
                                   .add_channel(StderrChannel(16))
                                   .add_channel(data)
                                   .add_channel(limited)
                                   .set_memory_bytes(kMemory)
                                   .set_random_seed(seed)
                                   .set_clock_start(absl::FromUnixSeconds(1000000))
                                   .Build();
  EXPECT_THAT(m, IsOk());
  return *std::move(m);
}

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(manifest_); }

  void Reset(const Manifest& m) {
    auto memory = std::make_unique<FakeGuestMemory>();
    memory_ = memory.get();
    memory_->Map(kBuf, 1 << 16);
    memory_->Map(kPath, 4096);
    guest_ = std::make_unique<GuestState>(m, std::move(memory), -1);
    ASSERT_THAT(guest_->Open({}), IsOk());
  }

  Reply Run(int64_t nr, std::initializer_list<uint64_t> args = {}) {
    Call call;
    call.nr = nr;
    int i = 0;
    for (uint64_t a : args) call.args[i++] = a;
    Handler h = Handlers()[static_cast<size_t>(nr)];
    EXPECT_NE(h, nullptr) << "no handler for " << nr;
    return h == nullptr ? Reply::Error(ENOSYS) : h(*guest_, call);
  }

  uint64_t Path(const std::string& path) {
    std::string page = path;
    page.resize(std::max<size_t>(4096, path.size() + 1), '\0');  // as a real page would be
    memory_->Map(kPath, page);
    return kPath;
  }

  // Writes into mapped memory, as the guest would.
  void Put(uint64_t addr, const std::string& bytes) {
    ASSERT_EQ(memory_->Write(addr, bytes.data(), bytes.size()), 0);
  }
  template <typename T>
  void PutValue(uint64_t addr, const T& value) {
    Put(addr, std::string(reinterpret_cast<const char*>(&value), sizeof(T)));
  }

  template <typename T>
  T At(uint64_t addr) {
    T value;
    const std::string bytes = memory_->Bytes(addr, sizeof(T));
    memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }

  std::string Output(const std::string& alias) {
    return guest_->channel(guest_->FindAlias(alias)).data();
  }

  Manifest manifest_ = MakeManifest();
  FakeGuestMemory* memory_ = nullptr;
  std::unique_ptr<GuestState> guest_;
};

inline void ExpectValue(const Reply& r, int64_t value) {
  EXPECT_EQ(r.error, 0) << strerror(r.error);
  EXPECT_EQ(r.value, value);
  EXPECT_FALSE(r.continue_syscall);
}
inline void ExpectError(const Reply& r, int error) {
  EXPECT_EQ(r.error, error) << "got " << strerror(r.error) << ", value " << r.value;
}

}  // namespace zerocell::sandbox::supervisor::handler_test

#endif  // ZEROCELL_TESTS_SANDBOX_SUPERVISOR_HANDLER_FIXTURE_H_

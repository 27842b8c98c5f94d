// libFuzzer target: the supervisor's decoding of a guest's system calls, through its seams
// (Notifier, GuestMemory) with the fakes of tests/testing: fuzzed guest memory contents, then a
// sequence of notified calls with fuzzed numbers, ABIs and arguments (mostly pointers into the
// guest's mapped memory, lengths around its edges and small descriptors) served by the
// Dispatcher. Contract beyond "no crash": every call is answered at most once, with either an
// errno in 1..4095, a value, or CONTINUE (never two at once); a stopped guest gets no answer;
// a call whose id went invalid gets none either; a call outside the policy stops the guest.
#include <fuzzer/FuzzedDataProvider.h>
#include <linux/audit.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sandbox/fs/guest_fs.h"
#include "sandbox/fs/scratch_dir.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/supervisor/dispatcher.h"
#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/handlers.h"
#include "tests/testing/fake_kernel.h"

namespace {

namespace zs = ::zerocell::sandbox;
namespace sv = ::zerocell::sandbox::supervisor;

// The guest's mapped memory: a fuzzed region the pointers mostly aim into, and a small one.
constexpr uint64_t kData = 0x10000;
constexpr uint64_t kStack = 0x7ff000;
constexpr size_t kStackBytes = 4096;
constexpr int kMaxCalls = 48;

// The numbers that have a handler: most calls pick one of these.
const std::vector<int64_t>& HandledNumbers() {
  static const std::vector<int64_t>* numbers = [] {
    auto* v = new std::vector<int64_t>;
    for (int nr = 0; nr < sv::kMaxSyscall; ++nr) {
      if (sv::Handlers()[static_cast<size_t>(nr)] != nullptr) v->push_back(nr);
    }
    return v;
  }();
  return *numbers;
}

zs::Manifest MakeManifest(FuzzedDataProvider& in) {
  zs::ChannelSpec data;  // random read and write, with data: the file-like case
  data.alias = "/dev/data";
  data.type = static_cast<zs::ChannelType>(in.ConsumeIntegralInRange(0, 3));
  data.gets = in.ConsumeIntegralInRange<int64_t>(1, 16);  // readable: never a nil channel
  data.get_size = in.ConsumeIntegralInRange<int64_t>(1, 1 << 16);
  data.puts = in.ConsumeIntegralInRange<int64_t>(0, 16);
  data.put_size = in.ConsumeIntegralInRange<int64_t>(0, 1 << 16);
  data.etag = in.ConsumeBool();
  data.initial_bytes = in.ConsumeRandomLengthString(512);
  zs::ManifestBuilder b;
  b.add_channel(zs::StdinChannel(in.ConsumeRandomLengthString(256)))
      .add_channel(zs::StdoutChannel(in.ConsumeIntegralInRange<int64_t>(0, 1 << 12)))
      .add_channel(zs::StderrChannel(64))
      .add_channel(data)
      .set_random_seed(in.ConsumeIntegral<uint64_t>())
      .set_output_limit_bytes(in.ConsumeIntegralInRange<int64_t>(1, 1 << 16))
      .set_clock_start(absl::FromUnixSeconds(in.ConsumeIntegralInRange<int64_t>(0, 1LL << 34)));
  absl::StatusOr<zs::Manifest> m = b.Build();
  if (!m.ok()) {  // the channels above are valid whatever the fuzzer chose
    fprintf(stderr, "manifest: %s\n", m.status().ToString().c_str());
    abort();
  }
  return *std::move(m);
}

// An argument: a pointer into (or just around) guest memory, a small count or descriptor, or any
// 64-bit value.
uint64_t Argument(FuzzedDataProvider& in, size_t data_bytes) {
  // Any value one time in ten: a full-size getrandom costs ~30 ms under ASan, and the aim is
  // many calls per second.
  switch (in.ConsumeIntegralInRange(0, 9)) {
    case 0:
    case 1:
    case 2:
      return kData + in.ConsumeIntegralInRange<uint64_t>(0, data_bytes + 16);
    case 3:
      return kStack + in.ConsumeIntegralInRange<uint64_t>(0, kStackBytes + 16);
    case 4:
    case 5:
      return in.ConsumeIntegralInRange<uint64_t>(0, 16);  // descriptors, flags, whence
    case 6:
    case 7:
    case 8:
      return in.ConsumeIntegralInRange<uint64_t>(0, data_bytes + 64);  // lengths
    default:
      return in.ConsumeIntegral<uint64_t>();
  }
}

uint32_t Arch(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0:
      return AUDIT_ARCH_I386;
    case 1:
      return in.ConsumeIntegral<uint32_t>();
    default:
      return AUDIT_ARCH_X86_64;
  }
}

int64_t Number(FuzzedDataProvider& in) {
  const std::vector<int64_t>& handled = HandledNumbers();
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
      return in.ConsumeIntegral<int64_t>();
    case 1:
      return in.ConsumeIntegralInRange<int64_t>(0, sv::kMaxSyscall) | 0x40000000;  // x32
    default:
      return handled[in.ConsumeIntegralInRange<size_t>(0, handled.size() - 1)];
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider in(bytes, size);
  const zs::Manifest manifest = MakeManifest(in);
  auto memory = std::make_unique<zerocell::testing::FakeGuestMemory>();
  std::string data = in.ConsumeRandomLengthString(4096);
  const size_t data_bytes = data.size();
  if (!data.empty()) memory->Map(kData, std::move(data));
  std::string stack = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(0, kStackBytes));
  stack.resize(kStackBytes);
  memory->Map(kStack, std::move(stack));
  zerocell::testing::FakeGuestMemory* mem = memory.get();
  // A guest that rewrites its buffers while the supervisor decides: the handler's copy must win.
  const bool racing = in.ConsumeBool();
  const uint8_t flip = in.ConsumeIntegral<uint8_t>();
  if (racing) {
    mem->after_read = [mem, flip](uint64_t addr, size_t len) {
      const std::string now = mem->Bytes(addr, 1);
      if (len > 0 && !now.empty()) {
        const char changed = static_cast<char>(now[0] ^ flip);
        (void)mem->Write(addr, &changed, 1);
      }
    };
  }

  sv::GuestState guest(manifest, std::move(memory), /*pidfd=*/-1);
  if (!guest.Open({}).ok()) abort();
  // A writable scratch with small quotas, as the cwd: fuzzed relative names all land in it.
  std::shared_ptr<zs::fs::ScratchDir> scratch;
  if (in.ConsumeBool()) {
    scratch = std::make_shared<zs::fs::ScratchDir>("/tmp", 4096, 16);
    auto fs = zs::fs::GuestFs::Create({}, {}, scratch);
    if (!fs.ok()) abort();
    guest.set_fs(std::shared_ptr<const zs::fs::GuestFs>(*std::move(fs)));
    guest.set_cwd(
        zs::fs::Location{zs::fs::GuestFs::kScratchMount, zs::fs::ScratchDir::kRoot, "/tmp"});
  }
  zerocell::testing::FakeNotifier notifier;
  sv::Dispatcher dispatcher(notifier, guest);

  std::set<uint64_t> invalidated;
  for (int i = 0; i < kMaxCalls && in.remaining_bytes() > 0 && !guest.stop().has_value(); ++i) {
    const uint32_t arch = Arch(in);
    const int64_t nr = Number(in);
    std::vector<uint64_t> args;
    for (int a = 0; a < 6; ++a) args.push_back(Argument(in, data_bytes));
    const uint64_t id = notifier.Push(nr, args, arch);
    if (in.ConsumeIntegralInRange(0, 15) == 0) {
      // The guest dies between the handler's read and the answer: no answer may go out.
      notifier.Invalidate(id);
      invalidated.insert(id);
    }
    const size_t answers_before = notifier.answers().size();
    if (!dispatcher.HandleNext().ok()) abort();  // the fake kernel never fails
    if (dispatcher.pending_count() > 0) {
      // The call waits for its source (one process: one call at most); in-memory inputs are
      // always ready, so retry once.
      if (!dispatcher.RetryPending(0).ok()) abort();
      if (dispatcher.pending_count() > 0) break;
    }
    const size_t answered = notifier.answers().size() - answers_before;
    if (answered > 1) abort();
    if (sv::HandlerFor(arch, nr) == nullptr && !guest.stop().has_value()) abort();
    if (guest.stop().has_value() || invalidated.count(id) != 0) {
      if (answered != 0) abort();
      continue;
    }
    if (answered != 1) abort();
    const sv::Answer& answer = notifier.answers().back();
    if (answer.id != id) abort();
    if (answer.error < 0 || answer.error > 4095) abort();
    if (answer.error != 0 && (answer.value != 0 || answer.continue_syscall)) abort();
    if (answer.continue_syscall && answer.value != 0) abort();
    // The quotas hold whatever the calls were.
    if (scratch != nullptr && (scratch->usage().bytes > scratch->max_bytes() ||
                               scratch->usage().files > scratch->max_files())) {
      abort();
    }
  }
  return 0;
}

// Executable pages hold only the bytes of their segment: file bytes that share the first or last
// page of an executable PT_LOAD (never decoded by admission) must not run in the guest.
#include <elf.h>
#include <signal.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "sandbox/image.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using testing::RunImage;
using testing::StdManifest;

constexpr uint64_t kBase = 0x400000;
constexpr uint64_t kFileSize = 0x2000;
// mov eax, 231 (exit_group); mov edi, 42; syscall: runs only if the bytes at `hidden` execute.
constexpr std::string_view kExit42("\xb8\xe7\x00\x00\x00\xbf\x2a\x00\x00\x00\x0f\x05", 12);
constexpr int kHiddenExitCode = 42;

struct SlackCase {
  const char* name;
  uint64_t offset;  // of the executable segment; its vaddr is kBase + offset
  uint64_t filesz;
  uint64_t memsz;
  uint64_t hidden;  // file offset of kExit42; the segment's first instruction jumps there
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const SlackCase& c, std::ostream* os) { *os << c.name; }

void Put(std::string& file, uint64_t offset, const void* bytes, size_t size) {
  std::memcpy(file.data() + offset, bytes, size);
}

// A static ET_EXEC: an R segment over the headers, then one R+X segment whose entry is a
// `jmp rel32` to kBase + c.hidden, where kExit42 sits.
std::string CraftImage(const SlackCase& c) {
  std::string file(kFileSize, '\0');
  Elf64_Ehdr eh = {};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = kBase + c.offset;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 2;
  Put(file, 0, &eh, sizeof(eh));
  const Elf64_Phdr headers = {PT_LOAD, PF_R, 0, kBase, kBase, 0x200, 0x200, 0x1000};
  const Elf64_Phdr code = {PT_LOAD,          PF_R | PF_X, c.offset, kBase + c.offset,
                           kBase + c.offset, c.filesz,    c.memsz,  0x1000};
  Put(file, sizeof(eh), &headers, sizeof(headers));
  Put(file, sizeof(eh) + sizeof(headers), &code, sizeof(code));
  const int32_t rel = static_cast<int32_t>(c.hidden - (c.offset + 5));
  file[c.offset] = '\xe9';
  Put(file, c.offset + 1, &rel, sizeof(rel));
  Put(file, c.hidden, kExit42.data(), kExit42.size());
  return file;
}

absl::StatusOr<Result> RunCrafted(const SlackCase& c) {
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromBytes(CraftImage(c));
  if (!image.ok()) return image.status();
  return RunImage(**image, StdManifest({c.name}));
}

TEST(EngineExecSlackTest, CodeInsideTheSegmentRuns) {
  // The control: the same jump to kExit42 placed inside [p_offset, p_offset + p_filesz).
  ZC_ASSERT_RUN(r, RunCrafted({"inside", 0x1000, 0x40, 0x40, 0x1020}));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, kHiddenExitCode);
}

class EngineExecSlackCaseTest : public ::testing::TestWithParam<SlackCase> {};

TEST_P(EngineExecSlackCaseTest, SlackBytesAreZeroed) {
  ZC_ASSERT_RUN(r, RunCrafted(GetParam()));
  // The jump lands on zero bytes: "add [rax], al" with rax = 0 at entry faults.
  ASSERT_EQ(r.outcome, Outcome::kSignaled) << Describe(r);
  EXPECT_EQ(r.term_signal, SIGSEGV);
}

INSTANTIATE_TEST_SUITE_P(Slack, EngineExecSlackCaseTest,
                         ::testing::Values(
                             // Before p_offset on the first page.
                             SlackCase{"head", 0x1100, 0x10, 0x10, 0x1000},
                             // After p_filesz on the last file page.
                             SlackCase{"tail", 0x1000, 0x10, 0x10, 0x1800},
                             // After p_memsz too, when p_memsz > p_filesz ends inside that page.
                             SlackCase{"tail_past_bss", 0x1000, 0x10, 0x100, 0x1800}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace zerocell::sandbox

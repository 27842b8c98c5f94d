// Executable memory holds only bytes admission decoded, whatever the guest does to its mappings:
// madvise cannot bring back the file bytes the loader zeroed around a segment, mremap cannot
// grow code over the image's next pages (.rodata), and madvise advice that the kernel is not
// asked for is answered without it.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/validator.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/host/instruction_use.h"
#include "sandbox/image.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox {
namespace {

using ::zerocell::testing::IsOk;

using testing::Describe;
using ::testing::HasSubstr;
using testing::KeyValues;
using testing::LoadAdmittedGuest;
using testing::RunImage;
using testing::StdManifest;
using testing::StdoutOf;
using ::zerocell::testing::GuestPath;

// mov eax, 42; rdrand ecx; ret: the code exec_slack_madvise calls when it finds it.
constexpr std::string_view kHiddenCode("\xb8\x2a\x00\x00\x00\x0f\xc7\xf1\xc3", 9);

// The exec_slack_madvise guest with kHiddenCode in the slack of its executable segment: at the
// first 16-byte boundary past p_filesz, on the segment's last page (where the guest looks).
absl::StatusOr<std::string> GuestWithHiddenCode() {
  absl::StatusOr<std::string> bytes = ReadImageFile(GuestPath("exec_slack_madvise"));
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<elf::ElfLayout> layout = elf::ParseElf(*bytes);
  if (!layout.ok()) return layout.status();
  for (const elf::LoadSegment& seg : layout->segments) {
    if (!seg.exec) continue;
    const uint64_t slack = (seg.vaddr + seg.filesz + 15) & ~uint64_t{15};
    const uint64_t offset = seg.offset + (slack - seg.vaddr);
    if (((slack + kHiddenCode.size()) & ~uint64_t{4095}) != (slack & ~uint64_t{4095}) ||
        offset + kHiddenCode.size() > bytes->size()) {
      return absl::FailedPreconditionError("no room past p_filesz on the segment's last page");
    }
    bytes->replace(offset, kHiddenCode.size(), kHiddenCode);
    return bytes;
  }
  return absl::FailedPreconditionError("no executable segment");
}

// The patched guest as admission under the deterministic policy accepts it: the hidden rdrand is
// not among the bytes it decodes.
absl::StatusOr<std::shared_ptr<const Image>> AdmittedGuestWithHiddenCode() {
  absl::StatusOr<std::string> bytes = GuestWithHiddenCode();
  if (!bytes.ok()) return bytes.status();
  const image::Validation v =
      image::ValidateImage(*bytes, {.policy = image::InstructionPolicy::kDeterministic});
  if (!v.status.ok()) return v.status;
  if (v.report.host_instructions & host::kRdrand) {
    return absl::InternalError("admission decoded the hidden rdrand");
  }
  return Image::FromBytes(*bytes, {}, host::InstructionUse::Decoded(v.report.host_instructions));
}

TEST(EngineImageIntegrityTest, SlackPastTheSegmentHoldsZeros) {
  absl::StatusOr<std::shared_ptr<const Image>> image = AdmittedGuestWithHiddenCode();
  ASSERT_THAT(image, IsOk());
  ZC_ASSERT_RUN(r, RunImage(**image, StdManifest({"exec_slack_madvise"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "slack=zero\n");
  EXPECT_EQ(r.exit_code, 0);
}

TEST(EngineImageIntegrityTest, MadviseDontneedCannotBringTheFileBytesBack) {
  // The loader's page past p_filesz is dropped: what comes back must be zeros, not the image
  // file's page with the hidden rdrand (which then ran, exit code 42, under a deterministic
  // admission).
  absl::StatusOr<std::shared_ptr<const Image>> image = AdmittedGuestWithHiddenCode();
  ASSERT_THAT(image, IsOk());
  ZC_ASSERT_RUN(r, RunImage(**image, StdManifest({"exec_slack_madvise", "madvise"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "slack=zero\n");
  EXPECT_EQ(r.exit_code, 0) << "the undecoded bytes ran";
}

TEST(EngineImageIntegrityTest, CodeCannotGrowOverRodata) {
  // mremap growing a file-backed page of code in place would map the image file's next pages,
  // .rodata with its hidden rdrand, executable (exit code 43). Admission under the deterministic
  // policy accepts the image: it decodes executable segments only.
  absl::StatusOr<std::shared_ptr<const Image>> image =
      LoadAdmittedGuest("mremap_rodata", image::InstructionPolicy::kDeterministic);
  ASSERT_THAT(image, IsOk());
  ZC_ASSERT_RUN(r, RunImage(**image, StdManifest({"mremap_rodata"})));
  ASSERT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, "mremap");
  EXPECT_THAT(r.detail, HasSubstr("code"));
  EXPECT_THAT(StdoutOf(r), HasSubstr("over .rodata"));
}

TEST(EngineImageIntegrityTest, MadviseAdviceTheKernelIsNotAskedFor) {
  ZC_ASSERT_RUN(r, testing::RunGuest("madvise_probe", StdManifest({"madvise_probe"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  const std::map<std::string, std::string> out = KeyValues(StdoutOf(r));
  // In the kernel: MADV_DONTNEED gives zero pages back, MADV_WILLNEED changes nothing.
  EXPECT_EQ(out.at("dontneed"), "0 errno=0 bytes=0");
  EXPECT_EQ(out.at("willneed"), "0 errno=0 bytes=A");
  // Answered by the supervisor: hints that leave the bytes as they are succeed and do nothing
  // (MADV_FREE included: keeping the bytes is one of its outcomes, and the only deterministic
  // one)...
  for (const char* hint : {"free", "hugepage", "dontdump", "cold", "pageout", "populate_write"}) {
    EXPECT_EQ(out.at(hint), "0 errno=0 bytes=A") << hint;
  }
  // ... the rest is refused.
  for (const char* refused : {"remove", "collapse", "unknown"}) {
    EXPECT_EQ(out.at(refused), "-1 errno=22 bytes=A") << refused;
  }
  EXPECT_THAT(StdoutOf(r), HasSubstr("alive\n"));
}

}  // namespace
}  // namespace zerocell::sandbox

// ValidateImage's instruction policy on crafted images, one .S file per rule (crafted/*.S): each
// refused instruction is reported at the exact file offset and address of its `bad` label.
#include <elf.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/validator.h"
#include "tests/image/validator_test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::image {
namespace {

using testing::CraftedImage;
using ::testing::ElementsAre;
using testing::FileOffsetOf;
using ::testing::HasSubstr;
using testing::SymbolValue;

constexpr InstructionPolicy kBothPolicies[] = {InstructionPolicy::kStandard,
                                               InstructionPolicy::kDeterministic};

// Where the crafted image's `bad` label is, from its symbol table and program headers.
struct Location {
  uint64_t vaddr = 0;
  uint64_t file_offset = 0;
};
Location LabelOf(const std::string& elf, std::string_view label = "bad") {
  const std::optional<uint64_t> vaddr = SymbolValue(elf, label);
  EXPECT_TRUE(vaddr.has_value()) << "no symbol " << label;
  const std::optional<uint64_t> offset = FileOffsetOf(elf, vaddr.value_or(0));
  EXPECT_TRUE(offset.has_value());
  return {vaddr.value_or(0), offset.value_or(0)};
}

Validation Validate(const std::string& elf, InstructionPolicy policy) {
  return ValidateImage(elf, ValidatorOptions{.policy = policy});
}

struct RefusedCase {
  const char* image;        // crafted/<image>.S
  const char* instruction;  // as Zydis formats it
  const char* rule;
};

class RefusedUnderBothPoliciesTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(RefusedUnderBothPoliciesTest, RefusedAtTheExactOffset) {
  const RefusedCase& c = GetParam();
  const std::string elf = CraftedImage(c.image);
  ASSERT_FALSE(elf.empty()) << c.image << " was not built";
  const Location bad = LabelOf(elf);
  for (InstructionPolicy policy : kBothPolicies) {
    SCOPED_TRACE(PolicyName(policy));
    const Validation v = Validate(elf, policy);
    EXPECT_EQ(v.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(
        v.status.message(),
        absl::StrFormat("instruction at file offset 0x%x (vaddr 0x%x): %s: %s (%s policy)",
                        bad.file_offset, bad.vaddr, c.instruction, c.rule, PolicyName(policy)));
    EXPECT_FALSE(v.report.accepted);
    EXPECT_TRUE(v.report.instructions_checked);
    EXPECT_EQ(v.report.policy, policy);
    ASSERT_EQ(v.report.rejections.size(), 1u);
    EXPECT_EQ(v.report.rejected_instructions, 1);
    const InstructionRejection& r = v.report.rejections[0];
    EXPECT_EQ(r.file_offset, bad.file_offset);
    EXPECT_EQ(r.vaddr, bad.vaddr);
    EXPECT_EQ(r.instruction, c.instruction);
    EXPECT_EQ(r.rule, c.rule);
    EXPECT_EQ(v.report.undecodable_bytes, 0);
  }
}

constexpr char kInterrupt[] = "software interrupt other than int3";
constexpr char kFar[] = "far jump, call or return (changes the code segment)";
constexpr char kSegment[] = "load of a segment register";
constexpr char kBase[] = "write of the fs/gs base (wrfsbase/wrgsbase)";
constexpr char kIo[] = "port I/O instruction";
constexpr char kPrivileged[] = "privileged instruction";

INSTANTIATE_TEST_SUITE_P(
    Rules, RefusedUnderBothPoliciesTest,
    ::testing::Values(
        RefusedCase{"int80", "int 0x80", kInterrupt}, RefusedCase{"int21", "int 0x21", kInterrupt},
        RefusedCase{"sysenter", "sysenter", "32-bit system call entry (sysenter)"},
        RefusedCase{"ljmp", "jmp far [rax]", kFar}, RefusedCase{"lcall", "call far [rax]", kFar},
        RefusedCase{"lret", "ret far", kFar},
        RefusedCase{"iretq", "iretq", "interrupt return (iret)"},
        RefusedCase{"mov_sreg", "mov ds, ax", kSegment}, RefusedCase{"pop_fs", "pop fs", kSegment},
        RefusedCase{"pop_gs", "pop gs", kSegment},
        RefusedCase{"lss", "lss eax, fword ptr [rax]", kSegment},
        RefusedCase{"lfs", "lfs eax, fword ptr [rax]", kSegment},
        RefusedCase{"wrfsbase", "wrfsbase rax", kBase},
        RefusedCase{"wrgsbase", "wrgsbase rax", kBase}, RefusedCase{"in", "in al, dx", kIo},
        RefusedCase{"out", "out dx, al", kIo}, RefusedCase{"cli", "cli", kPrivileged},
        RefusedCase{"lgdt", "lgdt [rax]", kPrivileged},
        // int 0x80 whose 0xcd is the last byte before a restart point of the sweep.
        RefusedCase{"straddle_entry", "int 0x80", kInterrupt},
        RefusedCase{"straddle_section", "int 0x80", kInterrupt}),
    [](const auto& info) { return std::string(info.param.image); });

struct NonDeterministicCase {
  const char* image;
  const char* mnemonic;
  const char* instruction;
  const char* rule;
};

class NonDeterministicTest : public ::testing::TestWithParam<NonDeterministicCase> {};

TEST_P(NonDeterministicTest, WarnedUnderStandardRefusedUnderDeterministic) {
  const NonDeterministicCase& c = GetParam();
  const std::string elf = CraftedImage(c.image);
  ASSERT_FALSE(elf.empty()) << c.image << " was not built";
  const Location bad = LabelOf(elf);

  const Validation standard = Validate(elf, InstructionPolicy::kStandard);
  EXPECT_THAT(standard.status, IsOk());
  EXPECT_TRUE(standard.report.accepted);
  EXPECT_THAT(standard.report.warnings,
              ElementsAre(absl::StrFormat("%s at 0x%x", c.mnemonic, bad.vaddr)));
  EXPECT_TRUE(standard.report.rejections.empty());

  const Validation deterministic = Validate(elf, InstructionPolicy::kDeterministic);
  EXPECT_EQ(deterministic.status.message(),
            absl::StrFormat("instruction at file offset 0x%x (vaddr 0x%x): %s: %s (deterministic "
                            "policy)",
                            bad.file_offset, bad.vaddr, c.instruction, c.rule));
  EXPECT_FALSE(deterministic.report.accepted);
  ASSERT_EQ(deterministic.report.rejections.size(), 1u);
  EXPECT_EQ(deterministic.report.rejections[0].file_offset, bad.file_offset);
  EXPECT_EQ(deterministic.report.rejections[0].vaddr, bad.vaddr);
  EXPECT_EQ(deterministic.report.rejections[0].instruction, c.instruction);
  EXPECT_TRUE(deterministic.report.warnings.empty());
}

constexpr char kTsc[] = "non-deterministic: reads the time-stamp counter";
constexpr char kRandom[] = "non-deterministic: hardware random number";

INSTANTIATE_TEST_SUITE_P(
    Rules, NonDeterministicTest,
    ::testing::Values(NonDeterministicCase{"rdtsc", "rdtsc", "rdtsc", kTsc},
                      NonDeterministicCase{"rdtscp", "rdtscp", "rdtscp", kTsc},
                      NonDeterministicCase{"rdrand", "rdrand", "rdrand eax", kRandom},
                      NonDeterministicCase{"rdseed", "rdseed", "rdseed eax", kRandom},
                      NonDeterministicCase{"rdpid", "rdpid", "rdpid rax",
                                           "non-deterministic: reads the processor id"}),
    [](const auto& info) { return std::string(info.param.image); });

TEST(ValidateImageTest, CpuidIsAWarningUnderBothPolicies) {
  const std::string elf = CraftedImage("cpuid");
  const Location bad = LabelOf(elf);
  for (InstructionPolicy policy : kBothPolicies) {
    const Validation v = Validate(elf, policy);
    EXPECT_THAT(v.status, IsOk());
    EXPECT_THAT(v.report.warnings, ElementsAre(absl::StrFormat("cpuid at 0x%x", bad.vaddr)));
  }
}

// hlt is on the list, but musl and glibc use it as their crash trap (it faults in user
// mode), so refusing it would refuse every libc program: it is allowed, without a warning.
TEST(ValidateImageTest, HltIsAllowedAsTheLibcCrashTrap) {
  const std::string elf = CraftedImage("hlt");
  for (InstructionPolicy policy : kBothPolicies) {
    const Validation v = Validate(elf, policy);
    EXPECT_THAT(v.status, IsOk());
    EXPECT_TRUE(v.report.warnings.empty());
  }
}

TEST(ValidateImageTest, CleanImageReport) {
  const std::string elf = CraftedImage("clean");
  const std::optional<uint64_t> start = SymbolValue(elf, "_start");
  ASSERT_TRUE(start.has_value());
  for (InstructionPolicy policy : kBothPolicies) {
    const Validation v = Validate(elf, policy);
    ASSERT_THAT(v.status, IsOk());
    const ValidationReport& r = v.report;
    EXPECT_TRUE(r.accepted);
    EXPECT_FALSE(r.pie);
    EXPECT_EQ(r.entry, *start);
    EXPECT_EQ(r.load_segments, 2);  // headers (R) and .text (R+X)
    // _start: mov, xor, syscall; then int3, syscall, mov eax, ds, push fs, pop, mov, ret.
    EXPECT_EQ(r.instructions, 10);
    EXPECT_EQ(r.executable_bytes, 5 + 2 + 2 + 1 + 2 + 2 + 2 + 1 + 3 + 1);
    EXPECT_TRUE(r.instructions_checked);
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_TRUE(r.rejections.empty());
    EXPECT_EQ(r.rejected_instructions, 0);
    EXPECT_TRUE(r.undecodable.empty());
    EXPECT_EQ(r.undecodable_bytes, 0);
    EXPECT_GT(r.validation_ns, 0);
  }
}

TEST(ValidateImageTest, ElfChecksOnlyWhenInstructionsAreNotChecked) {
  const Validation v =
      ValidateImage(CraftedImage("int80"), ValidatorOptions{.check_instructions = false});
  EXPECT_THAT(v.status, IsOk());
  EXPECT_TRUE(v.report.accepted);
  EXPECT_FALSE(v.report.instructions_checked);
  EXPECT_EQ(v.report.instructions, 0);
  EXPECT_GT(v.report.executable_bytes, 0);
}

TEST(ValidateImageTest, UndecodableBytesAreOneMergedRangeAndAccepted) {
  const std::string elf = CraftedImage("undecodable");
  const Location bad = LabelOf(elf);
  const Validation v = Validate(elf, InstructionPolicy::kStandard);
  EXPECT_THAT(v.status, IsOk());
  ASSERT_EQ(v.report.undecodable.size(), 1u);
  EXPECT_EQ(v.report.undecodable[0].file_offset, bad.file_offset);
  EXPECT_EQ(v.report.undecodable[0].vaddr, bad.vaddr);
  EXPECT_EQ(v.report.undecodable[0].length, 4);
  EXPECT_EQ(v.report.undecodable_bytes, 4);
  // _start's three instructions and the final ret: decoding resumed right after the range.
  EXPECT_EQ(v.report.instructions, 4);
}

TEST(ValidateImageTest, RejectionsAreCappedAndCounted) {
  const std::string elf = CraftedImage("many");
  const Location bad = LabelOf(elf);
  const Validation v = Validate(elf, InstructionPolicy::kStandard);
  EXPECT_THAT(std::string(v.status.message()),
              HasSubstr("; 149 more refused instruction(s) in the validation report"));
  ASSERT_EQ(v.report.rejections.size(), static_cast<size_t>(kMaxReportEntries));
  EXPECT_EQ(v.report.rejected_instructions, 150);
  for (int i = 0; i < kMaxReportEntries; ++i) {
    EXPECT_EQ(v.report.rejections[i].file_offset, bad.file_offset + 2 * i);  // cd 80 each
    EXPECT_EQ(v.report.rejections[i].vaddr, bad.vaddr + 2 * i);
  }
}

TEST(ValidateImageTest, UndecodableRangesAreCappedButAllBytesCounted) {
  const Validation v = Validate(CraftedImage("many_undecodable"), InstructionPolicy::kStandard);
  EXPECT_THAT(v.status, IsOk());
  EXPECT_EQ(v.report.undecodable.size(), static_cast<size_t>(kMaxReportEntries));
  EXPECT_EQ(v.report.undecodable_bytes, 150);
}

// Restarting at section boundaries keeps the sweep in step after a gap; without section headers
// the same bytes desynchronise it, which is why the sweep is an admission check, not the boundary.
TEST(ValidateImageTest, SweepRestartsAtExecutableSectionStarts) {
  const std::string elf = CraftedImage("resync");
  const Location after = LabelOf(elf, "after");
  const Validation v = Validate(elf, InstructionPolicy::kStandard);
  EXPECT_THAT(v.status, IsOk());
  ASSERT_FALSE(v.report.undecodable.empty());
  const ByteRange& last = v.report.undecodable.back();
  EXPECT_EQ(last.file_offset + last.length, after.file_offset);

  std::string stripped = elf;
  Elf64_Ehdr eh;
  std::memcpy(&eh, stripped.data(), sizeof(eh));
  eh.e_shnum = 0;
  eh.e_shoff = 0;
  std::memcpy(stripped.data(), &eh, sizeof(eh));
  const Validation desynced = Validate(stripped, InstructionPolicy::kStandard);
  ASSERT_EQ(desynced.report.rejections.size(), 1u);
  EXPECT_EQ(desynced.report.rejections[0].instruction, "in al, dx");
  EXPECT_EQ(desynced.report.rejections[0].vaddr, after.vaddr + 1);
}

TEST(ValidateImageTest, IsDeterministic) {
  const std::string elf = CraftedImage("many");
  const Validation a = Validate(elf, InstructionPolicy::kStandard);
  const Validation b = Validate(elf, InstructionPolicy::kStandard);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.report.instructions, b.report.instructions);
  ASSERT_EQ(a.report.rejections.size(), b.report.rejections.size());
  for (size_t i = 0; i < a.report.rejections.size(); ++i) {
    EXPECT_EQ(a.report.rejections[i].instruction, b.report.rejections[i].instruction);
  }
}

// Random byte mutations anywhere in the file, section headers included (they only add restart
// points and are not trusted): the validator never crashes and its report stays consistent.
TEST(ValidateImageTest, RandomMutationsKeepTheReportConsistent) {
  std::mt19937_64 rng(20261121);
  for (const char* name : {"resync", "clean", "many"}) {
    const std::string original = CraftedImage(name);
    ASSERT_FALSE(original.empty());
    for (int round = 0; round < 300; ++round) {
      std::string elf = original;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < edits; ++i) elf[rng() % elf.size()] = static_cast<char>(rng());
      const Validation v = Validate(elf, InstructionPolicy::kDeterministic);
      EXPECT_EQ(v.status.ok(), v.report.accepted);
      EXPECT_LE(v.report.rejections.size(), static_cast<size_t>(kMaxReportEntries));
      EXPECT_LE(v.report.undecodable.size(), static_cast<size_t>(kMaxReportEntries));
      EXPECT_LE(v.report.undecodable_bytes, v.report.executable_bytes);
      EXPECT_TRUE(v.report.rejections.empty() || !v.report.accepted);
      EXPECT_EQ(v.report.rejected_instructions > 0, !v.report.rejections.empty());
      EXPECT_GE(v.report.rejected_instructions, static_cast<int64_t>(v.report.rejections.size()));
      EXPECT_TRUE(!v.status.ok() || v.report.instructions_checked);
    }
  }
}

TEST(PolicyNameTest, RoundTrips) {
  for (InstructionPolicy policy : kBothPolicies) {
    EXPECT_EQ(PolicyFromName(PolicyName(policy)), policy);
  }
  EXPECT_EQ(PolicyFromName("Standard"), std::nullopt);
  EXPECT_EQ(PolicyFromName(""), std::nullopt);
}

}  // namespace
}  // namespace zerocell::image

// Classify on single raw instructions: the rules that the crafted images do not each cover
// (control/debug registers, VMX/SVM, other privileged and I/O forms) and the allowed neighbours
// of refused instructions (reads of segment registers, int3, syscall, hlt).
#include "image/instruction_rules.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace zerocell::image {
namespace {

struct RawCase {
  const char* name;
  const char* hex;        // the instruction's bytes
  const char* formatted;  // Zydis Intel syntax at address 0x1000
  Verdict standard;
  Verdict deterministic;
  const char* rule;  // "" when allowed without a warning
};

class ClassifyTest : public ::testing::TestWithParam<RawCase> {};

TEST_P(ClassifyTest, VerdictAndRulePerPolicy) {
  const RawCase& c = GetParam();
  const X86Decoder decoder;
  DecodedInstruction decoded;
  const std::string bytes = absl::HexStringToBytes(c.hex);
  ASSERT_TRUE(decoder.Decode(bytes, decoded));
  EXPECT_EQ(decoded.instruction.length, bytes.size());
  EXPECT_EQ(decoder.Format(decoded, 0x1000), c.formatted);
  const RuleMatch standard = Classify(decoder, decoded, InstructionPolicy::kStandard);
  const RuleMatch deterministic = Classify(decoder, decoded, InstructionPolicy::kDeterministic);
  EXPECT_EQ(standard.verdict, c.standard);
  EXPECT_EQ(deterministic.verdict, c.deterministic);
  EXPECT_EQ(standard.rule, c.rule);
  EXPECT_EQ(deterministic.rule, c.rule);
}

constexpr Verdict kOk = Verdict::kAllowed;
constexpr Verdict kWarn = Verdict::kWarning;
constexpr Verdict kNo = Verdict::kRefused;
constexpr char kPrivileged[] = "privileged instruction";
constexpr char kSegment[] = "load of a segment register";
constexpr char kIo[] = "port I/O instruction";
constexpr char kUmip[] = "read of descriptor-table or machine state (sgdt, sidt, sldt, str, smsw)";
constexpr char kTimedWait[] =
    "non-deterministic: waits until a time-stamp counter deadline (umonitor, umwait, tpause)";

INSTANTIATE_TEST_SUITE_P(
    Rules, ClassifyTest,
    ::testing::Values(
        // Allowed.
        RawCase{"Int3", "cc", "int3", kOk, kOk, ""},
        RawCase{"Syscall", "0f05", "syscall", kOk, kOk, ""},
        RawCase{"Hlt", "f4", "hlt", kOk, kOk, ""},
        RawCase{"MovFromSegment", "8cd8", "mov eax, ds", kOk, kOk, ""},
        RawCase{"PushFs", "0fa0", "push fs", kOk, kOk, ""},
        RawCase{"PopRegister", "5b", "pop rbx", kOk, kOk, ""},
        RawCase{"NearRet", "c3", "ret", kOk, kOk, ""},
        RawCase{"Rdfsbase", "f3480faec0", "rdfsbase rax", kOk, kOk, ""},
        RawCase{"Cpuid", "0fa2", "cpuid", kWarn, kWarn, "host-dependent: cpuid"},
        // Refused under both policies.
        RawCase{"Int3Long", "cd03", "int 0x03", kNo, kNo, "software interrupt other than int3"},
        RawCase{"Int1", "f1", "int1", kNo, kNo, "software interrupt other than int3"},
        RawCase{"Iretd", "cf", "iretd", kNo, kNo, "interrupt return (iret)"},
        RawCase{"MovSs", "8ed0", "mov ss, ax", kNo, kNo, kSegment},
        RawCase{"MovEsFromMemory", "8e00", "mov es, [rax]", kNo, kNo, kSegment},
        RawCase{"Lgs", "0fb500", "lgs eax, fword ptr [rax]", kNo, kNo, kSegment},
        RawCase{"Insb", "6c", "insb", kNo, kNo, kIo},
        RawCase{"Outsd", "6f", "outsd", kNo, kNo, kIo},
        RawCase{"InImmediate", "e480", "in al, 0x80", kNo, kNo, kIo},
        RawCase{"Sti", "fb", "sti", kNo, kNo, kPrivileged},
        RawCase{"Lidt", "0f0118", "lidt [rax]", kNo, kNo, kPrivileged},
        RawCase{"Lldt", "0f0010", "lldt [rax]", kNo, kNo, kPrivileged},
        RawCase{"Ltr", "0f0018", "ltr [rax]", kNo, kNo, kPrivileged},
        RawCase{"Invlpg", "0f0138", "invlpg [rax]", kNo, kNo, kPrivileged},
        RawCase{"Wrmsr", "0f30", "wrmsr", kNo, kNo, kPrivileged},
        RawCase{"Rdmsr", "0f32", "rdmsr", kNo, kNo, kPrivileged},
        RawCase{"Rdpmc", "0f33", "rdpmc", kNo, kNo, kPrivileged},
        RawCase{"MovToCr3", "0f22d8", "mov cr3, rax", kNo, kNo, kPrivileged},
        RawCase{"MovFromCr0", "0f20c0", "mov rax, cr0", kNo, kNo, kPrivileged},
        RawCase{"MovToDr7", "0f23f8", "mov dr7, rax", kNo, kNo, kPrivileged},
        RawCase{"Swapgs", "0f01f8", "swapgs", kNo, kNo, kPrivileged},
        RawCase{"Sysret", "0f07", "sysret", kNo, kNo, kPrivileged},
        RawCase{"Sysexit", "0f35", "sysexit", kNo, kNo, kPrivileged},
        RawCase{"Clts", "0f06", "clts", kNo, kNo, kPrivileged},
        RawCase{"Wbinvd", "0f09", "wbinvd", kNo, kNo, kPrivileged},
        RawCase{"Invd", "0f08", "invd", kNo, kNo, kPrivileged},
        RawCase{"Lmsw", "0f0130", "lmsw [rax]", kNo, kNo, kPrivileged},
        RawCase{"Vmcall", "0f01c1", "vmcall", kNo, kNo, kPrivileged},
        RawCase{"Vmlaunch", "0f01c2", "vmlaunch", kNo, kNo, kPrivileged},
        RawCase{"Vmmcall", "0f01d9", "vmmcall", kNo, kNo, kPrivileged},
        RawCase{"Monitor", "0f01c8", "monitor", kNo, kNo, kPrivileged},
        RawCase{"Smsw", "0f0120", "smsw [rax]", kNo, kNo, kUmip},
        RawCase{"Sgdt", "0f0100", "sgdt [rax]", kNo, kNo, kUmip},
        RawCase{"Str", "0f0008", "str [rax]", kNo, kNo, kUmip},
        // Refused only by the deterministic policy.
        RawCase{"Rdtsc", "0f31", "rdtsc", kWarn, kNo,
                "non-deterministic: reads the time-stamp counter"},
        RawCase{"Rdpru", "0f01fd", "rdpru", kWarn, kNo,
                "non-deterministic: reads processor performance registers (rdpru)"},
        RawCase{"Umonitor", "f30faef0", "umonitor rax", kWarn, kNo, kTimedWait},
        RawCase{"Umwait", "f20faef0", "umwait eax", kWarn, kNo, kTimedWait},
        RawCase{"Tpause", "660faef0", "tpause eax", kWarn, kNo, kTimedWait},
        RawCase{"Xbegin", "c7f800000000", "xbegin 0x0000000000001006", kWarn, kNo,
                "non-deterministic: hardware transaction, whose aborts depend on the host "
                "(xbegin)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(X86DecoderTest, RefusesWhatIsNotAnInstruction) {
  const X86Decoder decoder;
  DecodedInstruction decoded;
  EXPECT_FALSE(decoder.Decode("\x06", decoded));      // push es: invalid in 64-bit mode
  EXPECT_FALSE(decoder.Decode("\x0f", decoded));      // truncated
  EXPECT_FALSE(decoder.Decode("", decoded));          // nothing
  EXPECT_FALSE(decoder.Decode("\xb8\x01", decoded));  // mov eax, imm32 cut short
}

TEST(X86DecoderTest, FormatsRelativeTargetsAgainstTheAddress) {
  const X86Decoder decoder;
  DecodedInstruction decoded;
  ASSERT_TRUE(decoder.Decode(std::string("\xe8\x00\x00\x00\x00", 5), decoded));
  EXPECT_EQ(decoder.Format(decoded, 0x401000), "call 0x0000000000401005");
}

}  // namespace
}  // namespace zerocell::image

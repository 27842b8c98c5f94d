// The instruction policy: Zydis decoding, Intel-syntax formatting and the refusal rules.
#include "image/instruction_rules.h"

namespace zerocell::image {
namespace {

// Rule texts: they reach users in reports and status messages, so they say what was refused.
constexpr std::string_view kSoftwareInterrupt = "software interrupt other than int3";
constexpr std::string_view kSysenter = "32-bit system call entry (sysenter)";
constexpr std::string_view kFarBranch = "far jump, call or return (changes the code segment)";
constexpr std::string_view kInterruptReturn = "interrupt return (iret)";
constexpr std::string_view kSegmentLoad = "load of a segment register";
constexpr std::string_view kBaseWrite = "write of the fs/gs base (wrfsbase/wrgsbase)";
constexpr std::string_view kPortIo = "port I/O instruction";
constexpr std::string_view kPrivileged = "privileged instruction";
constexpr std::string_view kSystemStateRead =
    "read of descriptor-table or machine state (sgdt, sidt, sldt, str, smsw)";
constexpr std::string_view kTimeStampCounter = "non-deterministic: reads the time-stamp counter";
constexpr std::string_view kHardwareRandom = "non-deterministic: hardware random number";
constexpr std::string_view kProcessorId = "non-deterministic: reads the processor id";
constexpr std::string_view kProcessorRegister =
    "non-deterministic: reads processor performance registers (rdpru)";
constexpr std::string_view kTimedWait =
    "non-deterministic: waits until a time-stamp counter deadline (umonitor, umwait, tpause)";
constexpr std::string_view kTransaction =
    "non-deterministic: hardware transaction, whose aborts depend on the host (xbegin)";
constexpr std::string_view kCpuid = "host-dependent: cpuid";

bool IsRegisterOfClass(const ZydisDecodedOperand& operand, ZydisRegisterClass register_class) {
  return operand.type == ZYDIS_OPERAND_TYPE_REGISTER &&
         ZydisRegisterGetClass(operand.reg.value) == register_class;
}

// Ring-0-only (or IOPL/CR4-gated, which Linux does not open to ordinary processes) instructions
// that Zydis 4.0's privilege attribute misses or that we want named regardless of it.
bool IsPrivilegedMnemonic(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_INVLPG:
    case ZYDIS_MNEMONIC_INVLPGA:
    case ZYDIS_MNEMONIC_INVPCID:
    case ZYDIS_MNEMONIC_WRMSR:
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_RDPMC:
    case ZYDIS_MNEMONIC_SWAPGS:
    case ZYDIS_MNEMONIC_SYSEXIT:
    case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_CLTS:
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_LMSW:
    case ZYDIS_MNEMONIC_CLAC:
    case ZYDIS_MNEMONIC_STAC:
    case ZYDIS_MNEMONIC_MONITOR:
    case ZYDIS_MNEMONIC_MWAIT:
    case ZYDIS_MNEMONIC_VMCALL:
    case ZYDIS_MNEMONIC_VMMCALL:
    case ZYDIS_MNEMONIC_VMFUNC:
    case ZYDIS_MNEMONIC_VMRUN:
    case ZYDIS_MNEMONIC_VMLOAD:
    case ZYDIS_MNEMONIC_VMSAVE:
    case ZYDIS_MNEMONIC_CLGI:
    case ZYDIS_MNEMONIC_STGI:
    case ZYDIS_MNEMONIC_SKINIT:
    case ZYDIS_MNEMONIC_ENCLS:
    case ZYDIS_MNEMONIC_PCONFIG:
      return true;
    default:
      return false;
  }
}

// The instructions whose results differ between runs or hosts; refused by kDeterministic.
std::string_view NonDeterministicRule(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_RDTSCP:
      return kTimeStampCounter;
    case ZYDIS_MNEMONIC_RDRAND:
    case ZYDIS_MNEMONIC_RDSEED:
      return kHardwareRandom;
    case ZYDIS_MNEMONIC_RDPID:
      return kProcessorId;
    case ZYDIS_MNEMONIC_RDPRU:
      return kProcessorRegister;
    // umwait and tpause end at a TSC deadline and say in CF whether it passed; umonitor arms
    // the monitor umwait waits on.
    case ZYDIS_MNEMONIC_UMONITOR:
    case ZYDIS_MNEMONIC_UMWAIT:
    case ZYDIS_MNEMONIC_TPAUSE:
      return kTimedWait;
    // The abort path runs on interrupts, cache pressure or a host without TSX (#UD).
    case ZYDIS_MNEMONIC_XBEGIN:
      return kTransaction;
    default:
      return {};
  }
}

// Rules that hold under both policies. Empty when none applies.
std::string_view EscapeRule(const X86Decoder& decoder, const DecodedInstruction& decoded) {
  const ZydisDecodedInstruction& insn = decoded.instruction;
  switch (insn.mnemonic) {
    // int 0x80 enters the i386 system call table; other vectors only serve to probe the kernel.
    // int3 (0xcc) is the debugger trap compilers emit; `int 3` (0xcd 0x03) is refused with the
    // rest since nothing needs that encoding.
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_INTO:
      return kSoftwareInterrupt;
    case ZYDIS_MNEMONIC_SYSENTER:
      return kSysenter;
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ:
      return kInterruptReturn;
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
      return kSegmentLoad;
    case ZYDIS_MNEMONIC_WRFSBASE:
    case ZYDIS_MNEMONIC_WRGSBASE:
      return kBaseWrite;
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_SMSW:
      return kSystemStateRead;
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_POP: {
      // Only these encodings can write a segment register in 64-bit mode (mov Sreg, r/m is 8e;
      // pop fs/gs live in the 0f map); skipping the operand decoding of every other mov/pop
      // halves the sweep's time. Control/debug register moves are caught below by Zydis's
      // privilege attribute, and again here when the operands are decoded.
      const bool may_load_segment =
          insn.mnemonic == ZYDIS_MNEMONIC_MOV
              ? insn.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && insn.opcode == 0x8e
              : insn.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT;
      const bool may_touch_system_register =
          insn.mnemonic == ZYDIS_MNEMONIC_MOV && insn.opcode_map == ZYDIS_OPCODE_MAP_0F;
      if (!may_load_segment && !may_touch_system_register) break;
      // Only the destination matters: reading a segment register (mov eax, ds) is harmless.
      ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
      // An instruction that decodes but whose operands do not is treated as the worst case.
      if (!decoder.DecodeOperands(decoded, operands)) return kPrivileged;
      for (int i = 0; i < insn.operand_count_visible; ++i) {
        if (IsRegisterOfClass(operands[i], ZYDIS_REGCLASS_CONTROL) ||
            IsRegisterOfClass(operands[i], ZYDIS_REGCLASS_DEBUG)) {
          return kPrivileged;
        }
      }
      if (insn.operand_count_visible > 0 &&
          IsRegisterOfClass(operands[0], ZYDIS_REGCLASS_SEGMENT)) {
        return kSegmentLoad;
      }
      break;
    }
    default:
      break;
  }
  // hlt is allowed although it is a ring-0 instruction: in user mode it faults (SIGSEGV) like
  // ud2, and musl (a_crash, __stack_chk_fail) and glibc (_start, abort, _exit) use it as their
  // crash trap, so refusing it would refuse every libc program.
  if (insn.mnemonic == ZYDIS_MNEMONIC_HLT) return {};
  // A far branch reloads CS: with a 32-bit selector the process runs compatibility-mode code.
  if (insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return kFarBranch;
  if (insn.meta.category == ZYDIS_CATEGORY_IO || insn.meta.category == ZYDIS_CATEGORY_IOSTRINGOP) {
    return kPortIo;
  }
  if ((insn.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) != 0 ||
      insn.meta.category == ZYDIS_CATEGORY_VTX || insn.meta.category == ZYDIS_CATEGORY_SYSRET ||
      IsPrivilegedMnemonic(insn.mnemonic)) {
    return kPrivileged;
  }
  return {};
}

}  // namespace

X86Decoder::X86Decoder() {
  // Both calls only fail on invalid enum arguments, which these constants are not.
  (void)ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  (void)ZydisFormatterInit(&formatter_, ZYDIS_FORMATTER_STYLE_INTEL);
}

bool X86Decoder::Decode(std::string_view code, DecodedInstruction& out) const {
  return ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder_, &out.context, code.data(),
                                                    code.size(), &out.instruction));
}

bool X86Decoder::DecodeOperands(const DecodedInstruction& decoded,
                                ZydisDecodedOperand (&operands)[ZYDIS_MAX_OPERAND_COUNT]) const {
  return ZYAN_SUCCESS(ZydisDecoderDecodeOperands(&decoder_, &decoded.context, &decoded.instruction,
                                                 operands, ZYDIS_MAX_OPERAND_COUNT));
}

std::string X86Decoder::Format(const DecodedInstruction& decoded, uint64_t vaddr) const {
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  char text[256];
  if (DecodeOperands(decoded, operands) &&
      ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter_, &decoded.instruction, operands,
                                                   decoded.instruction.operand_count_visible, text,
                                                   sizeof(text), vaddr, nullptr))) {
    return text;
  }
  const char* mnemonic = ZydisMnemonicGetString(decoded.instruction.mnemonic);
  return mnemonic != nullptr ? mnemonic : "(invalid)";
}

uint32_t HostInstructionBit(ZydisMnemonic mnemonic) {
  namespace host = sandbox::host;
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_RDTSC:
      return host::kRdtsc;
    case ZYDIS_MNEMONIC_RDTSCP:
      return host::kRdtscp;
    case ZYDIS_MNEMONIC_RDRAND:
      return host::kRdrand;
    case ZYDIS_MNEMONIC_RDSEED:
      return host::kRdseed;
    case ZYDIS_MNEMONIC_RDPID:
      return host::kRdpid;
    case ZYDIS_MNEMONIC_RDPRU:
      return host::kRdpru;
    case ZYDIS_MNEMONIC_UMONITOR:
    case ZYDIS_MNEMONIC_UMWAIT:
    case ZYDIS_MNEMONIC_TPAUSE:
      return host::kUmwait;
    case ZYDIS_MNEMONIC_XBEGIN:
      return host::kXbegin;
    case ZYDIS_MNEMONIC_CPUID:
      return host::kCpuid;
    default:
      return 0;
  }
}

RuleMatch Classify(const X86Decoder& decoder, const DecodedInstruction& decoded,
                   InstructionPolicy policy) {
  if (std::string_view rule = EscapeRule(decoder, decoded); !rule.empty()) {
    return {Verdict::kRefused, rule};
  }
  const ZydisMnemonic mnemonic = decoded.instruction.mnemonic;
  if (std::string_view rule = NonDeterministicRule(mnemonic); !rule.empty()) {
    return {policy == InstructionPolicy::kDeterministic ? Verdict::kRefused : Verdict::kWarning,
            rule};
  }
  if (mnemonic == ZYDIS_MNEMONIC_CPUID) return {Verdict::kWarning, kCpuid};
  return {};
}

}  // namespace zerocell::image

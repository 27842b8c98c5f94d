// The instruction policy: decodes one x86-64 instruction with Zydis and says whether it is allowed.
#ifndef ZEROCELL_IMAGE_INSTRUCTION_RULES_H_
#define ZEROCELL_IMAGE_INSTRUCTION_RULES_H_

#include <Zydis/Zydis.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "image/validator.h"
#include "sandbox/host/instruction_use.h"

namespace zerocell::image {

// One decoded instruction: what Zydis needs to decode its operands later, on demand (the sweep
// decodes operands only for the few instructions whose rule depends on them, and for reports).
struct DecodedInstruction {
  ZydisDecodedInstruction instruction;
  ZydisDecoderContext context;
};

// A 64-bit long-mode decoder and an Intel-syntax formatter. Immutable after construction, so its
// const methods may be called from several threads.
class X86Decoder {
 public:
  X86Decoder();

  // Decodes the instruction at the start of `code` (at most 15 bytes are read). False when the
  // bytes are not a valid x86-64 instruction (or it runs past the end of `code`).
  bool Decode(std::string_view code, DecodedInstruction& out) const;

  // All operands of `decoded`, hidden ones included, into `operands`. False on a Zydis error.
  bool DecodeOperands(const DecodedInstruction& decoded,
                      ZydisDecodedOperand (&operands)[ZYDIS_MAX_OPERAND_COUNT]) const;

  // Intel syntax, e.g. "int 0x80", "in al, dx", "jmp far [rax]"; relative targets resolved
  // against `vaddr`. Falls back to the bare mnemonic if the operands cannot be formatted.
  std::string Format(const DecodedInstruction& decoded, uint64_t vaddr) const;

 private:
  ZydisDecoder decoder_;
  ZydisFormatter formatter_;
};

// What a policy says about one instruction.
enum class Verdict {
  kAllowed,
  kWarning,  // allowed, but listed in the report (e.g. cpuid, or rdtsc under kStandard)
  kRefused,
};

struct RuleMatch {
  Verdict verdict = Verdict::kAllowed;
  std::string_view rule;  // static text naming the rule; empty when allowed without a warning
};

// Classifies `decoded` under `policy` from its Zydis mnemonic, category, attributes and, for MOV
// and POP only, its operands (decoded through `decoder`). Refused under both policies: int n
// (int3 excepted), int1, sysenter, far jmp/call/ret, iret, loads of segment registers (mov/pop
// to a segment register, lds/les/lfs/lgs/lss), wrfsbase/wrgsbase, port I/O (in, out, ins, outs),
// privileged instructions (Zydis's privilege attribute plus an explicit list: cli, sti,
// lgdt, lidt, lldt, ltr, invlpg, wrmsr, rdmsr, swapgs, sysret, sysexit, clts, wbinvd, invd, lmsw,
// mov to/from control and debug registers, VMX/SVM, rdpmc, monitor/mwait, ...), and the
// descriptor-table reads that UMIP blocks (sgdt, sidt, sldt, str, smsw). kDeterministic also
// refuses rdtsc, rdtscp, rdrand, rdseed, rdpid, rdpru, umonitor, umwait, tpause and xbegin;
// kStandard allows them with a warning. cpuid is
// allowed with a warning under both (host-dependent answers; every glibc program runs it). hlt is
// allowed: it faults in user mode and musl and glibc use it as their crash trap.
RuleMatch Classify(const X86Decoder& decoder, const DecodedInstruction& decoded,
                   InstructionPolicy policy);

// The sandbox::host::HostInstruction bit of `mnemonic` (rdtsc, rdrand, cpuid, ...), 0 for the rest.
uint32_t HostInstructionBit(ZydisMnemonic mnemonic);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_INSTRUCTION_RULES_H_

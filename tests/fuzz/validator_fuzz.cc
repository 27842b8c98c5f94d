// libFuzzer target: image admission (image::ValidateImage), ELF checks and the Zydis instruction
// sweep. The first byte picks how the rest is used, so that most inputs reach the sweep:
//   bit 0: the deterministic policy instead of the standard one
//   bits 1-2: 0 the rest is the whole file; 1 the rest is the code of an otherwise valid ET_EXEC
//             (one R+X segment); 2 the same as a static-pie; 3 code plus section headers whose
//             executable sections start at offsets taken from the input (sweep restart points)
#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "image/validator.h"
#include "tests/sandbox/elf/elf_builder.h"

namespace {

using zerocell::sandbox::elf::testing::ElfBuilder;
using zerocell::sandbox::elf::testing::kBase;

// `code` at file offset 0x1000 of a one-segment executable covering the whole file.
std::string ExecutableWith(std::string_view code, bool pie, bool sections) {
  ElfBuilder b;
  b.file_size = 0x1000 + code.size() + (sections ? 3 * sizeof(Elf64_Shdr) : 0);
  b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = b.file_size;
  b.blobs.clear();
  b.Put(0x1000, std::string(code));
  if (pie) b.MakePie();
  if (sections) {
    // Null section, then two executable PROGBITS sections whose offsets come from the code's
    // first bytes: untrusted section headers only add restart points.
    Elf64_Shdr sh[3] = {};
    for (int i = 1; i < 3; ++i) {
      uint16_t at = 0;
      if (code.size() >= static_cast<size_t>(2 * i)) std::memcpy(&at, code.data() + 2 * (i - 1), 2);
      sh[i].sh_type = SHT_PROGBITS;
      sh[i].sh_flags = SHF_ALLOC | SHF_EXECINSTR;
      sh[i].sh_offset = 0x1000 + (code.empty() ? 0 : at % code.size());
      sh[i].sh_addr = (pie ? 0 : kBase) + sh[i].sh_offset;
      sh[i].sh_size = code.size() - (sh[i].sh_offset - 0x1000);
    }
    const uint64_t shoff = 0x1000 + code.size();
    b.eh.e_shoff = shoff;
    b.eh.e_shnum = 3;
    b.eh.e_shentsize = sizeof(Elf64_Shdr);
    b.Put(shoff, std::string(reinterpret_cast<const char*>(sh), sizeof(sh)));
  }
  return b.Build();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  zerocell::image::ValidatorOptions options;
  options.policy = (mode & 1) != 0 ? zerocell::image::InstructionPolicy::kDeterministic
                                   : zerocell::image::InstructionPolicy::kStandard;
  std::string file;
  switch ((mode >> 1) & 3) {
    case 0:
      file = std::string(rest);
      break;
    case 1:
      file = ExecutableWith(rest, false, false);
      break;
    case 2:
      file = ExecutableWith(rest, true, false);
      break;
    default:
      file = ExecutableWith(rest, false, true);
      break;
  }
  const zerocell::image::Validation v = zerocell::image::ValidateImage(file, options);
  const auto& r = v.report;
  // The status agrees with the report, and the report's bounded lists stay bounded.
  if (v.status.ok() != r.accepted) abort();
  if (!v.status.ok() && !absl::IsInvalidArgument(v.status)) abort();
  if (r.rejections.size() > zerocell::image::kMaxReportEntries ||
      r.warnings.size() > zerocell::image::kMaxReportEntries ||
      r.undecodable.size() > zerocell::image::kMaxReportEntries) {
    abort();
  }
  if (r.rejected_instructions < static_cast<int64_t>(r.rejections.size())) abort();
  if (r.accepted && r.rejected_instructions != 0) abort();
  for (const auto& u : r.undecodable) {
    if (u.length <= 0 || u.file_offset > file.size()) abort();
  }
  return 0;
}

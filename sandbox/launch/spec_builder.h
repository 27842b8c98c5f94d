// Builds what a loader needs: the park spec (per image) and the go plan (per request).
#ifndef ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_
#define ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::sandbox::launch {

// Room for the loader's own mappings under RLIMIT_AS; the supervisor's accounting is exact.
inline constexpr uint64_t kLoaderAddressSlack = 16 << 20;
inline constexpr uid_t kUnprivilegedId = 65534;  // nobody/nogroup, used when the engine is root

// Guest stack size for a memory limit: an eighth of it, within [128 KiB, 8 MiB].
uint64_t StackBytesFor(int64_t memory_bytes);

// Admission decodes only [p_offset, p_offset + p_filesz) of an executable segment, but the
// segment's first and last file pages may hold other bytes too. Those pages are never mapped from
// the ELF bytes: the image memfd holds, after them, a cleaned copy of each (the segment's bytes,
// zeros elsewhere), and the loader maps that. Mapped from a sealed file, not patched, they hold
// the same bytes whatever the guest does (madvise(MADV_DONTNEED) makes the kernel read the file
// again). Per segment of a layout: the memfd offsets of its cleaned first and last page (0: not
// needed; a segment within one page has only `head`).
struct CleanPages {
  uint64_t head = 0, tail = 0;
};
// Where the cleaned pages go for an ELF of `file_size` bytes: from the page after its end, one
// page each, in segment order.
std::vector<CleanPages> PlanCleanPages(const elf::ElfLayout& layout, uint64_t file_size);
// The cleaned copy of the file page at `page_offset` for `seg` (4 KiB).
std::string CleanPage(std::string_view file, const elf::LoadSegment& seg, uint64_t page_offset);

// A dynamically linked program's interpreter: its layout (an ET_DYN, mapped at kInterpBase) and
// the cleaned pages of its own image memfd.
struct InterpreterLayout {
  const elf::ElfLayout* layout = nullptr;
  const std::vector<CleanPages>* clean = nullptr;
};

// OK when `interp` can be a program's interpreter: a self-contained PIE (no PT_INTERP of its
// own) spanning at most kInterpMaxSpan; INVALID_ARGUMENT otherwise.
absl::Status CheckInterpreter(const elf::ElfLayout& interp);

// LaunchSpec followed by the filter, ready for a sealed memfd: everything a loader needs to park
// (image mapped, filter installed), nothing from a request. INVALID_ARGUMENT on too many segments,
// or when `clean` (PlanCleanPages of the image) does not match the layout.
// `special`: the vDSO/vvar ranges a previous loader reported (zero when not known yet).
// `flags`: kSpec* bits (the host probe's decisions for this image).
// `interp`: for a program with an interpreter, its segments are mapped too (from kInterpFd) and
// the loader jumps to the interpreter's entry; INVALID_ARGUMENT when it is not a PIE that fits.
absl::StatusOr<std::string> BuildParkSpec(const elf::ElfLayout& layout,
                                          const std::vector<CleanPages>& clean,
                                          const std::string& filter_bpf, pid_t parent_pid,
                                          const SpecialRanges& special = {}, uint32_t flags = 0,
                                          InterpreterLayout interp = {});

// What releases a parked loader into one request's guest.
struct GoPlan {
  GoHeader header = {};
  std::string stack_image;  // copied to [kStackTop - size, kStackTop); header.initial_sp in it
  uint64_t stack_bytes = 0;
  uint64_t image_bytes = 0;  // page-rounded guest segments
};

// INVALID_ARGUMENT when the image and stack exceed the memory limit, or argv/env/auxv do not
// fit the guest stack for it. `interp`: the program's interpreter (AT_BASE, its segments count).
absl::StatusOr<GoPlan> BuildGoPlan(const elf::ElfLayout& layout, const Manifest& manifest,
                                   const elf::ElfLayout* interp = nullptr);

}  // namespace zerocell::sandbox::launch

#endif  // ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_

// Builds the launch spec for one run: segment layout, the guest's initial stack, rlimits, filter.
#ifndef ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_
#define ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::sandbox::launch {

inline constexpr uint64_t kMinStackBytes = 128 << 10;
inline constexpr uint64_t kMaxStackBytes = 8 << 20;
// Room for the loader's own mappings under RLIMIT_AS; the supervisor's accounting is exact.
inline constexpr uint64_t kLoaderAddressSlack = 16 << 20;
inline constexpr uid_t kUnprivilegedId = 65534;  // nobody/nogroup, used when the engine is root

// Guest stack size for a memory limit: an eighth of it, within [128 KiB, 8 MiB].
uint64_t StackBytesFor(int64_t memory_bytes);

struct BuiltSpec {
  std::string bytes;  // LaunchSpec followed by its payload, ready for a sealed memfd
  uint64_t stack_bytes = 0;
  uint64_t image_bytes = 0;  // page-rounded guest segments
};

// INVALID_ARGUMENT when argv/env/auxv do not fit the guest stack for this memory limit.
// `special`: the vDSO/vvar ranges a previous loader reported (zero when not known yet).
absl::StatusOr<BuiltSpec> BuildLaunchSpec(const elf::ElfLayout& layout, const Manifest& manifest,
                                          const std::string& filter_bpf, pid_t parent_pid,
                                          const SpecialRanges& special = {});

}  // namespace zerocell::sandbox::launch

#endif  // ZEROCELL_SANDBOX_LAUNCH_SPEC_BUILDER_H_

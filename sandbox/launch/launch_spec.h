// Wire format between the engine and zerocell-loader: fixed fds, the launch spec, the handshake.
// Plain data only: the loader is freestanding and includes this header without a C++ library.
#ifndef ZEROCELL_SANDBOX_LAUNCH_LAUNCH_SPEC_H_
#define ZEROCELL_SANDBOX_LAUNCH_LAUNCH_SPEC_H_

#include <stdint.h>

namespace zerocell::sandbox::launch {

// Descriptors the loader finds after exec; it closes all of them before the guest runs.
inline constexpr int kControlFd = 3;  // SOCK_SEQPACKET to the engine: handshake + listener
inline constexpr int kImageFd = 4;    // sealed memfd with the ELF bytes
inline constexpr int kSpecFd = 5;     // sealed memfd with a LaunchSpec and its payload
inline constexpr int kInterpFd = 6;   // dynamically linked programs: the interpreter's image
// The guest's RLIMIT_NOFILE: the end of the range where tree files' memfds are injected
// (supervisor/fd_table.h); the guest holds no other real descriptor.
inline constexpr uint64_t kGuestFdLimit = 2048;

inline constexpr uint32_t kSpecMagic = 0x314c435a;   // "ZCL1"
inline constexpr uint32_t kReadyMagic = 0x3152435a;  // "ZCR1"
inline constexpr int kMaxSegments = 16;

// Fixed guest identity: the ids the auxv carries and the supervisor's emulated calls answer.
inline constexpr int64_t kGuestPid = 2;
inline constexpr int64_t kGuestPpid = 1;
inline constexpr int64_t kGuestUid = 1000;
inline constexpr int64_t kGuestGid = 1000;

// Fixed guest layout: identical on every run and host, so addresses never leak entropy.
inline constexpr uint64_t kPieBase = 0x400000;  // static-pie load bias
// A dynamically linked program's interpreter (ld.so) load bias: far above any program's
// segments and heap, far below the loader and the guest stack.
inline constexpr uint64_t kInterpBase = 0x600000000000;
inline constexpr uint64_t kInterpMaxSpan = uint64_t{1} << 30;
inline constexpr uint64_t kStackTop = 0x7ff000000000;  // guest stack ends here
inline constexpr uint64_t kPageSize = 4096;
// Guest stack sizes (an eighth of the memory limit, clamped). A parked loader maps the largest
// stack [kStackTop - kMaxStackBytes, kStackTop) and unmaps what the request's limit does not give.
inline constexpr uint64_t kMinStackBytes = 128 << 10;
inline constexpr uint64_t kMaxStackBytes = 8 << 20;
inline constexpr uint64_t kParkedStackLow = kStackTop - kMaxStackBytes;
// zerocell-loader's link address (-Ttext-segment in sandbox/CMakeLists.txt): its own mappings
// run from here to its program break.
inline constexpr uint64_t kLoaderBase = 0x6f0000000000;

inline constexpr uint32_t kSegmentFromImage = 0;        // kImageFd
inline constexpr uint32_t kSegmentFromInterpreter = 1;  // kInterpFd

struct SpecSegment {
  uint64_t addr;  // absolute start (bias applied), not page aligned
  uint64_t memsz;
  uint64_t offset;  // file offset of addr; offset % page == addr % page
  uint64_t filesz;
  uint32_t prot;    // PROT_* bits, never PROT_WRITE together with PROT_EXEC
  uint32_t source;  // kSegmentFrom*: which sealed memfd the offsets refer to
  // Executable segments: image memfd offsets of the cleaned copies of its first and last page
  // (spec_builder.h, CleanPages), mapped instead of the file's own; 0: the page holds nothing
  // but the segment's bytes (or the segment is not executable).
  uint64_t clean_head, clean_tail;
};

struct SpecRlimit {
  uint32_t resource;
  uint32_t pad;
  uint64_t soft, hard;
};

// The vDSO and vvar mappings, learned from the first loader and reused: with address
// randomization off they sit at the same addresses in every loader process.
inline constexpr int kMaxSpecialRanges = 4;
struct SpecialRanges {
  uint64_t vdso;  // AT_SYSINFO_EHDR these ranges were seen with; 0 = unknown
  uint32_t count;
  uint32_t pad;
  uint64_t ranges[kMaxSpecialRanges][2];  // [start, end)
};

inline constexpr uint32_t kSpecDropPrivileges = 1u << 0;  // root: switch to drop_to_uid/gid
inline constexpr uint32_t kSpecFaultCpuid = 1u << 1;      // ARCH_SET_CPUID(0): cpuid faults

// The top of a 4-level (47-bit) user address space: where the exec stack ends at the latest.
inline constexpr uint64_t kUserSpaceTop = 0x7ffffffff000;

// What the loader needs to park: everything that depends on the image, nothing on the request.
struct LaunchSpec {
  uint32_t magic;
  uint32_t segment_count;
  SpecSegment segments[kMaxSegments];
  uint64_t entry;          // absolute
  uint64_t filter_offset;  // payload offset of struct sock_filter[filter_len]
  uint64_t filter_len;
  uint32_t parent_pid;  // for the parent-death race check
  uint32_t rlimit_count;
  SpecRlimit rlimits[8];  // request-independent ones; RLIMIT_AS/CPU are set at release (prlimit)
  uint32_t drop_to_uid;   // with kSpecDropPrivileges: uid/gid to switch to
  uint32_t drop_to_gid;
  uint32_t flags;  // kSpec* bits: what the host probe found this host can do
  uint32_t pad;
  SpecialRanges special;  // known vDSO/vvar ranges (verified by the loader before use)
  // Payload (the filter) follows the struct in the same memfd.
};

// The release of a parked loader. The loader parks in read(kControlFd, &go, sizeof(GoHeader)),
// a notified call; the engine writes the request's stack image to the top of the parked stack
// and this header to the read's buffer, then answers the read with sizeof(GoHeader). The loader
// then sets each of `rlimits` with prlimit64(0, resource, &rlimits[i].soft, NULL), two notified
// calls the engine lets through (CONTINUE) after checking they are exactly that, and jumps.
inline constexpr uint32_t kGoMagic = 0x3147435a;  // "ZCG1"
inline constexpr int kGoRlimits = 2;              // RLIMIT_AS, RLIMIT_CPU
struct GoHeader {
  uint32_t magic;
  uint32_t pad;
  uint64_t stack_low;   // guest stack is [stack_low, kStackTop); the rest of the parked one goes
  uint64_t initial_sp;  // rsp at entry; points at argc
  SpecRlimit rlimits[kGoRlimits];
  int64_t realtime_base_ns;  // the clock page's (sandbox/vdso/clock_page.h); its ns starts at 0
};

// Which loader step failed; sent in the handshake so the engine can name it.
enum class LoaderStep : uint32_t {
  kNone = 0,
  kSignals,
  kPrctl,
  kRlimits,
  kReadSpec,
  kMapSegments,
  kMapStack,
  kDropPrivileges,
  kUnmapVdso,
  kUnmapExecStack,
  kDropCapabilities,
  kCloseFds,
  kInstallFilter,
  kHandoff,
  kMapVdso,
};

inline constexpr uint32_t kReadyVdsoRemoved = 1u << 1;

// Loader -> engine, over kControlFd. On success it carries the seccomp listener (SCM_RIGHTS).
struct Ready {
  uint32_t magic;
  uint32_t step;          // LoaderStep that failed, kNone on success
  int32_t error;          // errno of the failed step, 0 on success
  uint32_t flags;         // kReady* bits
  uint64_t brk;           // the program break the guest starts with
  SpecialRanges special;  // what the loader found and unmapped, for the engine to cache
};

}  // namespace zerocell::sandbox::launch

#endif  // ZEROCELL_SANDBOX_LAUNCH_LAUNCH_SPEC_H_

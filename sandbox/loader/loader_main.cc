// zerocell-loader: turns a fresh process into a sealed guest (limits, mappings, stack, filter).
//
// Freestanding (no libc): every step is a raw syscall, nothing allocates, and the steps run in the
// order docs/architecture.md gives. Any failure is reported over kControlFd and the loader exits.
#include <asm/unistd.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/launch/launch_spec.h"
#include "sandbox/loader/raw_syscall.h"
#include "sandbox/loader/tsc_trap.h"
#include "sandbox/vdso/clock_page.h"

// The guest's vDSO image (sandbox/vdso, built by CMake), embedded by loader_vdso.S.
extern "C" const char zerocell_vdso_start[], zerocell_vdso_end[];
extern "C" void* memcpy(void* dst, const void* src, size_t n);  // defined below

namespace {

using namespace zerocell::sandbox::launch;
using namespace zerocell::sandbox::loader;
namespace vdso = ::zerocell::sandbox::vdso;

constexpr int kProtRead = 1, kProtWrite = 2, kProtExec = 4;
constexpr int kMapShared = 0x01, kMapPrivate = 0x02, kMapFixed = 0x10, kMapAnonymous = 0x20;
constexpr int kMapFixedNoreplace = 0x100000;
constexpr int kSigKill = 9;
constexpr int kAtSysinfoEhdr = 33;
constexpr int kAtExecfn = 31;
constexpr long kArchSetCpuid = 0x1012;

// exit, not exit_group: the loader has one thread, and after the filter exit_group is notified
// (nobody answers it while parked) while exit runs in the kernel.
[[noreturn]] void Exit(int code) {
  for (;;) Sys(__NR_exit, code);
}

// Reports the failed step to the engine and exits; the engine turns it into a clear error.
[[noreturn]] void Fail(LoaderStep step, long error) {
  Ready ready = {kReadyMagic, static_cast<uint32_t>(step), static_cast<int32_t>(-error), 0, 0, {}};
  Sys(__NR_write, kControlFd, reinterpret_cast<long>(&ready), sizeof(ready));
  Exit(127);
}

void Check(long r, LoaderStep step) {
  if (Failed(r)) Fail(step, r);
}

uint64_t PageDown(uint64_t v) { return v & ~(kPageSize - 1); }
uint64_t PageUp(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }

// --- steps -------------------------------------------------------------------------------------

// Default dispositions and an empty mask: the guest must not inherit the server's signal state.
// SIGSEGV's handler is the loader's: it answers a trapped rdtsc (sandbox/loader/tsc_trap.h).
void ResetSignals() {
  KernelSigaction dfl = {0, 0, 0, 0};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == 9 || sig == 19) continue;  // SIGKILL, SIGSTOP cannot be changed
    Sys(__NR_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
  }
  Check(InstallTscTrap(), LoaderStep::kSignals);
  uint64_t empty = 0;
  Check(Sys(__NR_rt_sigprocmask, 2 /*SIG_SETMASK*/, reinterpret_cast<long>(&empty), 0, 8),
        LoaderStep::kSignals);
}

void ApplyPrctls(const LaunchSpec& spec) {
  // No setuid/file-capability gains, ever; also required to install a filter unprivileged.
  Check(Sys(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), LoaderStep::kPrctl);
  // The sandbox must not outlive the engine thread that supervises it.
  Check(Sys(__NR_prctl, PR_SET_PDEATHSIG, kSigKill, 0, 0, 0), LoaderStep::kPrctl);
  if (static_cast<uint32_t>(Sys(__NR_getppid)) != spec.parent_pid)
    Exit(127);  // parent already gone
  // rdtsc would read the host clock: make it fault, and the SIGSEGV handler answers it from the
  // virtual clock. Some hypervisors accept this and do not enforce it; the engine's host probe
  // knows, and runs report rdtsc then.
  Sys(__NR_prctl, PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0);
  // cpuid faults too where the probe found CPUID faulting and the image holds no cpuid: a cpuid
  // hidden in other instructions' bytes cannot read the host CPU then.
  if (spec.flags & kSpecFaultCpuid) {
    Check(Sys(__NR_arch_prctl, kArchSetCpuid, 0), LoaderStep::kPrctl);
  }
}

void ApplyRlimits(const LaunchSpec& spec) {
  for (uint32_t i = 0; i < spec.rlimit_count && i < 8; ++i) {
    uint64_t limit[2] = {spec.rlimits[i].soft, spec.rlimits[i].hard};
    Check(Sys(__NR_prlimit64, 0, spec.rlimits[i].resource, reinterpret_cast<long>(limit), 0),
          LoaderStep::kRlimits);
  }
}

const LaunchSpec* MapSpec(uint64_t* out_len) {
  uint64_t len = static_cast<uint64_t>(Sys(__NR_lseek, kSpecFd, 0, 2 /*SEEK_END*/));
  if (Failed(static_cast<long>(len)) || len < sizeof(LaunchSpec)) Fail(LoaderStep::kReadSpec, -22);
  long addr = Sys(__NR_mmap, 0, len, kProtRead, kMapPrivate, kSpecFd, 0);
  Check(addr, LoaderStep::kReadSpec);
  auto* spec = reinterpret_cast<const LaunchSpec*>(addr);
  if (spec->magic != kSpecMagic || spec->segment_count > kMaxSegments ||
      spec->filter_offset + spec->filter_len * sizeof(sock_filter) > len) {
    Fail(LoaderStep::kReadSpec, -22);
  }
  *out_len = len;
  return spec;
}

void Zero(uint64_t from, uint64_t to) {
  for (auto* p = reinterpret_cast<volatile char*>(from); p < reinterpret_cast<char*>(to); ++p)
    *p = 0;
}

// Maps one PT_LOAD privately from the sealed image; what lies past its file pages is anonymous.
// Admission decodes only [addr, addr + filesz) of an executable segment, and every page of one
// must only ever hold those bytes and zeros: its pages are never patched, since the guest's
// madvise(MADV_DONTNEED) drops a patched private page and the kernel reads the file page again.
// Instead a first or last page that the file shares with other bytes is mapped from its cleaned
// copy after the ELF bytes (clean_head, clean_tail: the segment's bytes, zeros elsewhere); a
// missing one fails the step. A data segment's last file page gets its bss tail zeroed in a
// private copy, as the kernel's ELF loader does (what a drop brings back there is not
// executable), mapped writable without exec first: never writable and executable at once (the
// engine refused segments that ask for both).
void MapSegment(const SpecSegment& s) {
  const int fd = s.source == kSegmentFromInterpreter ? kInterpFd : kImageFd;
  const uint64_t start = PageDown(s.addr);
  const uint64_t file_end = s.addr + s.filesz;
  const uint64_t mem_end = s.addr + s.memsz;
  const uint64_t file_map_end = s.filesz ? PageUp(file_end) : start;
  const bool exec = (static_cast<int>(s.prot) & kProtExec) != 0;
  if (s.filesz && exec) {
    const uint64_t last = PageDown(file_end - 1);
    const bool ragged_end = file_end % kPageSize != 0;
    const bool head = start < s.addr || (start == last && ragged_end);
    const bool tail = last != start && ragged_end;
    if ((head && s.clean_head == 0) || (tail && s.clean_tail == 0)) {
      Fail(LoaderStep::kMapSegments, -22 /*EINVAL*/);
    }
    const uint64_t whole_lo = head ? start + kPageSize : start;
    const uint64_t whole_hi = tail ? last : file_map_end;
    if (whole_hi > whole_lo) {
      Check(Sys(__NR_mmap, whole_lo, whole_hi - whole_lo, s.prot, kMapPrivate | kMapFixed, fd,
                PageDown(s.offset) + (whole_lo - start)),
            LoaderStep::kMapSegments);
    }
    if (head) {
      Check(Sys(__NR_mmap, start, kPageSize, s.prot, kMapPrivate | kMapFixed, fd, s.clean_head),
            LoaderStep::kMapSegments);
    }
    if (tail) {
      Check(Sys(__NR_mmap, last, kPageSize, s.prot, kMapPrivate | kMapFixed, fd, s.clean_tail),
            LoaderStep::kMapSegments);
    }
  } else if (s.filesz) {
    // With a bss, the rest of the last file page is zeroed to its end, as the kernel's ELF
    // loader does: ld.so's early allocator hands out the memory after its bss as zeroed memory.
    const uint64_t tail_end = file_map_end;
    const bool zero_tail = mem_end > file_end && tail_end > file_end;
    int prot = static_cast<int>(s.prot);
    if (zero_tail) prot |= kProtWrite;
    Check(Sys(__NR_mmap, start, file_map_end - start, prot, kMapPrivate | kMapFixed, fd,
              PageDown(s.offset)),
          LoaderStep::kMapSegments);
    if (zero_tail) {
      Zero(file_end, tail_end);
      Check(Sys(__NR_mprotect, start, file_map_end - start, s.prot), LoaderStep::kMapSegments);
    }
  }
  const uint64_t anon_end = PageUp(mem_end);
  if (anon_end > file_map_end) {
    Check(Sys(__NR_mmap, file_map_end, anon_end - file_map_end, s.prot,
              kMapPrivate | kMapFixed | kMapAnonymous, -1, 0),
          LoaderStep::kMapSegments);
  }
}

// The largest guest stack, untouched (it costs no memory until written): the request's memory
// limit decides at release how much of it stays.
void MapParkedStack() {
  Check(Sys(__NR_mmap, kParkedStackLow, kStackTop - kParkedStackLow, kProtRead | kProtWrite,
            kMapPrivate | kMapFixed | kMapAnonymous, -1, 0),
        LoaderStep::kMapStack);
}

// The guest's own vDSO at vdso::kVdsoAddr (its clock calls answered in the guest, from the
// virtual clock) and the clock page below it. Before the filter: mmap and mprotect run in the
// kernel here.
void MapVdso() {
  const uint64_t len = static_cast<uint64_t>(zerocell_vdso_end - zerocell_vdso_start);
  if (len == 0 || len > vdso::kVdsoMaxBytes) Fail(LoaderStep::kMapVdso, -22 /*EINVAL*/);
  // NOREPLACE, and the address checked: an old kernel takes it as a hint only.
  const long page = Sys(__NR_mmap, vdso::kClockPageAddr, kPageSize, kProtRead | kProtWrite,
                        kMapShared | kMapAnonymous | kMapFixedNoreplace, -1, 0);
  Check(page, LoaderStep::kMapVdso);
  if (static_cast<uint64_t>(page) != vdso::kClockPageAddr) Fail(LoaderStep::kMapVdso, -17);
  // The whole range, so that nothing else can be placed in it: the image, then PROT_NONE.
  const long image = Sys(__NR_mmap, vdso::kVdsoAddr, vdso::kVdsoMaxBytes, kProtRead | kProtWrite,
                         kMapPrivate | kMapAnonymous | kMapFixedNoreplace, -1, 0);
  Check(image, LoaderStep::kMapVdso);
  if (static_cast<uint64_t>(image) != vdso::kVdsoAddr) Fail(LoaderStep::kMapVdso, -17);
  memcpy(reinterpret_cast<void*>(vdso::kVdsoAddr), zerocell_vdso_start, len);
  // Never writable and executable at once, like every code mapping of the guest.
  Check(Sys(__NR_mprotect, vdso::kVdsoAddr, PageUp(len), kProtRead | kProtExec),
        LoaderStep::kMapVdso);
  if (PageUp(len) < vdso::kVdsoMaxBytes) {
    Check(Sys(__NR_mprotect, vdso::kVdsoAddr + PageUp(len), vdso::kVdsoMaxBytes - PageUp(len), 0),
          LoaderStep::kMapVdso);
  }
}

// Parks in a notified read until the engine releases the loader into a request: it has written
// the stack image below kStackTop and `go` into this read's buffer. Returns the guest's rsp.
// A read that ends any other way (the listener closed: the engine is gone) ends the loader.
uint64_t Park() {
  GoHeader go = {};
  const long n = Sys(__NR_read, kControlFd, reinterpret_cast<long>(&go), sizeof(go));
  if (n != static_cast<long>(sizeof(go)) || go.magic != kGoMagic) Exit(127);
  // The stack the request's limit gives: at least the smallest one, never above the top.
  if (go.stack_low < kParkedStackLow || go.stack_low > kStackTop - kMinStackBytes ||
      go.stack_low % kPageSize != 0 || go.initial_sp < go.stack_low || go.initial_sp >= kStackTop) {
    Exit(127);
  }
  // The guest must not find more stack than a cold start would have mapped.
  if (go.stack_low > kParkedStackLow &&
      Failed(Sys(__NR_munmap, kParkedStackLow, go.stack_low - kParkedStackLow))) {
    Exit(127);
  }
  // The request's backstop limits. Notified (the filter is in force): the engine lets exactly
  // these calls through, so a guest can never set a limit itself.
  for (int i = 0; i < kGoRlimits; ++i) {
    if (Failed(Sys(__NR_prlimit64, 0, go.rlimits[i].resource,
                   reinterpret_cast<long>(&go.rlimits[i].soft), 0))) {
      Exit(127);
    }
  }
  // The request's clock: its start, and no time passed yet.
  auto* clock = reinterpret_cast<volatile vdso::ClockPage*>(vdso::kClockPageAddr);
  clock->realtime_base_ns = go.realtime_base_ns;
  clock->ns = 0;
  return go.initial_sp;
}

// Root never runs guest code where the host lets it switch: an unprivileged uid/gid with no
// supplementary groups. The engine asks only when its probe showed the supervisor can still reach
// a sandbox of another uid (CAP_SYS_PTRACE); otherwise the sandbox keeps the server's uid.
void DropPrivileges(const LaunchSpec& spec) {
  if (!(spec.flags & kSpecDropPrivileges) || Sys(__NR_geteuid) != 0) return;
  Check(Sys(__NR_setgroups, 0, 0), LoaderStep::kDropPrivileges);
  Check(Sys(__NR_setresgid, spec.drop_to_gid, spec.drop_to_gid, spec.drop_to_gid),
        LoaderStep::kDropPrivileges);
  Check(Sys(__NR_setresuid, spec.drop_to_uid, spec.drop_to_uid, spec.drop_to_uid),
        LoaderStep::kDropPrivileges);
}

// No capability reaches guest code, whatever the server had: ambient ones would survive the
// exec of the loader for a non-root server, and a root server that could not switch uid keeps
// its whole set. Lowering capabilities is always allowed. No exec follows, so the bounding set
// does not matter.
void DropCapabilities() {
  Check(Sys(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0),
        LoaderStep::kDropCapabilities);
  struct {
    uint32_t version;
    int32_t pid;
  } header = {0x20080522 /*_LINUX_CAPABILITY_VERSION_3*/, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } none[2] = {};
  Check(Sys(__NR_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(none)),
        LoaderStep::kDropCapabilities);
}

uint64_t ParseHex(const char*& p) {
  uint64_t v = 0;
  for (;; ++p) {
    char c = *p;
    if (c >= '0' && c <= '9')
      v = v * 16 + (c - '0');
    else if (c >= 'a' && c <= 'f')
      v = v * 16 + (c - 'a' + 10);
    else
      return v;
  }
}

bool Contains(const char* begin, const char* end, const char* needle) {
  for (const char* p = begin; p < end; ++p) {
    const char* a = p;
    const char* b = needle;
    while (*b && a < end && *a == *b) ++a, ++b;
    if (!*b) return true;
  }
  return false;
}

uint64_t AuxValue(const uint64_t* initial_stack, uint64_t type) {
  const uint64_t argc = initial_stack[0];
  const uint64_t* p = initial_stack + 1 + argc + 1;  // envp
  while (*p) ++p;
  for (++p; p[0] != 0; p += 2) {
    if (p[0] == type) return p[1];
  }
  return 0;
}

// Unmaps the engine's cached ranges when they belong to this very vDSO placement.
uint32_t UnmapKnownRanges(const SpecialRanges& known, uint64_t vdso, SpecialRanges* found) {
  if (known.vdso == 0 || known.vdso != vdso || known.count == 0 ||
      known.count > kMaxSpecialRanges) {
    return 0;
  }
  bool covers_vdso = false;
  for (uint32_t i = 0; i < known.count; ++i) {
    if (known.ranges[i][0] <= vdso && vdso < known.ranges[i][1]) covers_vdso = true;
  }
  if (!covers_vdso) return 0;
  for (uint32_t i = 0; i < known.count; ++i) {
    if (Failed(Sys(__NR_munmap, known.ranges[i][0], known.ranges[i][1] - known.ranges[i][0]))) {
      return 0;
    }
  }
  *found = known;
  return kReadyVdsoRemoved;
}

// The vDSO and vvar pages would let the guest read the host clock without a syscall.
uint32_t UnmapVdso(const SpecialRanges& known, uint64_t vdso, char* buf, uint64_t buf_len,
                   SpecialRanges* found) {
  if (uint32_t flags = UnmapKnownRanges(known, vdso, found)) return flags;
  long fd = Sys(__NR_open, reinterpret_cast<long>("/proc/self/maps"), 0 /*O_RDONLY*/, 0);
  if (Failed(fd)) return 0;
  uint64_t len = 0;
  for (;;) {
    long n = Sys(__NR_read, fd, reinterpret_cast<long>(buf + len), buf_len - 1 - len);
    if (n <= 0) break;
    len += static_cast<uint64_t>(n);
    if (len >= buf_len - 1) break;
  }
  Sys(__NR_close, fd);
  bool all = true, any = false;
  for (const char* line = buf; line < buf + len;) {
    const char* eol = line;
    while (eol < buf + len && *eol != '\n') ++eol;
    if (Contains(line, eol, "[vdso]") || Contains(line, eol, "[vvar")) {
      const char* p = line;
      uint64_t lo = ParseHex(p);
      ++p;
      uint64_t hi = ParseHex(p);
      any = true;
      if (Failed(Sys(__NR_munmap, lo, hi - lo))) all = false;
      if (found->count < kMaxSpecialRanges) {
        found->ranges[found->count][0] = lo;
        found->ranges[found->count][1] = hi;
        ++found->count;
      }
    }
    line = eol + 1;
  }
  Zero(reinterpret_cast<uint64_t>(buf), reinterpret_cast<uint64_t>(buf) + len);  // host paths
  if (!(any && all)) {
    found->count = 0;
    return 0;
  }
  found->vdso = vdso;
  return kReadyVdsoRemoved;
}

// The exec stack holds the kernel's AT_RANDOM bytes, the loader's host path (AT_EXECFN) and the
// server's uid (AT_UID): none of it may reach the guest. Its range, computed before the filter:
// it ends at the page after the AT_EXECFN string (the kernel puts that string at the very top),
// and starts at most 128 KiB plus the argument pages below the initial stack pointer (the
// kernel's initial stack expansion); below that lies the stack guard gap, which holds nothing.
struct Range {
  uint64_t lo, hi;
};
Range ExecStackRange(const uint64_t* initial_stack) {
  const char* execfn = reinterpret_cast<const char*>(AuxValue(initial_stack, kAtExecfn));
  if (execfn == nullptr) Fail(LoaderStep::kUnmapExecStack, -22);
  const char* end = execfn;
  while (*end) ++end;
  const uint64_t hi = PageUp(reinterpret_cast<uint64_t>(end) + 1);
  const uint64_t lo = PageDown(reinterpret_cast<uint64_t>(initial_stack)) - (256 << 10);
  return {lo, hi};
}

// Runs after the filter is installed (munmap runs in the kernel) and the spec is unmapped (the
// kernel may have placed it up there). Everything above the guest stack goes, which takes the
// exec stack with it; that is refused where a sealed vDSO lies there, so the exec stack's own
// range is unmapped as well. False when the exec stack could not be removed.
bool UnmapExecStack(Range exec_stack) {
  Sys(__NR_munmap, kStackTop, kUserSpaceTop - kStackTop);
  return !Failed(Sys(__NR_munmap, exec_stack.lo, exec_stack.hi - exec_stack.lo));
}

// Sends the handshake and the seccomp listener to the engine. The filter allows exactly this
// sendmsg (fd kControlFd) and the close_range that follows; nothing else reaches the kernel.
void Handoff(int listener, uint32_t flags, uint64_t brk, const SpecialRanges& special) {
  Ready ready = {kReadyMagic, 0, 0, flags, brk, special};
  struct {
    uint64_t iov_base, iov_len;
  } iov = {reinterpret_cast<uint64_t>(&ready), sizeof(ready)};
  union {
    char buf[24];  // CMSG_SPACE(sizeof(int))
    uint64_t align;
  } control = {};
  struct {
    uint64_t len;
    int32_t level, type;
    int32_t fd;
  }* cmsg = reinterpret_cast<decltype(cmsg)>(control.buf);
  cmsg->len = 20;   // CMSG_LEN(sizeof(int))
  cmsg->level = 1;  // SOL_SOCKET
  cmsg->type = 1;   // SCM_RIGHTS
  cmsg->fd = listener;
  struct {
    uint64_t name;
    uint32_t namelen, pad0;
    uint64_t iov, iovlen, control, controllen;
    int32_t flags, pad1;
  } msg = {0,
           0,
           0,
           reinterpret_cast<uint64_t>(&iov),
           1,
           reinterpret_cast<uint64_t>(control.buf),
           sizeof(control.buf),
           0,
           0};
  if (Failed(Sys(__NR_sendmsg, kControlFd, reinterpret_cast<long>(&msg), 0))) Exit(127);
}

}  // namespace

extern "C" {

void* memset(void* dst, int c, size_t n) {
  auto* d = static_cast<volatile unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<unsigned char>(c);
  return dst;
}
void* memcpy(void* dst, const void* src, size_t n) {
  auto* d = static_cast<volatile unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i < n; ++i) d[i] = s[i];
  return dst;
}

[[noreturn]] void enter_guest(uint64_t entry, uint64_t sp);

// Runs on the loader's own stack (loader_start.S); `initial_stack` is the exec stack.
[[noreturn]] void loader_main(uint64_t* initial_stack) {
  ResetSignals();
  uint64_t spec_len = 0;
  const LaunchSpec* spec = MapSpec(&spec_len);
  DropPrivileges(*spec);  // first: a credential change would clear the parent-death signal
  DropCapabilities();
  ApplyPrctls(*spec);
  ApplyRlimits(*spec);
  const char* payload = reinterpret_cast<const char*>(spec);
  for (uint32_t i = 0; i < spec->segment_count; ++i) MapSegment(spec->segments[i]);
  MapParkedStack();
  MapVdso();
  static char maps_buf[16384];
  SpecialRanges special = {};
  uint32_t flags = UnmapVdso(spec->special, AuxValue(initial_stack, kAtSysinfoEhdr), maps_buf,
                             sizeof(maps_buf), &special);
  const Range exec_stack = ExecStackRange(initial_stack);

  // Close everything but the control socket: the guest inherits no descriptor at all.
  Check(Sys(__NR_close_range, 0, kControlFd - 1, 0), LoaderStep::kCloseFds);
  Check(Sys(__NR_close_range, kControlFd + 1, ~0u, 0), LoaderStep::kCloseFds);

  sock_fprog prog = {static_cast<unsigned short>(spec->filter_len),
                     const_cast<sock_filter*>(
                         reinterpret_cast<const sock_filter*>(payload + spec->filter_offset))};
  const uint64_t entry = spec->entry;
  const uint64_t brk = static_cast<uint64_t>(Sys(__NR_brk, 0));
  long listener = Sys(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                      reinterpret_cast<long>(&prog));
  Check(listener, LoaderStep::kInstallFilter);
  // From here on the filter is in force: only munmap, the handoff sendmsg and close_range pass;
  // the park read is notified to the engine, which answers it with the request.
  Sys(__NR_munmap, reinterpret_cast<long>(spec), spec_len);
  if (!UnmapExecStack(exec_stack)) Exit(127);
  Handoff(static_cast<int>(listener), flags, brk, special);
  Sys(__NR_close_range, 0, ~0u, 0);
  const uint64_t sp = Park();
  enter_guest(entry, sp);
}

}  // extern "C"

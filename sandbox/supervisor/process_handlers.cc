// Emulated process calls: virtual clock, seeded random, fixed identity, memory, limits, signals.
#include <linux/prctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "sandbox/launch/launch_spec.h"
#include "sandbox/supervisor/fs_calls.h"
#include "sandbox/supervisor/handlers.h"
#include "sandbox/supervisor/memory_accounting.h"
#include "sandbox/supervisor/memory_digest.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/vdso/clock_page.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr int64_t kNanos = 1000000000;
// getrandom returns at most this much a call, as the kernel may for any request above 256 bytes:
// the stream is hashed for each call, and a call must stay short (a deadline or a cancel waits
// for it) and cheap (its CPU is the guest's).
constexpr uint64_t kMaxRandomPerCall = 1 << 20;

Reply FromWrite(int err, int64_t value = 0) {
  return err ? Reply::Error(err) : Reply::Value(value);
}

// --- time ---------------------------------------------------------------------------------------

// Nanoseconds on `clock` at the current virtual instant; -1 for clocks we do not offer.
int64_t ClockNow(GuestState& g, int64_t clock) {
  const int64_t t = g.TickClock();
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_TAI:
      // Saturates with the virtual clock (the base is the manifest's, the offset the guest's).
      return g.realtime_base_ns() > 0 && t > INT64_MAX - g.realtime_base_ns()
                 ? INT64_MAX
                 : g.realtime_base_ns() + t;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return t;
    default:
      return -1;
  }
}

timespec ToTimespec(int64_t ns) { return {ns / kNanos, ns % kNanos}; }

Reply ClockGettime(GuestState& g, const Call& c) {
  const int64_t ns = ClockNow(g, static_cast<int32_t>(c.args[0]));
  if (ns < 0) return Reply::Error(EINVAL);
  return FromWrite(g.memory().WriteValue(c.args[1], ToTimespec(ns)));
}

Reply ClockGetres(GuestState& g, const Call& c) {
  if (c.args[1] == 0) return Reply::Value(0);
  return FromWrite(g.memory().WriteValue(c.args[1], timespec{0, 1000}));
}

Reply Gettimeofday(GuestState& g, const Call& c) {
  const int64_t ns = ClockNow(g, CLOCK_REALTIME);
  if (c.args[0] != 0) {
    timeval tv = {ns / kNanos, (ns % kNanos) / 1000};
    if (int err = g.memory().WriteValue(c.args[0], tv)) return Reply::Error(err);
  }
  if (c.args[1] != 0) {
    struct timezone tz = {0, 0};
    if (int err = g.memory().WriteValue(c.args[1], tz)) return Reply::Error(err);
  }
  return Reply::Value(0);
}

Reply Time(GuestState& g, const Call& c) {
  const int64_t seconds = ClockNow(g, CLOCK_REALTIME) / kNanos;
  if (c.args[0] != 0) {
    if (int err = g.memory().WriteValue(c.args[0], seconds)) return Reply::Error(err);
  }
  return Reply::Value(seconds);
}

int ReadDuration(GuestState& g, uint64_t addr, int64_t* ns) {
  timespec ts;
  if (int err = g.memory().ReadValue(addr, &ts)) return err;
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= kNanos) return EINVAL;
  if (ts.tv_sec > (INT64_MAX / kNanos) - 1) return EINVAL;
  *ns = ts.tv_sec * kNanos + ts.tv_nsec;
  return 0;
}

// Sleeping advances the virtual clock by the requested time and returns at once.
Reply Nanosleep(GuestState& g, const Call& c) {
  int64_t ns = 0;
  if (int err = ReadDuration(g, c.args[0], &ns)) return Reply::Error(err);
  g.AdvanceClock(ns);
  return Reply::Value(0);
}

Reply ClockNanosleep(GuestState& g, const Call& c) {
  const int64_t clock = static_cast<int32_t>(c.args[0]);
  int64_t ns = 0;
  if (int err = ReadDuration(g, c.args[2], &ns)) return Reply::Error(err);
  if (c.args[1] & TIMER_ABSTIME) {
    const int64_t now = ClockNow(g, clock);
    if (now < 0) return Reply::Error(EINVAL);
    if (ns > now) g.AdvanceClock(ns - now);
  } else {
    if (ClockNow(g, clock) < 0) return Reply::Error(EINVAL);
    g.AdvanceClock(ns);
  }
  return Reply::Value(0);
}

Reply Times(GuestState& g, const Call& c) {
  if (c.args[0] != 0) {
    struct tms t = {};
    if (int err = g.memory().WriteValue(c.args[0], t)) return Reply::Error(err);
  }
  return Reply::Value(g.clock_ns() / (kNanos / 100));
}

Reply Getrusage(GuestState& g, const Call& c) {
  struct rusage ru = {};
  return FromWrite(g.memory().WriteValue(c.args[1], ru));
}

// --- random and identity -------------------------------------------------------------------------

Reply Getrandom(GuestState& g, const Call& c) {
  const uint64_t len = std::min<uint64_t>(c.args[1], kMaxRandomPerCall);
  std::string bytes(len, '\0');
  g.RandomBytes(bytes.data(), len);
  return FromWrite(g.memory().Write(c.args[0], bytes.data(), len), static_cast<int64_t>(len));
}

Reply Uname(GuestState& g, const Call& c) {
  struct utsname u = {};
  strcpy(u.sysname, "Linux");
  strcpy(u.nodename, "zerocell");
  strcpy(u.release, "6.1.0-zerocell");
  strcpy(u.version, "#1 SMP");
  strcpy(u.machine, "x86_64");
  strcpy(u.domainname, "(none)");
  return FromWrite(g.memory().WriteValue(c.args[0], u));
}

Reply Getresid(GuestState& g, const Call& c) {
  const uint32_t id = kGuestUid;
  for (int i = 0; i < 3; ++i) {
    if (int err = g.memory().WriteValue(c.args[i], id)) return Reply::Error(err);
  }
  return Reply::Value(0);
}

Reply SchedGetaffinity(GuestState& g, const Call& c) {
  if (c.args[1] < sizeof(uint64_t)) return Reply::Error(EINVAL);
  const uint64_t one_cpu = 1;
  return FromWrite(g.memory().WriteValue(c.args[2], one_cpu), sizeof(uint64_t));
}

Reply Getcpu(GuestState& g, const Call& c) {
  const uint32_t zero = 0;
  for (int i = 0; i < 2; ++i) {
    if (c.args[i] == 0) continue;
    if (int err = g.memory().WriteValue(c.args[i], zero)) return Reply::Error(err);
  }
  return Reply::Value(0);
}

Reply Sysinfo(GuestState& g, const Call& c) {
  struct sysinfo info = {};
  info.uptime = g.clock_ns() / kNanos;
  info.totalram = static_cast<unsigned long>(g.manifest().memory_bytes());
  info.freeram = info.totalram;
  info.procs = 1;
  info.mem_unit = 1;
  return FromWrite(g.memory().WriteValue(c.args[0], info));
}

Reply Prctl(GuestState& g, const Call& c) {
  switch (static_cast<int>(c.args[0])) {
    case PR_GET_NAME: {
      char name[16] = "zerocell";
      return FromWrite(g.memory().Write(c.args[1], name, sizeof(name)));
    }
    case PR_SET_NAME:
      return Reply::Value(0);
    case PR_GET_DUMPABLE:
      return Reply::Value(0);
    default:
      return Reply::Error(EINVAL);
  }
}

// --- limits
// ---------------------------------------------------------------------------------------

rlimit FixedRlimit(GuestState& g, int resource) {
  const uint64_t memory = static_cast<uint64_t>(g.manifest().memory_bytes());
  switch (resource) {
    case RLIMIT_STACK:
      return {g.mem().stack_bytes, g.mem().stack_bytes};
    case RLIMIT_AS:
    case RLIMIT_DATA:
      return {memory, memory};
    case RLIMIT_NOFILE:
      return {FdTable::kMaxFds, FdTable::kMaxFds};
    case RLIMIT_CPU: {
      const uint64_t s = static_cast<uint64_t>(absl::ToInt64Seconds(g.manifest().cpu_limit()));
      return {s, s};
    }
    case RLIMIT_CORE:
    case RLIMIT_NPROC:
      return {0, 0};
    default:
      return {RLIM_INFINITY, RLIM_INFINITY};
  }
}

// Limits are fixed by the manifest: reads get deterministic values, writes are refused.
Reply Prlimit(GuestState& g, const Call& c) {
  const int64_t pid = static_cast<int32_t>(c.args[0]);
  if (pid != 0 && pid != g.current().own_pid) return Reply::Error(ESRCH);
  const int resource = static_cast<int>(c.args[1]);
  if (resource < 0 || resource >= RLIM_NLIMITS) return Reply::Error(EINVAL);
  if (c.args[2] != 0) return Reply::Error(EPERM);
  if (c.args[3] != 0) return FromWrite(g.memory().WriteValue(c.args[3], FixedRlimit(g, resource)));
  return Reply::Value(0);
}

Reply Getrlimit(GuestState& g, const Call& c) {
  const int resource = static_cast<int>(c.args[0]);
  if (resource < 0 || resource >= RLIM_NLIMITS) return Reply::Error(EINVAL);
  return FromWrite(g.memory().WriteValue(c.args[1], FixedRlimit(g, resource)));
}

// socket(AF_UNIX): EACCES, as under a security module that denies it. libc opens one as a matter
// of course (NSS asks nscd for getpwuid, syslog) and copes with the refusal; no AF_UNIX address
// exists for the guest anyway. Every other family stays a violation: the guest has no network.
Reply Socket(GuestState& g, const Call& c) {
  if (static_cast<int>(c.args[0]) == AF_UNIX) return Reply::Error(EACCES);
  g.Stop(Outcome::kPolicyViolation, "syscall socket (41) is not allowed",
         Violation{"socket", SYS_socket, "not in the syscall policy"});
  return Reply::Error(EACCES);
}

// --- memory
// ---------------------------------------------------------------------------------------

Reply ExecViolation(GuestState& g, const char* call, int64_t nr) {
  g.Stop(Outcome::kPolicyViolation, std::string(call) + " with PROT_EXEC: no new executable memory",
         Violation{call, nr, "PROT_EXEC requested"});
  return Reply::Error(EPERM);
}

uint64_t PageUp(uint64_t v) { return (v + launch::kPageSize - 1) & ~(launch::kPageSize - 1); }

// mmap/brk/mremap only take registers, so after the accounting check the kernel may run them
// (CONTINUE): nothing the guest can change sits between our check and the kernel's use.
// A dynamically linked guest's ld.so maps its libraries' code: allowed only as a private,
// fixed-address, never-writable mapping of a tree file's admitted code pages (ExecutableFiles),
// which hold only decoded bytes and zeros (the file is a sealed memfd, so whatever the guest does
// with the pages, a fault reads those bytes again). The range becomes code: never moved or grown.
bool AdmitExecMapping(GuestState& g, const Call& c) {
  const uint64_t addr = c.args[0], length = c.args[1], prot = c.args[2], flags = c.args[3];
  const int64_t fd = static_cast<int32_t>(c.args[4]);
  if ((prot & PROT_WRITE) || (flags & MAP_ANONYMOUS) || !(flags & MAP_FIXED) ||
      (flags & MAP_TYPE) != MAP_PRIVATE || !g.fds().injected(fd) || !g.has_fs()) {
    return false;
  }
  const OpenFile* file = g.fds().File(fd);
  const uint64_t end = PageUp(addr + length);
  if (file == nullptr || addr % launch::kPageSize != 0 || end <= addr ||
      !g.fs().MayExecute(file->at, c.args[5], end - addr)) {
    return false;
  }
  g.mem().code.push_back({addr, end});
  return true;
}

Reply Mmap(GuestState& g, const Call& c) {
  const uint64_t flags = c.args[3];
  if (c.args[2] & PROT_EXEC) {
    if (!AdmitExecMapping(g, c)) return ExecViolation(g, "mmap", c.nr);
  }
  if (!(flags & MAP_ANONYMOUS)) {
    // Only a tree file whose memfd the guest holds at this very number (a read-only description
    // of a sealed memfd: never writable shared, and PROT_EXEC was refused above); channels and
    // directories are not mappable.
    const int64_t fd = static_cast<int32_t>(c.args[4]);
    // A scratch file: a sealed snapshot of the mapped bytes is put at that number first.
    if (const OpenFile* f = g.fds().File(fd); f != nullptr && fs::GuestFs::IsScratch(f->at)) {
      if (int err = ScratchPrepareMap(g, fd, *f, c.args[1], flags, c.args[5])) {
        return Reply::Error(err);
      }
    }
    if (!g.fds().injected(fd)) return Reply::Error(g.fds().IsOpen(fd) ? ENODEV : EBADF);
  }
  // A MAP_GROWSDOWN mapping grows on page faults, with no call the accounting would see; a
  // MAP_HUGETLB one takes pages from the host's shared pool.
  if (flags & (MAP_GROWSDOWN | MAP_HUGETLB)) return Reply::Error(EINVAL);
  const uint64_t bytes = PageUp(c.args[1]);
  if (bytes < c.args[1]) return Reply::Error(ENOMEM);
  if (!AdmitGrowth(g, bytes, PageTableGrowth(bytes), "mmap")) return Reply::Error(ENOMEM);
  return Reply::Continue();
}

Reply Mprotect(GuestState& g, const Call& c) { return ExecViolation(g, "mprotect", c.nr); }

Reply Brk(GuestState& g, const Call& c) {
  MemoryAccounting& mem = g.mem();
  const uint64_t want = c.args[0];
  if (want > mem.brk) {
    const uint64_t bytes = PageUp(want) - PageUp(mem.brk);
    if (!AdmitGrowth(g, bytes, PageTableGrowth(bytes), "brk")) return Reply::Error(ENOMEM);
  }
  if (want != 0) mem.brk = want;  // optimistic: a refused brk leaves at most one step of slack
  return Reply::Continue();
}

Reply Mremap(GuestState& g, const Call& c) {
  const uint64_t old_addr = c.args[0], old_size = PageUp(c.args[1]), new_size = PageUp(c.args[2]);
  const uint64_t flags = c.args[3];
  if (old_size < c.args[1] || new_size < c.args[2]) return Reply::Error(EINVAL);
  // Code is never moved or grown: growing a file-backed code mapping maps the image file's next
  // pages (.rodata, bytes no admission decoded) executable, and a moved copy would be code at an
  // address of the guest's choosing.
  const uint64_t old_end = old_addr + std::max<uint64_t>(old_size, 1);
  if (old_end < old_addr) return Reply::Error(EINVAL);
  for (const AddressRange& code : g.mem().code) {
    if (code.Intersects(old_addr, old_end)) {
      g.Stop(Outcome::kPolicyViolation,
             "mremap of the program's code: code is never moved or grown",
             Violation{"mremap", c.nr, "mremap of the program's code"});
      return Reply::Error(EPERM);
    }
  }
  // The growth: what is added to the old size, or all of new_size when the old range stays mapped
  // (MREMAP_DONTUNMAP leaves it mapped, empty; old_size 0 duplicates a shared mapping).
  const bool old_stays = (flags & MREMAP_DONTUNMAP) || old_size == 0;
  const uint64_t bytes = old_stays ? new_size : (new_size > old_size ? new_size - old_size : 0);
  // A mapping that may move may land anywhere: all of it counts for page tables.
  const bool moves = (flags & MREMAP_FIXED) || old_stays || (flags & MREMAP_MAYMOVE && bytes > 0);
  const uint64_t tables = PageTableGrowth(moves ? new_size : bytes);
  if ((bytes > 0 || moves) && !AdmitGrowth(g, bytes, tables, "mremap")) {
    return Reply::Error(ENOMEM);
  }
  return Reply::Continue();
}

// Advice the kernel is not asked for (syscall_policy.cc allows the hints and MADV_DONTNEED):
// what leaves every byte as it is is a hint that may be ignored, and is; the rest is refused.
Reply Madvise(GuestState&, const Call& c) {
  // The kernel reads an int: high bits are ignored.
  switch (static_cast<int>(c.args[2])) {
    // What the filter lets through, here with high bits set.
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    // What a fork's child gets of a mapping (nothing, zeros, a copy): a child that runs with its
    // parent's random state because a wipe was ignored would be wrong. Only private anonymous
    // mappings can be wiped (EINVAL otherwise: never code); the accounting counts a child's copy
    // in full either way.
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
      return Reply::Continue();
    case MADV_FREE:  // pages that stay as they are are one of its allowed outcomes
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      return Reply::Value(0);
    default:  // MADV_REMOVE, MADV_HWPOISON, guard pages, unknown values
      return Reply::Error(EINVAL);
  }
}

// --- exit and signals
// -------------------------------------------------------------------------------

Reply ExitGroup(GuestState& g, const Call&) {
  // Its last chance to pair a fork: once it is gone, its child is re-parented.
  ResolvePendingFork(g, g.current());
  // The last moment this process's memory can be read: the run's peak is its processes' largest.
  SamplePeakRss(g.mem());
  if (&g.current() != &g.first()) {
    // A child's exit ends only it; the run's etag is the first process's.
    g.current().exited = true;
    return Reply::Continue();
  }
  if (g.manifest().memory_etag()) {
    // Work the guest asked for: it counts against its limits and stops when they run out.
    absl::StatusOr<std::string> digest = GuestMemoryDigest(
        g.mem().pid, vdso::kClockPageAddr, g.mem().loader_end, [&g] { return g.Exhausted(); });
    if (g.stop().has_value() || g.cancelled()) return Reply::Error(EINTR);
    if (digest.ok()) g.set_memory_etag(*std::move(digest));
  }
  return Reply::Continue();
}

}  // namespace

void RegisterProcessHandlers(HandlerTable& t) {
  t[SYS_clock_gettime] = ClockGettime;
  t[SYS_clock_getres] = ClockGetres;
  t[SYS_gettimeofday] = Gettimeofday;
  t[SYS_time] = Time;
  t[SYS_nanosleep] = Nanosleep;
  t[SYS_clock_nanosleep] = ClockNanosleep;
  t[SYS_times] = Times;
  t[SYS_getrusage] = Getrusage;
  t[SYS_getrandom] = Getrandom;
  t[SYS_uname] = Uname;
  t[SYS_getpgrp] = Constant<kGuestPid>;
  t[SYS_getpgid] = Constant<kGuestPid>;
  t[SYS_getsid] = Constant<kGuestPid>;
  t[SYS_getuid] = Constant<kGuestUid>;
  t[SYS_geteuid] = Constant<kGuestUid>;
  t[SYS_getgid] = Constant<kGuestGid>;
  t[SYS_getegid] = Constant<kGuestGid>;
  t[SYS_getresuid] = Getresid;
  t[SYS_getresgid] = Getresid;
  t[SYS_getgroups] = Constant<0>;
  t[SYS_umask] = Constant<022>;
  t[SYS_sched_getaffinity] = SchedGetaffinity;
  t[SYS_sched_setaffinity] = Constant<0>;
  t[SYS_getcpu] = Getcpu;
  t[SYS_getpriority] = Constant<20>;  // the raw syscall returns 20 - nice
  t[SYS_sysinfo] = Sysinfo;
  t[SYS_prctl] = Prctl;
  t[SYS_arch_prctl] = Fail<EINVAL>;  // the allowed TLS codes never get here
  t[SYS_prlimit64] = Prlimit;
  t[SYS_getrlimit] = Getrlimit;
  t[SYS_setrlimit] = Fail<EPERM>;
  t[SYS_setpriority] = Fail<EPERM>;
  t[SYS_rseq] = Fail<ENOSYS>;  // libc copes: no restartable sequences
  // The plain wait/wake futex family runs in the kernel (syscall_policy.cc); the PI, requeue and
  // wake-op operations are refused as a kernel without them would (a host pid oracle otherwise).
  t[SYS_futex] = Fail<ENOSYS>;
  t[SYS_membarrier] = Fail<ENOSYS>;
  t[SYS_setuid] = Fail<EPERM>;
  t[SYS_setgid] = Fail<EPERM>;
  t[SYS_setsid] = Fail<EPERM>;
  t[SYS_setpgid] = Fail<EPERM>;
  t[SYS_mmap] = Mmap;
  t[SYS_mprotect] = Mprotect;  // only PROT_EXEC requests are notified
  t[SYS_brk] = Brk;
  t[SYS_mremap] = Mremap;
  t[SYS_madvise] = Madvise;  // only the advice the kernel is not asked for
  t[SYS_exit_group] = ExitGroup;
  t[SYS_socket] = Socket;
  RegisterForkHandlers(t);  // processes, their identity and signals (fork_handlers.cc)
}

const HandlerTable& Handlers() {
  static const HandlerTable* table = [] {
    auto* t = new HandlerTable{};
    RegisterIoHandlers(*t);
    RegisterFsHandlers(*t);  // after the channels' (it replaces their empty-namespace answers)
    RegisterProcessHandlers(*t);
    return t;
  }();
  return *table;
}

}  // namespace zerocell::sandbox::supervisor

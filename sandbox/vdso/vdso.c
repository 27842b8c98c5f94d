// The guest's vDSO: the virtual clock's calls answered in the guest, from the shared clock page,
// with the supervisor's exact semantics (process_handlers.cc), so they cost no notification.
//
// Freestanding, position independent, no relocations: mapped as is at kVdsoAddr by
// zerocell-loader, the clock page one page below it (vdso.lds defines zc_clock_page there).
#include <stdint.h>

#include "sandbox/vdso/clock_page.h"

struct zc_timespec {
  int64_t tv_sec, tv_nsec;
};
struct zc_timeval {
  int64_t tv_sec, tv_usec;
};
struct zc_timezone {
  int32_t tz_minuteswest, tz_dsttime;
};

extern struct ClockPage zc_clock_page __attribute__((visibility("hidden")));

#define NANOS 1000000000ll
#define TICK_NS 1000ll
#define NR_CLOCK_GETTIME 228

// GuestState::TickClock: the instant now, then one tick later (saturating). Atomic: a run's
// processes share the page.
static int64_t Tick(void) {
  int64_t old = __atomic_load_n(&zc_clock_page.ns, __ATOMIC_RELAXED);
  int64_t next;
  do {
    next = old > INT64_MAX - TICK_NS ? INT64_MAX : old + TICK_NS;
  } while (!__atomic_compare_exchange_n(&zc_clock_page.ns, &old, next, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  return old;
}

static int64_t Realtime(int64_t t) {
  const int64_t base = zc_clock_page.realtime_base_ns;
  return base > 0 && t > INT64_MAX - base ? INT64_MAX : base + t;
}

// A clock the supervisor does not offer: its answer (EINVAL, after its own tick) comes from the
// notified call, as the kernel's vDSO falls back to the syscall.
static int Fallback(int clock, struct zc_timespec* ts) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(NR_CLOCK_GETTIME), "D"((long)clock), "S"(ts)
                   : "rcx", "r11", "memory");
  return (int)ret;
}

// The clock id is an int (clockid_t): the ABI leaves the upper half of its register undefined.
int __vdso_clock_gettime(int clock, struct zc_timespec* ts) {
  // No buffer: the supervisor's EFAULT (after its tick), not a fault here.
  if (!ts) return Fallback(clock, ts);
  int64_t ns;
  switch (clock) {
    case 0:   // CLOCK_REALTIME
    case 5:   // CLOCK_REALTIME_COARSE
    case 11:  // CLOCK_TAI
      ns = Realtime(Tick());
      break;
    case 1:  // CLOCK_MONOTONIC
    case 4:  // CLOCK_MONOTONIC_RAW
    case 6:  // CLOCK_MONOTONIC_COARSE
    case 7:  // CLOCK_BOOTTIME
    case 2:  // CLOCK_PROCESS_CPUTIME_ID
    case 3:  // CLOCK_THREAD_CPUTIME_ID
      ns = Tick();
      break;
    default:
      return Fallback(clock, ts);
  }
  // A clock start before the epoch: the supervisor's answer for a negative instant.
  if (ns < 0) return -22;  // EINVAL
  ts->tv_sec = ns / NANOS;
  ts->tv_nsec = ns % NANOS;
  return 0;
}

long __vdso_gettimeofday(struct zc_timeval* tv, struct zc_timezone* tz) {
  const int64_t ns = Realtime(Tick());
  if (tv) {
    tv->tv_sec = ns / NANOS;
    tv->tv_usec = (ns % NANOS) / 1000;
  }
  if (tz) {
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

long __vdso_time(int64_t* t) {
  const int64_t seconds = Realtime(Tick()) / NANOS;
  if (t) *t = seconds;
  return seconds;
}

int __vdso_clock_getres(int clock, struct zc_timespec* res) {
  (void)clock;
  if (res) {
    res->tv_sec = 0;
    res->tv_nsec = 1000;
  }
  return 0;
}

// The kernel's vDSO exports these names under both spellings; libcs look up the __vdso_ ones.
int clock_gettime(int, struct zc_timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
long gettimeofday(struct zc_timeval*, struct zc_timezone*)
    __attribute__((weak, alias("__vdso_gettimeofday")));
long time(int64_t*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct zc_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));

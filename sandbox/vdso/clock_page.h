// The virtual clock's page, shared by the supervisor, zerocell-loader and the guest's vDSO.
#ifndef ZEROCELL_SANDBOX_VDSO_CLOCK_PAGE_H_
#define ZEROCELL_SANDBOX_VDSO_CLOCK_PAGE_H_

#include <stdint.h>

#ifdef __cplusplus
namespace zerocell::sandbox::vdso {
#endif

// Where the guest finds its vDSO (AT_SYSINFO_EHDR) and, one page below, the clock page: fixed,
// right below zerocell-loader (kLoaderBase, 0x6f0000000000), so that [kClockPageAddr, the
// loader's end) is one range the accounting and the memory etag treat as the loader's. Programs'
// fixed segments end below kClockPageAddr (sandbox/elf). The loader maps the whole
// [kVdsoAddr, kVdsoAddr + kVdsoMaxBytes): the image, then PROT_NONE.
#define ZEROCELL_VDSO_MAX_BYTES 0x4000ull
#define ZEROCELL_VDSO_ADDR (0x6f0000000000ull - ZEROCELL_VDSO_MAX_BYTES)
#define ZEROCELL_CLOCK_PAGE_ADDR (ZEROCELL_VDSO_ADDR - 0x1000ull)

// The run's virtual clock, in a page the guest's vDSO ticks without a notification and the
// supervisor's handlers read and advance (only in a run of one process: its one thread is
// stopped while a handler runs, so the two never race; a run that may fork gets no vDSO). `ns` is
// the virtual nanoseconds since the run started (each read of a clock advances it by 1 us);
// `realtime_base_ns` the manifest's clock start (CLOCK_REALTIME = base + ns).
struct ClockPage {
  int64_t ns;
  int64_t realtime_base_ns;
};

#ifdef __cplusplus
inline constexpr uint64_t kVdsoAddr = ZEROCELL_VDSO_ADDR;
inline constexpr uint64_t kVdsoMaxBytes = ZEROCELL_VDSO_MAX_BYTES;
inline constexpr uint64_t kClockPageAddr = ZEROCELL_CLOCK_PAGE_ADDR;
inline constexpr int64_t kClockTickNs = 1000;
}  // namespace zerocell::sandbox::vdso
#endif

#endif  // ZEROCELL_SANDBOX_VDSO_CLOCK_PAGE_H_

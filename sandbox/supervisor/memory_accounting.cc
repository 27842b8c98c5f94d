// Memory accounting from /proc; see memory_accounting.h.
#include "sandbox/supervisor/memory_accounting.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerocell::sandbox::supervisor {

int64_t VmBytes(MemoryAccounting& mem) {
  char buf[128];
  ssize_t n = pread(mem.statm.get(), buf, sizeof(buf) - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const int64_t page = static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  char* end = nullptr;
  const int64_t size = strtoll(buf, &end, 10) * page;
  const int64_t resident = strtoll(end, nullptr, 10) * page;
  if (resident > mem.peak_rss_bytes) mem.peak_rss_bytes = resident;
  return size;
}

int64_t SamplePeakRss(MemoryAccounting& mem) {
  if (!mem.status.valid()) {
    mem.status.reset(
        open(absl::StrCat("/proc/", mem.pid, "/status").c_str(), O_RDONLY | O_CLOEXEC));
  }
  char buf[4096];
  ssize_t n = pread(mem.status.get(), buf, sizeof(buf) - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = strstr(buf, "VmHWM:");
  if (p == nullptr) return -1;
  int64_t bytes = strtoll(p + 6, nullptr, 10) * 1024;
  if (bytes > mem.peak_rss_bytes) mem.peak_rss_bytes = bytes;
  return bytes;
}

bool AdmitGrowth(GuestState& g, uint64_t bytes, const char* call) {
  MemoryAccounting& mem = g.mem();
  const int64_t vm = VmBytes(mem);
  if (vm < 0) return true;  // the process is gone; the exit path reports it
  const uint64_t used = static_cast<uint64_t>(vm) > mem.overhead_bytes
                            ? static_cast<uint64_t>(vm) - mem.overhead_bytes
                            : 0;
  const uint64_t limit = static_cast<uint64_t>(mem.limit_bytes);
  if (bytes <= limit && used <= limit - bytes) return true;
  g.Stop(Outcome::kMemoryLimit,
         absl::StrFormat("memory limit %d bytes exceeded: %s of %u bytes with %u in use",
                         mem.limit_bytes, call, bytes, used));
  return false;
}

}  // namespace zerocell::sandbox::supervisor

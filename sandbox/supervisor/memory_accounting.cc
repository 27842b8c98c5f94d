// Memory accounting from /proc; see memory_accounting.h.
#include "sandbox/supervisor/memory_accounting.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/errno_status.h"
#include "sandbox/supervisor/process_table.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {
namespace {

// Address bits each level's table covers: a page table 2 MiB, a directory 1 GiB, a PUD 512 GiB,
// a P4D 256 TiB (5-level paging; with 4 levels that last count is the top table, one page).
constexpr int kLevelShifts[] = {21, 30, 39, 48};
constexpr uint64_t kPage = 4096;
// User space ends below 2^57 with 5-level paging; the vsyscall page lies above.
constexpr uint64_t kUserLimit = uint64_t{1} << 57;

}  // namespace

uint64_t PageTablesFor(const std::vector<AddressRange>& ranges) {
  uint64_t tables = 1;  // the top-level table
  for (int shift : kLevelShifts) {
    bool any = false;
    uint64_t counted_to = 0;  // the highest block counted so far at this level
    for (const AddressRange& r : ranges) {
      if (r.end <= r.start) continue;
      uint64_t first = r.start >> shift;
      const uint64_t last = (r.end - 1) >> shift;
      if (any && first <= counted_to) first = counted_to + 1;  // sorted: blocks already counted
      if (first <= last) tables += last - first + 1;
      if (!any || last > counted_to) counted_to = last;
      any = true;
    }
  }
  return tables * kPageTableBytes;
}

uint64_t PageTableGrowth(uint64_t bytes) {
  if (bytes == 0) return 0;
  // Pages [a, a + bytes) reach at most ceil((bytes - page) / span) + 1 blocks of a level.
  const uint64_t beyond_first_page = bytes > kPage ? bytes - kPage : 0;
  uint64_t tables = 0;
  for (int shift : kLevelShifts) {
    const uint64_t span = uint64_t{1} << shift;
    tables += beyond_first_page / span + (beyond_first_page % span != 0) + 1;
  }
  return tables * kPageTableBytes;
}

absl::StatusOr<std::vector<AddressRange>> ReadMappings(pid_t pid) {
  sys::UniqueFd fd(open(absl::StrCat("/proc/", pid, "/maps").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open /proc/<pid>/maps");
  std::vector<AddressRange> out;
  std::string pending;  // a line cut by the end of a read
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read /proc/<pid>/maps");
    if (n == 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t line = 0;
    for (size_t eol; (eol = pending.find('\n', line)) != std::string::npos; line = eol + 1) {
      // "start-end perms ...": two hex numbers are all this needs.
      char* end = nullptr;
      const uint64_t start = strtoull(pending.c_str() + line, &end, 16);
      if (*end != '-') return absl::InternalError("unexpected /proc/<pid>/maps line");
      const uint64_t stop = strtoull(end + 1, nullptr, 16);
      if (start < kUserLimit) out.push_back({start, stop});
    }
    pending.erase(0, line);
  }
  return out;
}

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

uint64_t AccountedBytes(MemoryAccounting& mem) {
  const int64_t vm = VmBytes(mem);
  if (vm < 0) return mem.last_accounted;
  const uint64_t space = static_cast<uint64_t>(vm) > mem.overhead_bytes
                             ? static_cast<uint64_t>(vm) - mem.overhead_bytes
                             : 0;
  mem.last_accounted = space + mem.tables_measured + mem.tables_admitted;
  return mem.last_accounted;
}

uint64_t OthersAccounted(GuestState& g, const MemoryAccounting& self) {
  std::vector<const MemoryAccounting*> counted = {&self};
  uint64_t sum = 0;
  const auto add = [&](const MemoryAccounting* m) {
    if (m == nullptr || std::find(counted.begin(), counted.end(), m) != counted.end()) return;
    counted.push_back(m);
    sum += m->last_accounted;
  };
  for (auto& p : g.processes()) {
    if (p.get() == &g.first() || !HasExited(*p)) add(p->mem.get());
    if (p->pending != nullptr) add(p->pending->mem.get());
  }
  return sum;
}

bool AdmitGrowth(GuestState& g, uint64_t bytes, uint64_t tables, const char* call) {
  MemoryAccounting& mem = g.mem();
  const int64_t vm = VmBytes(mem);
  if (vm < 0) return true;  // the process is gone; the exit path reports it
  const uint64_t space = static_cast<uint64_t>(vm) > mem.overhead_bytes
                             ? static_cast<uint64_t>(vm) - mem.overhead_bytes
                             : 0;
  // The run's other address spaces as last measured: the limit is the run's, not a process's.
  // Also while the run has one known process: a fork not paired yet is a copy already made.
  const uint64_t others = OthersAccounted(g, mem);
  const uint64_t own_limit = static_cast<uint64_t>(mem.limit_bytes);
  const uint64_t limit = own_limit > others ? own_limit - others : 0;
  // The address space alone decides when it does not fit; page tables only add to it.
  const bool space_fits = bytes <= limit && space <= limit - bytes;
  const auto fits = [&] {
    const uint64_t need = mem.tables_measured + mem.tables_admitted;
    return space_fits && tables <= limit && need <= limit - bytes - space &&
           tables <= limit - bytes - space - need;
  };
  if (space_fits && !fits()) {
    // The bound of earlier calls may be too coarse (or old): measure what the mappings need now.
    absl::StatusOr<std::vector<AddressRange>> maps = ReadMappings(mem.pid);
    if (!maps.ok()) {
      // Fail closed: statm was just read, so the process exists; an unbounded need must not pass.
      g.Stop(Outcome::kMemoryLimit,
             absl::StrCat("memory limit: the page tables of ", call,
                          " cannot be accounted: ", maps.status().message()));
      return false;
    }
    const uint64_t need = PageTablesFor(*maps);
    mem.tables_measured = need > mem.tables_baseline ? need - mem.tables_baseline : 0;
    mem.tables_admitted = 0;
  }
  if (fits()) {
    mem.tables_admitted += tables;
    mem.last_accounted = space + bytes + mem.tables_measured + mem.tables_admitted;
    return true;
  }
  g.Stop(Outcome::kMemoryLimit,
         absl::StrFormat("memory limit %d bytes exceeded: %s of %u bytes with %u in use (%u of "
                         "them page tables the guest's mappings can need)",
                         mem.limit_bytes, call, bytes, space + mem.tables_measured + others,
                         mem.tables_measured));
  return false;
}

}  // namespace zerocell::sandbox::supervisor

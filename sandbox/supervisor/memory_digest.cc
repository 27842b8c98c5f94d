// The guest memory digest; the definition is in memory_digest.h.
#include "sandbox/supervisor/memory_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/errno_status.h"
#include "base/sha256.h"
#include "sandbox/sys/syscalls.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox::supervisor {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBatchPages = 256;  // pagemap entries read at a time
constexpr uint64_t kPagemapPresent = uint64_t{1} << 63;
constexpr uint64_t kPagemapSwapped = uint64_t{1} << 62;

struct Mapping {
  uint64_t start = 0, end = 0;
  uint8_t prot = 0;  // 4 read, 2 write, 1 execute
  bool anonymous = false;
  std::string name;
};

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  sys::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", path));
  std::string out;
  char buf[16384];
  while (true) {
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, absl::StrCat("read ", path));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// "start-end perms offset dev inode [name]" lines of /proc/<pid>/maps.
absl::StatusOr<std::vector<Mapping>> ParseMaps(absl::string_view text) {
  std::vector<Mapping> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::MaxSplits(' ', 5), absl::SkipEmpty());
    if (f.size() < 5) return absl::InternalError(absl::StrCat("maps line: ", line));
    Mapping m;
    const size_t dash = f[0].find('-');
    uint64_t inode = 0;
    if (dash == absl::string_view::npos || !absl::SimpleHexAtoi(f[0].substr(0, dash), &m.start) ||
        !absl::SimpleHexAtoi(f[0].substr(dash + 1), &m.end) || f[1].size() < 3 ||
        !absl::SimpleAtoi(f[4], &inode)) {
      return absl::InternalError(absl::StrCat("maps line: ", line));
    }
    m.prot = (f[1][0] == 'r' ? 4 : 0) | (f[1][1] == 'w' ? 2 : 0) | (f[1][2] == 'x' ? 1 : 0);
    m.anonymous = inode == 0;
    if (f.size() == 6) m.name = std::string(absl::StripAsciiWhitespace(f[5]));
    out.push_back(std::move(m));
  }
  return out;
}

bool Excluded(const Mapping& m, uint64_t loader_low, uint64_t loader_high) {
  if (m.start >= loader_low && m.end <= loader_high) return true;
  for (const char* name : {"[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"}) {
    if (m.name == name) return true;
  }
  return false;
}

void PutU64(base::Sha256& sha, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  sha.Update(b, sizeof b);
}

bool AllZero(const char* p, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

// Asks `exhausted` once per kBatchPages pages (a mapping's header counting as one).
class Pacer {
 public:
  explicit Pacer(const std::function<bool()>& exhausted) : exhausted_(exhausted) {}
  bool Exhausted(uint64_t pages) {
    seen_ += pages;
    if (!exhausted_ || seen_ < kBatchPages) return false;
    seen_ = 0;
    return exhausted_();
  }

 private:
  const std::function<bool()>& exhausted_;
  uint64_t seen_ = 0;
};

// Adds the non-zero pages of [start, end). `pagemap` (or -1) tells absent anonymous pages. False
// when the pacer stopped it.
bool HashPages(base::Sha256& sha, pid_t pid, const Mapping& m, int pagemap, Pacer& pacer) {
  std::vector<char> page(kPage);
  std::vector<uint64_t> entries(kBatchPages);
  for (uint64_t at = m.start; at < m.end; at += kBatchPages * kPage) {
    const uint64_t pages = std::min(kBatchPages, (m.end - at) / kPage);
    if (pacer.Exhausted(pages)) return false;
    bool known = false;  // entries[] holds this batch's pagemap entries
    if (m.anonymous && pagemap >= 0) {
      const ssize_t want = static_cast<ssize_t>(pages * 8);
      known = pread(pagemap, entries.data(), static_cast<size_t>(want),
                    static_cast<off_t>(at / kPage * 8)) == want;
    }
    for (uint64_t i = 0; i < pages; ++i) {
      if (known && !(entries[i] & (kPagemapPresent | kPagemapSwapped))) continue;  // zero page
      const uint64_t addr = at + i * kPage;
      // An unreadable page (a file mapping past the end of its file) counts as zero.
      if (sys::ReadProcessMemory(pid, addr, page.data(), kPage) != static_cast<ssize_t>(kPage)) {
        continue;
      }
      if (AllZero(page.data(), kPage)) continue;
      sha.Update("P");
      PutU64(sha, addr);
      sha.Update(page.data(), kPage);
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> GuestMemoryDigest(pid_t pid, uint64_t loader_low, uint64_t loader_high,
                                              const std::function<bool()>& exhausted) {
  const std::string proc = absl::StrCat("/proc/", pid, "/");
  absl::StatusOr<std::string> maps_text = ReadAll(proc + "maps");
  if (!maps_text.ok()) return maps_text.status();
  absl::StatusOr<std::vector<Mapping>> maps = ParseMaps(*maps_text);
  if (!maps.ok()) return maps.status();
  sys::UniqueFd pagemap(open((proc + "pagemap").c_str(), O_RDONLY | O_CLOEXEC));

  base::Sha256 sha;
  Pacer pacer(exhausted);
  for (const Mapping& m : *maps) {
    if (Excluded(m, loader_low, loader_high)) continue;
    sha.Update("M");
    PutU64(sha, m.start);
    PutU64(sha, m.end);
    sha.Update(&m.prot, 1);
    if (pacer.Exhausted(1) || ((m.prot & 4) && !HashPages(sha, pid, m, pagemap.get(), pacer))) {
      return absl::AbortedError("the run ended during the digest");
    }
  }
  return sha.HexDigest();
}

}  // namespace zerocell::sandbox::supervisor

// The /proc readers zerocell-bench's memory figures use; see proc_memory.h.
#include "bench/proc_memory.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "tests/testing/files.h"

namespace zerocell::bench {
namespace {

using ::zerocell::testing::ReadFile;

// The number after `key` in a "Key:   1234 kB" line of `text`; NOT_FOUND without the key.
absl::StatusOr<int64_t> KibField(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat("no ", key, " field"));
}

void AddField(absl::string_view line, MemoryFigures* f) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(line, absl::MaxSplits(':', 1));
  absl::string_view value = absl::StripAsciiWhitespace(kv.second);
  absl::ConsumeSuffix(&value, "kB");
  int64_t kib = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kib)) return;
  if (kv.first == "Rss") f->rss_kib += kib;
  if (kv.first == "Pss") f->pss_kib += kib;
  if (kv.first == "Private_Clean" || kv.first == "Private_Dirty") f->private_kib += kib;
}

}  // namespace

absl::StatusOr<int64_t> ProcStatusKib(pid_t pid, absl::string_view field) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(absl::StrCat("/proc/", pid, "/status")));
  return KibField(text, field);
}

absl::StatusOr<int64_t> MemInfoKib(absl::string_view field) {
  ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/meminfo"));
  return KibField(text, field);
}

absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid) {
  ProcessMemory out;
  ASSIGN_OR_RETURN(std::string rollup, ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup")));
  for (absl::string_view line : absl::StrSplit(rollup, '\n')) AddField(line, &out.total);
  ASSIGN_OR_RETURN(out.pte_kib, ProcStatusKib(pid, "VmPTE"));
  ASSIGN_OR_RETURN(std::string smaps, ReadFile(absl::StrCat("/proc/", pid, "/smaps")));
  std::map<std::string, MemoryFigures> by_name;
  MemoryFigures* current = nullptr;
  for (absl::string_view line : absl::StrSplit(smaps, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.empty()) continue;
    if (absl::EndsWith(fields[0], ":")) {  // "Rss:  12 kB" inside the current mapping
      if (current != nullptr) AddField(line, current);
      continue;
    }
    // "start-end perms offset dev inode [name]"; the name may contain spaces.
    std::string name = "[anon]";
    if (fields.size() > 5) {
      name = std::string(line.substr(static_cast<size_t>(fields[5].data() - line.data())));
      if (absl::EndsWith(name, " (deleted)")) name.resize(name.size() - 10);
    }
    current = &by_name[name];
  }
  out.by_name.assign(by_name.begin(), by_name.end());
  std::sort(out.by_name.begin(), out.by_name.end(),
            [](const auto& a, const auto& b) { return a.second.rss_kib > b.second.rss_kib; });
  return out;
}

}  // namespace zerocell::bench

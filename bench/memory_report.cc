// zerocell-bench memory figures: the idle zerocelld's VmRSS (after start and after the scenarios)
// and what a parked sandbox of the warm pool costs the host. The latter runs a separate zerocelld
// with a fixed pool (--pool_min_per_image = --pool_max_per_image = --pool_max_total = N), executes
// hello once, waits until N children are parked, and reads each child's smaps: the pages of the
// guest image (mappings of the "zerocell-image" memfd, see sandbox/image.cc) against the rest,
// plus its page tables, and the MemAvailable drop across parking them.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"
#include "bench/proc_memory.h"
#include "tests/testing/processes.h"
#include "tests/testing/zerocelld_process.h"

namespace zerocell::bench {
namespace {

constexpr char kImageMemfd[] = "zerocell-image";  // memfd_create name in sandbox/image.cc
// System-wide /proc/meminfo fields whose change across parking is reported per child.
constexpr const char* kMemInfoFields[] = {"MemAvailable", "KernelStack", "PageTables", "Slab"};

// The kMemInfoFields now, each the median of 3 readings 20 ms apart (other processes move them).
absl::StatusOr<std::vector<int64_t>> ReadMemInfo() {
  std::vector<int64_t> out;
  for (const char* field : kMemInfoFields) {
    std::vector<int64_t> v;
    for (int i = 0; i < 3; ++i) {
      if (i > 0) absl::SleepFor(absl::Milliseconds(20));
      ASSIGN_OR_RETURN(const int64_t kib, MemInfoKib(field));
      v.push_back(kib);
    }
    std::sort(v.begin(), v.end());
    out.push_back(v[1]);
  }
  return out;
}

// The last path component of a mapping name ("[stack]" and the like stay as they are).
std::string ShortName(const std::string& name) {
  const size_t slash = name.rfind('/');
  return name.empty() || name[0] == '[' || slash == std::string::npos ? name
                                                                      : name.substr(slash + 1);
}

struct ParkedFigures {
  int children = 0;
  double wait_ms = 0;                       // until the pool was full
  std::vector<int64_t> meminfo_change_kib;  // after - before, per kMemInfoFields
  int64_t server_rss_before_kib = 0, server_rss_after_kib = 0;
  // Means per child, KiB.
  double rss = 0, pss = 0, priv = 0, pte = 0;
  double image_rss = 0, image_pss = 0, rest_rss = 0, rest_pss = 0, rest_priv = 0;
  std::map<std::string, MemoryFigures> rest_by_name;  // summed over children
};

// The children a fresh pooled zerocelld parks after one Execute of hello. MemAvailable and the
// server's VmRSS are read before the image is registered and once the pool is full.
absl::StatusOr<ParkedFigures> MeasureParked(const BenchContext& ctx, const std::string& zerocelld,
                                            int parked) {
  const std::string n = absl::StrCat(parked);
  ASSIGN_OR_RETURN(
      std::unique_ptr<testing::ZerocelldProcess> server,
      StartZerocelld(zerocelld, {"--pool_min_per_image=" + n, "--pool_max_per_image=" + n,
                                 "--pool_max_total=" + n}));
  absl::SleepFor(absl::Milliseconds(300));  // settle after start
  ParkedFigures f;
  ASSIGN_OR_RETURN(f.server_rss_before_kib, ProcStatusKib(server->pid(), "VmRSS"));
  ASSIGN_OR_RETURN(const std::vector<int64_t> meminfo_before, ReadMemInfo());
  BenchContext local = ctx;
  local.address = server->grpc_address();
  std::unique_ptr<v1::Sandbox::Stub> stub = v1::Sandbox::NewStub(OpenChannel(local));
  local.stub = stub.get();
  ASSIGN_OR_RETURN(std::string id, Register(local, ctx.guests.hello));
  const int64_t start = NowNs();
  {
    grpc::ClientContext call;
    v1::ExecuteResponse resp;
    grpc::Status s = stub->Execute(&call, MakeExecuteRequest(id, {"hello"}, "", 4096), &resp);
    if (!s.ok()) return absl::InternalError(absl::StrCat("Execute: ", s.error_message()));
  }
  std::vector<pid_t> children;
  while (NowNs() - start < 5'000'000'000) {
    children = testing::ChildPids(server->pid());
    if (static_cast<int>(children.size()) >= parked) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  f.wait_ms = static_cast<double>(NowNs() - start) / 1e6;
  absl::SleepFor(absl::Milliseconds(300));  // let the last ones finish parking
  children = testing::ChildPids(server->pid());
  ASSIGN_OR_RETURN(const std::vector<int64_t> meminfo_after, ReadMemInfo());
  ASSIGN_OR_RETURN(f.server_rss_after_kib, ProcStatusKib(server->pid(), "VmRSS"));
  for (size_t i = 0; i < meminfo_after.size(); ++i) {
    f.meminfo_change_kib.push_back(meminfo_after[i] - meminfo_before[i]);
  }
  for (const pid_t child : children) {
    absl::StatusOr<ProcessMemory> m = ReadProcessMemory(child);
    if (!m.ok()) continue;  // retired meanwhile
    ++f.children;
    f.rss += m->total.rss_kib;
    f.pss += m->total.pss_kib;
    f.priv += m->total.private_kib;
    f.pte += m->pte_kib;
    for (const auto& [name, fig] : m->by_name) {
      if (absl::StrContains(name, kImageMemfd)) {
        f.image_rss += fig.rss_kib;
        f.image_pss += fig.pss_kib;
        continue;
      }
      MemoryFigures& sum = f.rest_by_name[name];
      sum.rss_kib += fig.rss_kib;
      sum.pss_kib += fig.pss_kib;
      sum.private_kib += fig.private_kib;
      f.rest_priv += fig.private_kib;
    }
  }
  if (f.children == 0) return absl::NotFoundError("no parked children appeared within 5 s");
  const double k = f.children;
  for (double* v : {&f.rss, &f.pss, &f.priv, &f.pte, &f.image_rss, &f.image_pss, &f.rest_priv}) {
    *v /= k;
  }
  f.rest_rss = f.rss - f.image_rss;
  f.rest_pss = f.pss - f.image_pss;
  return f;
}

// Per child: the change of a /proc/meminfo field across parking (a drop of MemAvailable is
// reported positive, a growth of the others too).
double MemInfoPerChild(const ParkedFigures& f, size_t i) {
  const double change = static_cast<double>(f.meminfo_change_kib[i]) / f.children;
  return i == 0 ? -change : change;
}

std::string ParkedJson(const ParkedFigures& f, int parked) {
  const double k = f.children;
  std::vector<std::string> rest, meminfo;
  for (const auto& [name, fig] : f.rest_by_name) {
    rest.push_back(absl::StrFormat("%s:{\"rss_kib\":%.1f,\"pss_kib\":%.1f,\"private_kib\":%.1f}",
                                   JsonQuote(name), fig.rss_kib / k, fig.pss_kib / k,
                                   fig.private_kib / k));
  }
  for (size_t i = 0; i < f.meminfo_change_kib.size(); ++i) {
    meminfo.push_back(absl::StrFormat("\"%s%s\":%.1f", kMemInfoFields[i],
                                      i == 0 ? "_drop" : "_growth", MemInfoPerChild(f, i)));
  }
  return absl::StrFormat(
      "{\"asked\":%d,\"children\":%d,\"fill_wait_ms\":%.0f,\"per_child_kib\":{\"rss\":%.1f,"
      "\"pss\":%.1f,\"private\":%.1f,\"vm_pte\":%.1f,\"image_rss\":%.1f,\"image_pss\":%.1f,"
      "\"rest_rss\":%.1f,\"rest_pss\":%.1f,\"rest_private\":%.1f,"
      "\"beyond_guest_pss_plus_pte\":%.1f},\"meminfo_per_child_kib\":{%s},"
      "\"rest_by_mapping_per_child\":{%s},\"server_rss_kib\":{\"before\":%d,\"after\":%d}}",
      parked, f.children, f.wait_ms, f.rss, f.pss, f.priv, f.pte, f.image_rss, f.image_pss,
      f.rest_rss, f.rest_pss, f.rest_priv, f.rest_pss + f.pte, absl::StrJoin(meminfo, ","),
      absl::StrJoin(rest, ","), f.server_rss_before_kib, f.server_rss_after_kib);
}

std::string ParkedText(const ParkedFigures& f, int parked) {
  const double k = f.children;
  std::string out = absl::StrFormat(
      "parked sandboxes: %d asked, %d parked (%.0f ms after the first Execute); per child, KiB:\n"
      "  %-22s %9s %9s %9s\n",
      parked, f.children, f.wait_ms, "", "rss", "pss", "private");
  absl::StrAppendFormat(&out, "  %-22s %9.1f %9.1f %9.1f\n", "total (smaps_rollup)", f.rss, f.pss,
                        f.priv);
  absl::StrAppendFormat(&out, "  %-22s %9.1f %9.1f %9s\n", "guest image memfd", f.image_rss,
                        f.image_pss, "");
  absl::StrAppendFormat(&out, "  %-22s %9.1f %9.1f %9.1f\n", "rest", f.rest_rss, f.rest_pss,
                        f.rest_priv);
  std::vector<std::pair<std::string, MemoryFigures>> rest(f.rest_by_name.begin(),
                                                          f.rest_by_name.end());
  std::sort(rest.begin(), rest.end(),
            [](const auto& a, const auto& b) { return a.second.rss_kib > b.second.rss_kib; });
  for (const auto& [name, fig] : rest) {
    if (fig.rss_kib == 0) continue;
    absl::StrAppendFormat(&out, "    %-20s %9.1f %9.1f %9.1f\n", ShortName(name).substr(0, 20),
                          fig.rss_kib / k, fig.pss_kib / k, fig.private_kib / k);
  }
  absl::StrAppendFormat(&out, "  %-22s %9.1f\n", "page tables (VmPTE)", f.pte);
  absl::StrAppendFormat(&out, "  beyond the guest's own pages: rest Pss + VmPTE = %.1f KiB\n",
                        f.rest_pss + f.pte);
  std::vector<std::string> meminfo;
  for (size_t i = 0; i < f.meminfo_change_kib.size(); ++i) {
    meminfo.push_back(absl::StrFormat("%s %s %.1f", kMemInfoFields[i], i == 0 ? "drop" : "growth",
                                      MemInfoPerChild(f, i)));
  }
  absl::StrAppendFormat(&out,
                        "  /proc/meminfo across parking, per child (system-wide: kernel "
                        "structures included, other processes add noise): %s\n",
                        absl::StrJoin(meminfo, ", "));
  absl::StrAppendFormat(&out, "  that zerocelld's VmRSS: %d KiB before, %d KiB with the pool\n",
                        f.server_rss_before_kib, f.server_rss_after_kib);
  return out;
}

}  // namespace

Report MeasureParkedSandboxes(const BenchContext& ctx, const std::string& zerocelld, int parked) {
  Report report;
  report.json_key = "parked";
  absl::StatusOr<ParkedFigures> figures = MeasureParked(ctx, zerocelld, parked);
  if (figures.ok()) {
    report.json = ParkedJson(*figures, parked);
    report.text = ParkedText(*figures, parked);
  } else if (absl::IsInvalidArgument(figures.status()) &&
             absl::StrContains(figures.status().message(), "pool_")) {
    report.json = "\"pool flags not supported by this zerocelld\"";
    report.text = "parked sandboxes: pool flags not supported by this zerocelld; skipped\n";
  } else {
    report.failures = 1;
    report.json = absl::StrCat("{\"error\":", JsonQuote(figures.status().ToString()), "}");
    report.text = absl::StrCat(
        "!!! FAILURES: parked sandbox measurement: ", figures.status().ToString(), "\n");
  }
  return report;
}

absl::StatusOr<Report> RunMemoryReport(const MemoryOptions& options) {
  Report report;
  report.json_key = "memory";
  std::vector<std::string> json;
  if (options.server_pid > 0) {
    absl::SleepFor(absl::Milliseconds(500));  // idle: the last calls' threads settle
    ASSIGN_OR_RETURN(const int64_t rss_now, ProcStatusKib(options.server_pid, "VmRSS"));
    const std::vector<pid_t> children = testing::ChildPids(options.server_pid);
    int64_t children_pss = 0;
    for (const pid_t c : children) {
      if (absl::StatusOr<ProcessMemory> m = ReadProcessMemory(c); m.ok()) {
        children_pss += m->total.pss_kib;
      }
    }
    std::vector<std::string> parts_json, parts_text;
    for (const auto& [part, kib] : options.rss_after_part_kib) {
      parts_json.push_back(absl::StrFormat("\"after_%s\":%d", part, kib));
      parts_text.push_back(absl::StrFormat("%.1f after %s", kib / 1024.0, part));
    }
    parts_json.push_back(absl::StrFormat("\"after_scenarios_idle\":%d", rss_now));
    json.push_back(
        absl::StrFormat("\"server_rss_kib\":{\"after_start\":%d,%s},"
                        "\"server_children_after_scenarios\":{\"count\":%d,\"pss_kib\":%d}",
                        options.rss_after_start_kib, absl::StrJoin(parts_json, ","),
                        children.size(), children_pss));
    absl::StrAppendFormat(&report.text,
                          "zerocelld VmRSS, MiB: %.1f after start (idle, 200 ms after ready)%s%s, "
                          "%.1f idle after the scenarios; %d child processes then (Pss %.1f MiB "
                          "together)\n",
                          options.rss_after_start_kib / 1024.0, parts_text.empty() ? "" : ", ",
                          absl::StrJoin(parts_text, ", "), rss_now / 1024.0, children.size(),
                          children_pss / 1024.0);
  } else {
    json.push_back("\"server_rss_kib\":null");
    absl::StrAppend(&report.text, "zerocelld VmRSS: not measured (external --server)\n");
  }
  if (options.parked.has_value()) {
    json.push_back(absl::StrCat("\"parked\":", options.parked->json));
    absl::StrAppend(&report.text, options.parked->text);
    report.failures += options.parked->failures;
  } else {
    json.push_back("\"parked\":null");
  }
  report.json = absl::StrCat("{", absl::StrJoin(json, ","), "}");
  return report;
}

}  // namespace zerocell::bench

// zerocell-bench latency scenarios: hello (with the grpc_floor row) and sha256, each at every
// concurrency level against bare posix_spawn of the same guest (and bwrap when installed).
//
// An Execute side is timed from "stub call starts" to "response decoded and output checked":
// gRPC over loopback TCP, admission, the sandbox (spawn or a parked one, the supervised run) and
// the result. The bare side of hello is spawn + exec + exit with stdin and stdout on /dev/null;
// that of sha256 also writes 1 MiB into a pipe and reads the digest from another.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "bench/bench_parts.h"
#include "sandbox/image.h"

namespace zerocell::bench {
namespace {

constexpr char kHelloOutput[] = "hello from a Zerocell sandbox\n";
constexpr size_t kSha256InputBytes = 1 << 20;

struct Row {
  std::string scenario;
  int clients = 0;
  std::vector<std::string> names;  // sides
  std::vector<Stats> stats;
  std::vector<std::pair<std::string, double>> breakdown;  // of the execute side

  const Stats* Find(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return &stats[i];
    }
    return nullptr;
  }
};

std::vector<std::string> BwrapArgv(const std::string& guest, const std::string& argv0) {
  return {"bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", guest, argv0};
}

// The hello sides at one level: execute, grpc_floor, bare, bwrap (as selected / available).
absl::StatusOr<std::vector<Side>> HelloSides(
    const BenchContext& ctx, const LatencySelection& which, const std::string& image_id,
    const std::vector<std::shared_ptr<grpc::Channel>>& ch) {
  std::vector<Side> sides;
  if (which.hello) {
    sides.push_back(
        {"execute", MakeExecuteWorkload(ch, MakeExecuteRequest(image_id, {"hello"}, "", 1 << 20),
                                        ExpectOutput(kHelloOutput))});
  }
  if (which.grpc_floor) sides.push_back({"grpc_floor", MakeGetImageWorkload(ch, image_id)});
  ASSIGN_OR_RETURN(std::unique_ptr<Workload> bare, MakeSpawnWorkload(ctx.guests.hello, {"hello"}));
  sides.push_back({"bare", std::move(bare)});
  if (which.hello && !ctx.bwrap.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Workload> bwrap,
                     MakeSpawnWorkload(ctx.bwrap, BwrapArgv(ctx.guests.hello, "hello")));
    sides.push_back({"bwrap", std::move(bwrap)});
  }
  return sides;
}

std::vector<Side> Sha256Sides(const BenchContext& ctx, const std::string& image_id,
                              const std::vector<std::shared_ptr<grpc::Channel>>& ch,
                              const std::string& input, const std::string& digest_line) {
  std::vector<Side> sides;
  sides.push_back(
      {"execute", MakeExecuteWorkload(ch, MakeExecuteRequest(image_id, {"sha256"}, input, 4096),
                                      ExpectOutput(digest_line))});
  sides.push_back({"bare", MakePipedSpawnWorkload(ctx.guests.sha256, {"sha256"}, input,
                                                  ExpectOutput(digest_line))});
  if (!ctx.bwrap.empty()) {
    sides.push_back(
        {"bwrap", MakePipedSpawnWorkload(ctx.bwrap, BwrapArgv(ctx.guests.sha256, "sha256"), input,
                                         ExpectOutput(digest_line))});
  }
  return sides;
}

absl::StatusOr<Row> Measure(const BenchContext& ctx, std::string scenario, int clients,
                            std::vector<Side> sides) {
  ASSIGN_OR_RETURN(std::vector<Stats> stats, CompareSides(ctx, sides, clients));
  Row row{std::move(scenario), clients, {}, std::move(stats), {}};
  for (const Side& s : sides) {
    row.names.push_back(s.name);
    if (s.name == "execute") row.breakdown = s.workload->Breakdown();
  }
  return row;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

std::string RowJson(const Row& r) {
  std::vector<std::string> sides, ratios;
  const Stats* bare = r.Find("bare");
  for (size_t i = 0; i < r.names.size(); ++i) {
    sides.push_back(absl::StrCat(JsonQuote(r.names[i]), ":", StatsJson(r.stats[i])));
    if (r.names[i] == "bare" || bare == nullptr) continue;
    const Stats& s = r.stats[i];
    ratios.push_back(absl::StrFormat(
        "\"%s/bare\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"mean\":%.3f,\"throughput\":%.4f}",
        r.names[i], Ratio(s.p50_us, bare->p50_us), Ratio(s.p90_us, bare->p90_us),
        Ratio(s.p99_us, bare->p99_us), Ratio(s.mean_us, bare->mean_us),
        Ratio(s.per_second, bare->per_second)));
  }
  std::vector<std::string> parts;
  for (const auto& [name, us] : r.breakdown)
    parts.push_back(absl::StrFormat("\"%s\":%.1f", name, us));
  std::string out = absl::StrFormat(
      "{\"scenario\":\"%s\",\"clients\":%d,\"sides\":{%s},\"ratios\":{%s},"
      "\"execute_server_mean\":{%s}",
      r.scenario, r.clients, absl::StrJoin(sides, ","), absl::StrJoin(ratios, ","),
      absl::StrJoin(parts, ","));
  const Stats* exec = r.Find("execute");
  const Stats* floor = r.Find("grpc_floor");
  if (exec != nullptr && floor != nullptr) {
    absl::StrAppendFormat(&out,
                          ",\"split_p50_us\":{\"execute\":%.1f,\"grpc_floor\":%.1f,"
                          "\"above_floor\":%.1f}",
                          exec->p50_us, floor->p50_us, exec->p50_us - floor->p50_us);
  }
  return out + "}";
}

std::string RowsText(const std::vector<Row>& rows, const std::string& bwrap_note) {
  std::string out =
      absl::StrFormat("%-8s %7s %-16s %7s %5s %9s %9s %9s %9s %9s\n", "scenario", "clients", "side",
                      "runs", "fail", "p50_us", "p90_us", "p99_us", "mean_us", "runs/s");
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.names.size(); ++i) {
      const Stats& s = r.stats[i];
      absl::StrAppendFormat(&out, "%-8s %7d %-16s %7d %5d %9.1f %9.1f %9.1f %9.1f %9.1f\n",
                            r.scenario, r.clients, r.names[i], s.count, s.failures, s.p50_us,
                            s.p90_us, s.p99_us, s.mean_us, s.per_second);
    }
    const Stats* bare = r.Find("bare");
    for (size_t i = 0; i < r.names.size() && bare != nullptr; ++i) {
      if (r.names[i] == "bare") continue;
      const Stats& s = r.stats[i];
      absl::StrAppendFormat(&out, "%-8s %7d %-16s %7s %5s %9.2f %9.2f %9.2f %9.2f %9.3f\n",
                            r.scenario, r.clients, r.names[i] + "/bare", "", "",
                            Ratio(s.p50_us, bare->p50_us), Ratio(s.p90_us, bare->p90_us),
                            Ratio(s.p99_us, bare->p99_us), Ratio(s.mean_us, bare->mean_us),
                            Ratio(s.per_second, bare->per_second));
    }
  }
  for (const Row& r : rows) {
    const Stats* exec = r.Find("execute");
    const Stats* floor = r.Find("grpc_floor");
    if (exec != nullptr && floor != nullptr) {
      absl::StrAppendFormat(&out,
                            "%s, %d client(s): execute p50 %.1f us = grpc floor (GetImage) p50 "
                            "%.1f us + %.1f us above it\n",
                            r.scenario, r.clients, exec->p50_us, floor->p50_us,
                            exec->p50_us - floor->p50_us);
    }
    if (!r.breakdown.empty()) {
      std::vector<std::string> parts;
      for (const auto& [name, us] : r.breakdown) {
        parts.push_back(absl::StrFormat("%s %.1f", name, us));
      }
      absl::StrAppendFormat(&out,
                            "%s, %d client(s), execute as the server measured it (mean): %s\n",
                            r.scenario, r.clients, absl::StrJoin(parts, ", "));
    }
  }
  if (!bwrap_note.empty()) absl::StrAppend(&out, bwrap_note, "\n");
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.names.size(); ++i) {
      if (r.stats[i].failures == 0) continue;
      absl::StrAppendFormat(&out, "!!! FAILURES: %s, %d client(s), %s: %d runs failed; first: %s\n",
                            r.scenario, r.clients, r.names[i], r.stats[i].failures,
                            r.stats[i].first_error);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Report> RunLatencyScenarios(const BenchContext& ctx, const LatencySelection& which) {
  std::string hello_id, sha_id, input, digest_line;
  if (which.hello || which.grpc_floor) {
    ASSIGN_OR_RETURN(hello_id, Register(ctx, ctx.guests.hello));
  }
  if (which.sha256) {
    ASSIGN_OR_RETURN(sha_id, Register(ctx, ctx.guests.sha256));
    input = PseudoRandomBytes(kSha256InputBytes, 0x5eed);
    digest_line = base::Sha256Hex(input) + "\n";
  }
  std::vector<Row> rows;
  for (const bool hello : {true, false}) {
    if (hello ? !(which.hello || which.grpc_floor) : !which.sha256) continue;
    for (const int clients : ctx.levels) {
      // One channel (TCP connection) per client, shared by the gRPC sides of this level.
      std::vector<std::shared_ptr<grpc::Channel>> channels;
      for (int c = 0; c < clients; ++c) channels.push_back(OpenChannel(ctx));
      std::vector<Side> sides;
      if (hello) {
        ASSIGN_OR_RETURN(sides, HelloSides(ctx, which, hello_id, channels));
      } else {
        sides = Sha256Sides(ctx, sha_id, channels, input, digest_line);
      }
      ASSIGN_OR_RETURN(Row row,
                       Measure(ctx, hello ? "hello" : "sha256", clients, std::move(sides)));
      rows.push_back(std::move(row));
    }
  }
  Report report;
  report.json_key = "latency";
  std::vector<std::string> items;
  for (const Row& r : rows) {
    items.push_back(RowJson(r));
    for (const Stats& s : r.stats) report.failures += s.failures;
  }
  report.json = absl::StrFormat(
      "{\"sha256_input_bytes\":%d,\"bwrap\":%s,\"rows\":[%s]}", kSha256InputBytes,
      JsonQuote(ctx.bwrap.empty() ? ctx.bwrap_note : ctx.bwrap), absl::StrJoin(items, ","));
  report.text = absl::StrFormat(
      "latency: %s per side and level in %d alternating rounds after %d warm-up runs per "
      "client.\n  hello: Execute by id, stdout checked (bare: stdout on /dev/null); grpc_floor: "
      "GetImage by id on the same channels;\n  sha256: 1 MiB stdin inline, digest checked (bare "
      "and bwrap: through pipes). Latency in us, runs/s = successful runs per second.\n",
      absl::FormatDuration(ctx.duration), ctx.rounds, ctx.warmup);
  absl::StrAppend(&report.text, RowsText(rows, ctx.bwrap.empty() ? ctx.bwrap_note : ""));
  return report;
}

}  // namespace zerocell::bench

// zerocell-tree-bench: Debian's python3 from a registered tree through Execute (warm sandboxes)
// against the same python3 spawned natively, in one run; and the tree's registration time.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "api/rpc_status.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "tests/testing/files.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

ABSL_FLAG(int, runs, 100, "measured runs of each kind (alternating sandbox and native)");
ABSL_FLAG(int, warmup, 10, "unmeasured runs of each kind first");
ABSL_FLAG(std::string, tree, "",
          "the python3 tree (default: made with scripts/make-tree.sh python3 in a temp dir)");
ABSL_FLAG(std::string, zerocelld, "", "zerocelld (default: beside this binary)");

constexpr char kUsage[] =
    "Runs `python3 -c pass` and a hello-world script from a registered python3 tree through "
    "Execute (warm sandboxes) and natively, alternating; prints p50/p90 of each, their ratio and "
    "the notified syscalls per run, and how long registering the tree took.\n"
    "Usage: zerocell-tree-bench [--runs=100] [--warmup=10] [--tree=python3.tar]";

namespace zerocell::bench {
namespace {

namespace v1 = ::zerocell::v1;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kHello[] = "print('hello, world')";

absl::StatusOr<std::string> PythonTree(const testing::TempDir& dir) {
  std::string path = absl::GetFlag(FLAGS_tree);
  if (path.empty()) {
    path = dir.File("python3.tar");
    const std::string command = absl::StrCat("bash ", ZEROCELL_SOURCE_DIR,
                                             "/scripts/make-tree.sh python3 ", path, " >/dev/null");
    if (std::system(command.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("failed: ", command));
    }
  }
  return testing::ReadFile(path);
}

struct Side {
  std::vector<int64_t> ns;
  int64_t notified = 0;
};

void Print(const char* what, const Side& sandbox, const Side& native) {
  const LatencyStats s = Summarize(sandbox.ns);
  const LatencyStats n = Summarize(native.ns);
  std::printf(
      "%-22s sandbox p50 %8.0f us p90 %8.0f us | native p50 %8.0f us p90 %8.0f us | "
      "p50 ratio %.2fx | notified syscalls/run %lld\n",
      what, s.p50_us, s.p90_us, n.p50_us, n.p90_us, n.p50_us > 0 ? s.p50_us / n.p50_us : 0.0,
      static_cast<long long>(
          sandbox.ns.empty() ? 0 : sandbox.notified / static_cast<int64_t>(sandbox.ns.size())));
}

absl::Status Main() {
  testing::TempDir dir;
  ASSIGN_OR_RETURN(std::string tar, PythonTree(dir));
  std::string binary = absl::GetFlag(FLAGS_zerocelld);
  if (binary.empty()) binary = BuildDir() + "/bin/zerocelld";
  ASSIGN_OR_RETURN(std::unique_ptr<testing::ZerocelldProcess> server,
                   StartZerocelld(binary, {"--max_concurrency=1"}));
  auto stub = v1::Sandbox::NewStub(
      grpc::CreateChannel(server->grpc_address(), grpc::InsecureChannelCredentials()));

  v1::RegisterImageRequest reg;
  reg.set_tree_tar(tar);
  v1::RegisterImageResponse registered;
  const int64_t reg_start = NowNs();
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->RegisterImage(&ctx, reg, &registered);
    if (!s.ok()) return api::FromGrpcStatus(s);
  }
  const double reg_ms = static_cast<double>(NowNs() - reg_start) / 1e6;
  std::printf(
      "python3 tree: %zu bytes, %lld files, %lld ELF files; RegisterImage %.0f ms "
      "(server-side validation %.0f ms)\n",
      tar.size(), static_cast<long long>(registered.image().tree().file_count()),
      static_cast<long long>(registered.image().tree().elf_count()), reg_ms,
      static_cast<double>(registered.image().tree().validation_ns()) / 1e6);

  for (const auto& [what, args] : std::vector<std::pair<const char*, std::vector<std::string>>>{
           {"python3 -c pass", {kPython, "-c", "pass"}},
           {"python3 hello world", {kPython, "-c", kHello}}}) {
    v1::ExecuteRequest request;
    v1::Manifest* m = request.mutable_manifest();
    m->set_program_path(kPython);
    for (const std::string& a : args) m->add_argv(a);
    m->set_timeout_ms(30000);
    v1::Mount* root = m->add_mounts();
    root->set_mountpoint("/");
    root->set_tree_id(registered.image().image_id());
    ASSIGN_OR_RETURN(std::unique_ptr<BareSpawn> native, BareSpawn::Create(kPython, args));
    Side sandbox_side, native_side;
    const int runs = absl::GetFlag(FLAGS_runs), warmup = absl::GetFlag(FLAGS_warmup);
    for (int round = 0; round < warmup + runs; ++round) {
      for (bool sandbox_turn : AlternatingTurns(round)) {
        const int64_t start = NowNs();
        if (sandbox_turn) {
          grpc::ClientContext ctx;
          v1::ExecuteResponse response;
          grpc::Status s = stub->Execute(&ctx, request, &response);
          if (!s.ok()) return api::FromGrpcStatus(s);
          if (response.outcome() != v1::OUTCOME_EXITED || response.exit_code() != 0) {
            return absl::InternalError(absl::StrCat(what, ": ", response.detail()));
          }
          if (round >= warmup) {
            sandbox_side.ns.push_back(NowNs() - start);
            sandbox_side.notified += response.usage().notified_syscalls();
          }
        } else {
          RETURN_IF_ERROR(native->Run());
          if (round >= warmup) native_side.ns.push_back(NowNs() - start);
        }
      }
    }
    Print(what, sandbox_side, native_side);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-tree-bench", kUsage,
                                       zerocell::bench::Main);
}

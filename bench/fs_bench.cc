// zerocell-fs-bench: reading a 10 MiB file in 4 KiB reads from a mounted tree (its memfd injected,
// reads in the kernel) against the same bytes through an emulated channel (every read notified).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "sandbox/engine.h"
#include "sandbox/fs/file_tree.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"

ABSL_FLAG(int, runs, 20, "measured runs of each kind");
ABSL_FLAG(int, warmup, 3, "unmeasured runs of each kind first");
ABSL_FLAG(int64_t, bytes, int64_t{10} << 20, "size of the file read");
ABSL_FLAG(std::string, guest, "",
          "the fs_probe guest (default: $ZEROCELL_GUEST_DIR/fs_probe, else build/guests/fs_probe)");
ABSL_FLAG(std::string, loader, "", "zerocell-loader (default: beside this binary)");

constexpr char kUsage[] =
    "Reads a file in 4 KiB reads from a mounted tree and from a channel; prints time and "
    "notified syscalls of each and their ratio.\n"
    "Usage: zerocell-fs-bench [--runs=20] [--warmup=3] [--bytes=10485760] [--guest=PATH]";

namespace zerocell::bench {
namespace {

struct Sample {
  std::vector<int64_t> ns;
  int64_t notified = 0;
};

absl::Status Main() {
  const int64_t bytes = absl::GetFlag(FLAGS_bytes);
  std::string guest = absl::GetFlag(FLAGS_guest);
  if (guest.empty()) {
    const char* dir = getenv("ZEROCELL_GUEST_DIR");
    guest = dir != nullptr ? absl::StrCat(dir, "/fs_probe") : BuildDir() + "/guests/fs_probe";
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const sandbox::Image> image, sandbox::Image::FromFile(guest));
  ASSIGN_OR_RETURN(std::unique_ptr<sandbox::Engine> engine,
                   sandbox::Engine::Create({.loader_path = absl::GetFlag(FLAGS_loader)}));
  std::string content(static_cast<size_t>(bytes), '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  sandbox::fs::FileTreeBuilder builder;
  RETURN_IF_ERROR(builder.AddFile("blob", 0644, content));
  ASSIGN_OR_RETURN(std::shared_ptr<const sandbox::fs::FileTree> tree, std::move(builder).Build());

  sandbox::ChannelSpec data;  // the same bytes as a read-only channel
  data.alias = "/dev/blob";
  data.gets = int64_t{1} << 40;
  data.get_size = int64_t{1} << 40;
  data.initial_bytes = content;
  auto manifest = [&](bool tree_run) {
    sandbox::ManifestBuilder b;
    b.add_channel(sandbox::StdinChannel(""))
        .add_channel(sandbox::StdoutChannel(1 << 20))
        .add_channel(sandbox::StderrChannel(1 << 20))
        .set_argv({"fs_probe", "read", tree_run ? "/blob" : "/dev/blob"});
    if (tree_run) {
      b.add_mount({"/", "bench-tree"});
    } else {
      b.add_channel(data);
    }
    return b.Build();
  };
  ASSIGN_OR_RETURN(sandbox::Manifest tree_manifest, manifest(true));
  ASSIGN_OR_RETURN(sandbox::Manifest channel_manifest, manifest(false));
  sandbox::RunOptions tree_options;
  tree_options.trees = {tree};

  Sample samples[2];  // 0: tree, 1: channel
  std::string outputs[2];
  const int runs = absl::GetFlag(FLAGS_runs), warmup = absl::GetFlag(FLAGS_warmup);
  for (int round = 0; round < warmup + runs; ++round) {
    for (bool tree_first : AlternatingTurns(round)) {
      {
        const int k = tree_first ? 0 : 1;
        const int64_t start = NowNs();
        ASSIGN_OR_RETURN(sandbox::Result r,
                         k == 0 ? engine->Run(*image, tree_manifest, tree_options)
                                : engine->Run(*image, channel_manifest, sandbox::RunOptions{}));
        const int64_t elapsed = NowNs() - start;
        if (r.outcome != sandbox::Outcome::kExited || r.exit_code != 0) {
          return absl::InternalError(absl::StrCat("run ended: ", r.detail));
        }
        outputs[k] = r.channels[1].output;
        if (round >= warmup) {
          samples[k].ns.push_back(elapsed);
          samples[k].notified = r.usage.notified_syscalls;
        }
      }
    }
  }
  if (outputs[0].substr(outputs[0].find(' ')) != outputs[1].substr(outputs[1].find(' '))) {
    return absl::InternalError(absl::StrCat("the two reads differ: ", outputs[0], outputs[1]));
  }
  const LatencyStats tree_st = Summarize(samples[0].ns), chan_st = Summarize(samples[1].ns);
  std::printf("file of %lld bytes read in 4 KiB reads, %d runs each (cold Engine::Run)\n",
              static_cast<long long>(bytes), runs);
  std::printf("  tree (memfd injected, reads in the kernel): p50 %8.0f us  notified %lld\n",
              tree_st.p50_us, static_cast<long long>(samples[0].notified));
  std::printf("  channel (every read notified, emulated):    p50 %8.0f us  notified %lld\n",
              chan_st.p50_us, static_cast<long long>(samples[1].notified));
  std::printf("  channel / tree: time %.2fx, notified calls %.1fx\n",
              chan_st.p50_us / tree_st.p50_us,
              static_cast<double>(samples[1].notified) / static_cast<double>(samples[0].notified));
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-fs-bench", kUsage,
                                       zerocell::bench::Main);
}

// `zerocell run`: run one program locally under a manifest built from flags.
#include "client/run_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/remote_run.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kRunFlags[] = {
    {"timeout", "S", false, "wall-clock limit of the whole run: 2, 1.5, 500ms, 2m (default 10)"},
    {"cpu", "S", false, "CPU time limit, same forms (default: the timeout)"},
    {"memory", "BYTES", false, "guest address-space limit: 64M, 1G, ... (default 256M)"},
    {"output-limit", "BYTES", false,
     "total bytes the guest may write (default 64M; 4G when all of it is shown as written)"},
    {"processes", "N", false,
     "processes the run may have at once, 1..256 (default 1: a fork answers EAGAIN)"},
    {"stdin", "FILE", false,
     "data for the guest's stdin (default '-': this process's stdin, a pipe, file or terminal)"},
    {"no-stdin", "", false, "give the guest an empty stdin (this process's stdin is not read)"},
    {"channel", "SPEC", true,
     "ALIAS=FILE[,type=T][,gets=N][,get_size=N][,puts=N][,put_size=N][,etag][,out=FILE]"},
    {"env", "K=V", true, "an environment entry for the guest (default: empty environment)"},
    {"argv0", "NAME", false, "the guest's argv[0] (default: PROGRAM's base name)"},
    {"seed", "N", false, "seed of getrandom and AT_RANDOM (default 0)"},
    {"clock", "UNIX_SECONDS", false, "start of the guest's virtual clock (default 0, the epoch)"},
    {"json", "", false, "print the ExecuteResponse as JSON instead of the guest's output"},
    {"loader", "PATH", false, "zerocell-loader to use (default: the one beside this binary)"},
    kTreeFlag,
    kScratchFlag,
    kPolicyFlag,
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

// Applies one --channel; a standard alias (/dev/stdin, /dev/stdout, /dev/stderr) replaces the
// default channel the CLI declares for it. `inputs` has a slot per channel.
absl::Status AddChannelFlag(const std::string& text, std::vector<sandbox::ChannelSpec>& channels,
                            std::vector<OutputBinding>& outputs, ChannelInputs& inputs) {
  ASSIGN_OR_RETURN(ChannelFlag flag, ParseChannelFlag(text));
  const std::string what = absl::StrCat("--channel=", flag.spec.alias);
  std::unique_ptr<sandbox::InputSource> source;
  if (!flag.input_path.empty()) {
    // Read as the guest reads, within its quotas; never loaded whole.
    ASSIGN_OR_RETURN(source, OpenInputFile(what, flag.input_path));
  }
  auto same_alias = [&](const OutputBinding& b) { return b.alias == flag.spec.alias; };
  outputs.erase(std::remove_if(outputs.begin(), outputs.end(), same_alias), outputs.end());
  if (!flag.output_path.empty()) outputs.push_back({flag.spec.alias, flag.output_path});

  const std::string name = absl::StrCat(what, ": ", flag.input_path);
  for (size_t i = 0; i < channels.size(); ++i) {
    sandbox::ChannelSpec& existing = channels[i];
    if (existing.alias != flag.spec.alias) continue;
    const bool standard = existing.alias == sandbox::kStdinAlias ||
                          existing.alias == sandbox::kStdoutAlias ||
                          existing.alias == sandbox::kStderrAlias;
    if (!standard) return absl::InvalidArgumentError(absl::StrCat(what, ": alias given twice"));
    existing = std::move(flag.spec);
    inputs.sources[i] = std::move(source);
    inputs.names[i] = name;
    return absl::OkStatus();
  }
  channels.push_back(std::move(flag.spec));
  inputs.sources.push_back(std::move(source));
  inputs.names.push_back(name);
  return absl::OkStatus();
}

// True when every writable channel goes to this process's stdout or stderr as the guest writes
// it (write-only, sequential, bound to a terminal target) and --json does not keep it.
bool AllOutputShownLive(const std::vector<sandbox::ChannelSpec>& channels,
                        const std::vector<OutputBinding>& outputs, bool json) {
  if (json) return false;
  for (const sandbox::ChannelSpec& c : channels) {
    if (!c.writable()) continue;
    if (c.readable() || c.random_write()) return false;
    const bool live = std::any_of(outputs.begin(), outputs.end(), [&](const OutputBinding& b) {
      return b.alias == c.alias && IsTerminalTarget(b.path);
    });
    if (!live) return false;
  }
  return true;
}

}  // namespace

std::string RunHelp() {
  return absl::StrCat(
      "Usage: zerocell run [FLAGS] PROGRAM [ARGS...]\n"
      "Runs a static x86-64 ELF program in a local sandbox, or on a zerocelld with --server.\n"
      "With --tree, PROGRAM is a path in the mounted tar archives (a static or dynamically\n"
      "linked ELF there, e.g. /usr/bin/python3), and the guest sees those files read-only.\n"
      "Flags come before PROGRAM; everything after PROGRAM is passed to it untouched. The guest's\n"
      "stdout and stderr are written to this process's stdout and stderr as the guest writes\n"
      "them, and its stdin is this process's stdin unless --stdin or --no-stdin says otherwise\n"
      "(with --server over ExecuteStream, sent as the guest reads it; a manifest with\n"
      "random-access channels falls back to Execute with inputs sent whole).\n\nFlags:\n",
      FormatFlagHelp(kRunFlags),
      "\n--stdin and --channel FILEs are read as the guest reads them, within their quotas and "
      "the\n"
      "timeout, never whole: an endless or slow one (/dev/zero, a pipe) is fine.\n"
      "--channel: FILE is read as the channel's data (readable, unlimited quotas); out=FILE\n"
      "makes it writable and names where its output is written after the run. Explicit gets,\n"
      "get_size, puts, put_size (sizes take K/M/G) override those defaults. A standard alias\n"
      "(/dev/stdin, /dev/stdout, /dev/stderr) replaces the CLI's default for it.\n\n"
      "With --server (or $ZEROCELL_SERVER) the run happens on that zerocelld: same manifest,\n"
      "outputs and exit status; inputs are read here and sent with the request, and the program\n"
      "is sent only if the server does not have it yet (it is named by its sha256 first).\n\n",
      ExitCodeHelp());
}

absl::StatusOr<RunPlan> BuildRunPlan(const ParsedArgs& args) {
  if (args.positional().empty()) return absl::InvalidArgumentError("missing PROGRAM");
  sandbox::ManifestBuilder builder;

  absl::Duration timeout = sandbox::ManifestBuilder::kDefaultTimeout;
  if (args.Has("timeout")) {
    ASSIGN_OR_RETURN(timeout, ParsePositiveDuration("--timeout", args.Get("timeout")));
    if (timeout > sandbox::ManifestLimits::kMaxTimeout) {
      return absl::InvalidArgumentError("--timeout: must be at most 2147483647s");
    }
    builder.set_timeout(timeout);
  }
  if (args.Has("cpu")) {
    ASSIGN_OR_RETURN(absl::Duration cpu, ParsePositiveDuration("--cpu", args.Get("cpu")));
    builder.set_cpu_limit(std::min(cpu, timeout));
  }
  if (args.Has("memory")) {
    ASSIGN_OR_RETURN(int64_t memory, ParseByteSize("--memory", args.Get("memory")));
    if (memory < sandbox::ManifestLimits::kMinMemoryBytes ||
        memory > sandbox::ManifestLimits::kMaxMemoryBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("--memory: must be between 1M and 64G (got ", args.Get("memory"), ")"));
    }
    builder.set_memory_bytes(memory);
  }
  if (args.Has("output-limit")) {
    ASSIGN_OR_RETURN(int64_t output_limit,
                     ParseByteSize("--output-limit", args.Get("output-limit")));
    if (output_limit <= 0) return absl::InvalidArgumentError("--output-limit: must be > 0");
    builder.set_output_limit_bytes(output_limit);
  }
  if (args.Has("processes")) {
    ASSIGN_OR_RETURN(int64_t processes, ParseInt64("--processes", args.Get("processes")));
    if (processes < 1 || processes > sandbox::ManifestLimits::kMaxProcesses) {
      return absl::InvalidArgumentError(absl::StrCat("--processes: must be between 1 and ",
                                                     sandbox::ManifestLimits::kMaxProcesses,
                                                     " (got ", args.Get("processes"), ")"));
    }
    builder.set_max_processes(processes);
  }
  if (args.Has("seed")) {
    ASSIGN_OR_RETURN(uint64_t seed, ParseUint64("--seed", args.Get("seed")));
    builder.set_random_seed(seed);
  }
  if (args.Has("clock")) {
    ASSIGN_OR_RETURN(absl::Time start, ParseUnixSeconds("--clock", args.Get("clock")));
    builder.set_clock_start(start);
  }
  for (const std::string& kv : args.GetAll("env")) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("--env: expected KEY=VALUE (got \"", kv, "\")"));
    }
  }
  builder.set_env(args.GetAll("env"));

  ASSIGN_OR_RETURN(std::vector<TreeArchive> trees, ReadTreeFlags(args.GetAll("tree")));
  for (const TreeArchive& tree : trees) builder.add_mount({tree.mountpoint, tree.id});
  if (args.Has("scratch")) {
    ASSIGN_OR_RETURN(sandbox::ScratchSpec scratch, ParseScratchFlag(args.Get("scratch")));
    builder.set_scratch(std::move(scratch));
  }
  std::vector<std::string> argv(args.positional().begin(), args.positional().end());
  if (!trees.empty()) {
    // A path in the trees, kept whole as argv[0] (interpreters find their files from it).
    builder.set_program_path(argv[0]);
  }
  if (args.Has("argv0")) {
    argv[0] = args.Get("argv0");
  } else if (size_t slash = argv[0].rfind('/'); slash != std::string::npos && trees.empty()) {
    argv[0] = argv[0].substr(slash + 1);
  }
  builder.set_argv(std::move(argv));

  // Standard channels: stdin from --stdin; stdout/stderr without a quota of their own so that
  // only the output limit binds (an over-long output is OUTPUT_LIMIT, not a silent EDQUOT).
  std::vector<sandbox::ChannelSpec> channels = {sandbox::StdinChannel(""),
                                                sandbox::StdoutChannel(kUnlimitedQuota),
                                                sandbox::StderrChannel(kUnlimitedQuota)};
  ChannelInputs inputs;
  inputs.Resize(channels.size());
  // The guest's stdin is this process's stdin unless told otherwise, as for any command in a
  // pipeline; streamed as the guest reads it: an endless or slow stdin costs a bounded buffer, and
  // its waits count against the run's timeout.
  if (args.Has("stdin") && args.GetBool("no-stdin")) {
    return absl::InvalidArgumentError("--no-stdin: cannot be combined with --stdin");
  }
  const std::string stdin_path = args.Has("stdin") ? args.Get("stdin") : "-";
  // A closed stdin (no descriptor 0) is an empty one, unless --stdin=- asked for it explicitly.
  const bool stdin_open = fcntl(STDIN_FILENO, F_GETFD) >= 0;
  if (!args.GetBool("no-stdin") && (args.Has("stdin") || stdin_open)) {
    ASSIGN_OR_RETURN(inputs.sources[0], OpenInputFile("--stdin", stdin_path));
    inputs.names[0] = absl::StrCat("--stdin: ", stdin_path);
  }
  std::vector<OutputBinding> outputs = {{std::string(sandbox::kStdoutAlias), "/dev/stdout"},
                                        {std::string(sandbox::kStderrAlias), "/dev/stderr"}};
  for (const std::string& text : args.GetAll("channel")) {
    RETURN_IF_ERROR(AddChannelFlag(text, channels, outputs, inputs));
  }
  // Output shown as written is held nowhere (here or on a server): it is not bound by the 64 MiB
  // default, as `cat` in a pipeline is not; output kept for --json or a file is.
  if (!args.Has("output-limit") && AllOutputShownLive(channels, outputs, args.GetBool("json"))) {
    builder.set_output_limit_bytes(kLiveOutputLimitBytes);
  }
  for (sandbox::ChannelSpec& channel : channels) builder.add_channel(std::move(channel));

  absl::StatusOr<sandbox::Manifest> manifest = builder.Build();
  if (!manifest.ok()) {
    return absl::Status(manifest.status().code(),
                        absl::StrCat("manifest: ", manifest.status().message()));
  }
  return RunPlan{args.positional()[0], *std::move(manifest), std::move(outputs), std::move(inputs),
                 std::move(trees)};
}

int RunCommand(absl::Span<const std::string> args) {
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kRunFlags);
  if (!parsed.ok()) {
    return Fail(kExitUsage,
                absl::StrCat("run: ", parsed.status().message(), " (see zerocell run --help)"));
  }
  if (parsed->GetBool("help")) {
    (void)WriteAllToFd(STDOUT_FILENO, RunHelp());
    return 0;
  }
  absl::StatusOr<RunPlan> plan = BuildRunPlan(*parsed);
  if (!plan.ok()) {
    const absl::StatusCode code = plan.status().code();
    const bool usage = code == absl::StatusCode::kInvalidArgument ||
                       code == absl::StatusCode::kNotFound ||
                       code == absl::StatusCode::kPermissionDenied;
    return Fail(usage ? kExitUsage : kExitInternal, absl::StrCat("run: ", plan.status().message()));
  }
  const ClientOptions remote = ClientOptionsFromArgs(*parsed);
  if (absl::Status s = CheckModeFlags(*parsed, remote); !s.ok()) {
    return Fail(kExitUsage, absl::StrCat("run: ", s.message()));
  }
  absl::StatusOr<image::InstructionPolicy> policy = PolicyFromArgs(*parsed);
  if (!policy.ok()) return Fail(kExitUsage, absl::StrCat("run: ", policy.status().message()));
  const bool json = parsed->GetBool("json");
  std::set<std::string> streamed;
  int exit_code = 0;
  // Without --json, stdout/stderr reach the terminal as the guest writes them.
  std::optional<zerocell::v1::ExecuteResponse> response =
      ExecuteProgram(remote, parsed->Get("loader"), *policy, plan->program, "", plan->manifest,
                     json ? absl::Span<const OutputBinding>() : plan->outputs, &streamed,
                     &exit_code, &plan->inputs, plan->trees);
  if (!response.has_value()) return exit_code;
  bool delivered = WriteChannelOutputs(*response, plan->outputs, json, streamed);
  if (json) delivered = PrintJson(*response) && delivered;
  if (std::string summary = OutcomeSummary(*response); !summary.empty()) {
    (void)WriteAllToFd(STDERR_FILENO, summary + "\n");
  }
  if (!delivered) return kExitInternal;
  return ExitCodeForResponse(*response);
}

}  // namespace zerocell::client

// `zerocell manifest`: run a classic ZeroVM manifest locally, with channels bound to host files.
#include "client/manifest_command.h"

#include <unistd.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "client/classic_report.h"
#include "client/cli_args.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/remote_run.h"
#include "client/tree_mounts.h"
#include "image/image_id.h"
#include "sandbox/image.h"
#include "sandbox/manifest/classic_parser.h"
#include "sandbox/manifest/nvram.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kManifestFlags[] = {
    {"report", "", false, "print the labelled ZeroVM-style report on stdout after the run"},
    {"json", "", false,
     "print the ExecuteResponse as JSON instead of the report and the "
     "channels bound to /dev/stdout or /dev/stderr"},
    {"output-limit", "BYTES", false, "total bytes the guest may write (default 64M)"},
    {"argv0", "NAME", false, "the guest's argv[0] (default: the basename of Program)"},
    {"loader", "PATH", false, "zerocell-loader to use (default: the one beside this binary)"},
    kPolicyFlag,
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace

std::string ManifestHelp() {
  return absl::StrCat(
      "Usage: zerocell manifest [FLAGS] FILE [ARGS...]\n"
      "Runs a classic ZeroVM manifest, Version 20130611 (Channel = uri, alias, type, etag, gets,\n"
      "get_size, puts, put_size) or 20140509 (7-field channels, /boot/elf). Readable channels\n"
      "read the host file named by their uri as the guest reads it (within quotas and Timeout);\n"
      "writable channels are written back to their uri after the run (uri /dev/stdout and\n"
      "/dev/stderr are this process's own; /dev/stdin is read from its stdin). Relative paths are\n"
      "taken from the working directory. Program (or the /boot/elf channel) names the ELF to run.\n"
      "A /dev/nvram channel gives argv ([args]), environment ([env]) and clock ([time]); without\n"
      "it argv is the basename of Program. --argv0 replaces argv[0]; ARGS are appended. Its\n"
      "[fstab] records (channel=ALIAS, mountpoint=PATH, access=ro) mount the tar archive that\n"
      "channel's uri holds read-only at PATH; the channel stays readable. With\n"
      "--server (or $ZEROCELL_SERVER) it runs on that zerocelld; host files are still read (up to\n"
      "64 MiB, sent inline) and written here.\n"
      "\nFlags:\n",
      FormatFlagHelp(kManifestFlags), "\n", ExitCodeHelp());
}

absl::StatusOr<ManifestPlan> BuildManifestPlan(const std::string& path, int64_t output_limit,
                                               std::vector<std::string> argv) {
  // Bounded: a manifest larger than ZeroVM's limit is refused anyway, and /dev/zero never ends.
  absl::StatusOr<std::string> text = ReadInputFile("manifest", path, sandbox::kClassicMaxBytes + 1);
  if (!text.ok()) return text.status();
  absl::StatusOr<sandbox::ClassicManifest> classic = sandbox::ParseClassicManifest(*text);
  if (!classic.ok()) return WithPrefix(classic.status(), path);

  std::vector<OutputBinding> outputs;
  ChannelInputs inputs;
  std::vector<std::string> nvram(classic->channels.size());
  inputs.Resize(classic->channels.size());
  for (size_t i = 0; i < classic->channels.size(); ++i) {
    const sandbox::ClassicChannel& channel = classic->channels[i];
    // Relative uris are opened from the working directory, as ZeroVM opened Program.
    const std::string source = channel.uri == "/dev/stdin" ? "-" : channel.uri;
    const std::string what = absl::StrFormat("%s: line %d: Channel uri", path, channel.line);
    if (channel.spec.readable() && channel.spec.alias == sandbox::kNvramAlias) {
      // The nvram configures the run (argv, env, clock), so it is read now; the guest reads the
      // same bytes.
      ASSIGN_OR_RETURN(nvram[i], ReadInputFile(what, source, sandbox::kClassicMaxBytes));
    } else if (channel.spec.readable()) {
      // Every other input is read as the guest reads it, within its quotas and the timeout.
      ASSIGN_OR_RETURN(inputs.sources[i], OpenInputFile(what, source));
      inputs.names[i] = absl::StrCat(what, " ", source);
    }
    if (channel.spec.writable()) outputs.push_back({channel.spec.alias, channel.uri});
  }
  std::vector<sandbox::ClassicMount> mounts;
  absl::StatusOr<sandbox::ManifestBuilder> builder =
      sandbox::ToManifestBuilder(*classic, std::move(nvram), &mounts);
  if (!builder.ok()) return WithPrefix(builder.status(), path);
  builder->set_output_limit_bytes(output_limit);
  // [fstab]: each archive is its channel's host file, read whole and mounted read-only. The
  // channel stays declared and is served from the same file as the guest reads it, as ZRT left
  // it readable beside the mounted tree.
  std::vector<TreeArchive> trees;
  for (const sandbox::ClassicMount& mount : mounts) {
    const sandbox::ClassicChannel& channel = classic->channels[mount.channel];
    const std::string what = absl::StrFormat("%s: %s: [fstab] archive of the Channel at line %d",
                                             path, mount.context, channel.line);
    if (mount.mountpoint == sandbox::ManifestBuilder::kDefaultScratchPath) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": mountpoint \"", mount.mountpoint,
                       "\" is the writable scratch directory every run with file trees has"));
    }
    // A regular file: the archive is read whole before the run (a pipe could not serve the
    // channel as well). Not one (FAILED_PRECONDITION) is the manifest's error, as a missing one.
    absl::StatusOr<std::string> bytes = sandbox::ReadImageFile(channel.uri);
    if (!bytes.ok()) {
      const absl::StatusCode code = absl::IsFailedPrecondition(bytes.status())
                                        ? absl::StatusCode::kInvalidArgument
                                        : bytes.status().code();
      return absl::Status(code, absl::StrCat(what, ": ", bytes.status().message()));
    }
    TreeArchive tree{channel.uri, mount.mountpoint, *std::move(bytes), "",
                     absl::StrCat(what, " (", channel.uri, ")")};
    tree.id = image::ImageIdOf(tree.bytes);
    builder->add_mount({tree.mountpoint, tree.id});
    trees.push_back(std::move(tree));
  }
  // argv: the nvram's [args] (or the Program's basename); --argv0 replaces argv[0], ARGS follow.
  std::vector<std::string> full = builder->argv();
  if (!argv.empty() && !argv[0].empty()) full[0] = argv[0];
  if (argv.size() > 1) full.insert(full.end(), argv.begin() + 1, argv.end());
  builder->set_argv(std::move(full));
  absl::StatusOr<sandbox::Manifest> manifest = builder->Build();
  if (!manifest.ok()) return WithPrefix(manifest.status(), path);
  return ManifestPlan{classic->program, *std::move(manifest), std::move(outputs), std::move(inputs),
                      std::move(trees)};
}

int ManifestCommand(absl::Span<const std::string> args) {
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kManifestFlags);
  if (!parsed.ok()) {
    return Fail(kExitUsage, absl::StrCat("manifest: ", parsed.status().message(),
                                         " (see zerocell manifest --help)"));
  }
  if (parsed->GetBool("help")) {
    (void)WriteAllToFd(STDOUT_FILENO, ManifestHelp());
    return 0;
  }
  if (parsed->positional().empty()) {
    return Fail(kExitUsage, "manifest: expected a manifest FILE (see zerocell manifest --help)");
  }
  const ClientOptions remote = ClientOptionsFromArgs(*parsed);
  if (absl::Status s = CheckModeFlags(*parsed, remote); !s.ok()) {
    return Fail(kExitUsage, absl::StrCat("manifest: ", s.message()));
  }
  absl::StatusOr<image::InstructionPolicy> policy = PolicyFromArgs(*parsed);
  if (!policy.ok()) return Fail(kExitUsage, absl::StrCat("manifest: ", policy.status().message()));
  const bool json = parsed->GetBool("json");
  const bool report = parsed->GetBool("report");
  if (json && report) return Fail(kExitUsage, "manifest: --json and --report exclude each other");
  int64_t output_limit = sandbox::ManifestBuilder::kDefaultOutputLimitBytes;
  if (parsed->Has("output-limit")) {
    absl::StatusOr<int64_t> limit = ParseByteSize("--output-limit", parsed->Get("output-limit"));
    if (!limit.ok()) return Fail(kExitUsage, absl::StrCat("manifest: ", limit.status().message()));
    if (*limit <= 0) return Fail(kExitUsage, "manifest: --output-limit: must be > 0");
    output_limit = *limit;
  }

  // argv: argv0 (default: the Program's basename, filled in by BuildManifestPlan), then ARGS.
  std::vector<std::string> argv;
  const std::vector<std::string>& positional = parsed->positional();
  if (parsed->Has("argv0") || positional.size() > 1) {
    argv.push_back(parsed->Get("argv0"));
    argv.insert(argv.end(), positional.begin() + 1, positional.end());
  }
  absl::StatusOr<ManifestPlan> plan =
      BuildManifestPlan(positional[0], output_limit, std::move(argv));
  if (!plan.ok()) {
    const absl::StatusCode code = plan.status().code();
    const bool bad_input = code == absl::StatusCode::kInvalidArgument ||
                           code == absl::StatusCode::kNotFound ||
                           code == absl::StatusCode::kPermissionDenied;
    return Fail(bad_input ? kExitUsage : kExitInternal, plan.status().message());
  }
  const std::string program_context = absl::StrCat(parsed->positional()[0], ": Program ");
  std::set<std::string> streamed;
  int exit_code = 0;
  // Channels bound to /dev/stdout or /dev/stderr are shown live unless the output is JSON.
  std::optional<zerocell::v1::ExecuteResponse> response =
      ExecuteProgram(remote, parsed->Get("loader"), *policy, plan->program, program_context,
                     plan->manifest, json ? absl::Span<const OutputBinding>() : plan->outputs,
                     &streamed, &exit_code, &plan->inputs, plan->trees);
  if (!response.has_value()) return exit_code;
  // Channels go back to their uris even when the guest did not exit normally: ZeroVM writes
  // them as the session goes, so partial outputs are what a user of a failed session expects.
  bool delivered = WriteChannelOutputs(*response, plan->outputs, json, streamed);
  if (json) delivered = PrintJson(*response) && delivered;
  if (report)
    delivered =
        WriteAllToFd(STDOUT_FILENO, FormatClassicReport(*response, !remote.address.empty())).ok() &&
        delivered;
  if (std::string summary = OutcomeSummary(*response); !summary.empty()) {
    (void)WriteAllToFd(STDERR_FILENO, summary + "\n");
  }
  if (!delivered) return kExitInternal;
  return ExitCodeForResponse(*response);
}

}  // namespace zerocell::client

// `zerocell doctor`: the host probe's findings, here or from a server; see doctor_command.h.
#include "client/doctor_command.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/host_report_proto.h"
#include "api/report_proto.h"
#include "client/cli_args.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/local_run.h"
#include "client/remote_client.h"
#include "client/remote_run.h"
#include "client/report_text.h"
#include "google/protobuf/util/json_util.h"
#include "image/validator.h"
#include "sandbox/host/host_probe.h"
#include "version/version.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kDoctorFlags[] = {
    {"json", "", false, "print zerocell.v1.HostReport (or ServerInfo with --server) as JSON"},
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

bool PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return false;
  json.push_back('\n');
  return WriteAllToFd(STDOUT_FILENO, json).ok();
}

std::string PolicyText(v1::InstructionPolicy policy) {
  std::optional<image::InstructionPolicy> p = api::PolicyFromProto(policy);
  return p.has_value() ? std::string(image::PolicyName(*p)) : "unspecified";
}

std::string FormatServerInfo(const std::string& address, const v1::ServerInfo& info) {
  const v1::ServerCaps& c = info.caps();
  std::string out = absl::StrFormat(
      "server %s: zerocelld %s (commit %s), instruction policy %s, warm pool %s\n"
      "caps: timeout %d ms, memory %d B, %d channels, inline %d B, output %d B (stream %d B), "
      "args %d B, image %d B, message %d B, %d concurrent, queue %d (wait %d ms)\n"
      "host:\n",
      address, info.version(), info.commit(), PolicyText(info.instruction_policy()),
      info.warm_pool() ? "on" : "off", c.max_timeout_ms(), c.max_memory_bytes(), c.max_channels(),
      c.max_inline_bytes(), c.max_output_bytes(), c.max_stream_output_bytes(), c.max_args_bytes(),
      c.max_image_bytes(), c.max_message_bytes(), c.max_concurrency(), c.max_queue(),
      c.max_queue_wait_ms());
  absl::StrAppend(&out, FormatHostReport(info.host()));
  return out;
}

int Remote(const ClientOptions& options, bool json) {
  absl::StatusOr<std::unique_ptr<RemoteClient>> client = RemoteClient::Create(options);
  if (!client.ok()) return Fail(kExitUsage, client.status().message());
  absl::StatusOr<v1::ServerInfo> info = (*client)->GetServerInfo();
  if (!info.ok())
    return FailRpc(absl::StrCat("doctor: server ", options.address, ": "), info.status());
  const bool printed =
      json ? PrintJson(*info)
           : WriteAllToFd(STDOUT_FILENO, FormatServerInfo(options.address, *info)).ok();
  return printed ? 0 : kExitInternal;
}

int Local(bool json) {
  const sandbox::host::HostCapabilities caps = sandbox::host::ProbeHost();
  const absl::Status usable = sandbox::host::CheckUsable(caps);
  const v1::HostReport report = api::HostReportToProto(caps);
  bool printed;
  if (json) {
    printed = PrintJson(report);
  } else {
    std::string text = absl::StrCat(version::VersionLine("zerocell"), " on this host:\n",
                                    FormatHostReport(report));
    absl::StrAppend(
        &text, usable.ok() ? "sandboxes can run here\n"
                           : absl::StrCat("sandboxes cannot run here: ", usable.message(), "\n"));
    printed = WriteAllToFd(STDOUT_FILENO, text).ok();
  }
  if (!usable.ok()) return kExitInternal;
  return printed ? 0 : kExitInternal;
}

}  // namespace

std::string DoctorHelp() {
  return absl::StrCat(
      "Usage: zerocell doctor [FLAGS]\n"
      "Finds out by experiment what this host enforces (seccomp user notification, whether\n"
      "rdtsc and cpuid can be trapped, address randomization control, what int 0x80 does, the\n"
      "uid and capabilities sandboxes run with, ...) and prints each finding with what it means\n"
      "for Zerocell's guarantees, as an engine starting here would see it. With --server, the\n"
      "same for that zerocelld's host, with its version, policy and caps (GetServerInfo).\n\n"
      "Flags:\n",
      FormatFlagHelp(kDoctorFlags),
      "\nExit status: 0 sandboxes can run, 125 they cannot (or the server is unreachable), 2 "
      "usage error.\n");
}

int DoctorCommand(absl::Span<const std::string> args) {
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kDoctorFlags);
  if (!parsed.ok()) {
    return Fail(kExitUsage, absl::StrCat("doctor: ", parsed.status().message(),
                                         " (see zerocell doctor --help)"));
  }
  if (parsed->GetBool("help")) {
    (void)WriteAllToFd(STDOUT_FILENO, DoctorHelp());
    return 0;
  }
  if (!parsed->positional().empty()) {
    return Fail(kExitUsage,
                absl::StrCat("doctor: unexpected argument \"", parsed->positional()[0], "\""));
  }
  const ClientOptions remote = ClientOptionsFromArgs(*parsed);
  if (absl::Status s = CheckModeFlags(*parsed, remote); !s.ok()) {
    return Fail(kExitUsage, absl::StrCat("doctor: ", s.message()));
  }
  const bool json = parsed->GetBool("json");
  return remote.address.empty() ? Local(json) : Remote(remote, json);
}

}  // namespace zerocell::client

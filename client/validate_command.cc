// `zerocell validate`: the admission checks of a zerocelld (ELF + instruction policy), offline.
#include "client/validate_command.h"

#include <unistd.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/report_proto.h"
#include "client/cli_args.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/local_run.h"
#include "client/report_text.h"
#include "google/protobuf/util/json_util.h"
#include "sandbox/image.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kValidateFlags[] = {
    {"policy", "standard|deterministic", false,
     "instruction policy to check against (default standard)"},
    {"json", "", false, "print the zerocell.v1.ValidationReport as JSON"},
    {"help", "", false, "show this help"},
};

bool PrintReportJson(const image::ValidationReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(api::ReportToProto(report), &json, options);
  if (!status.ok()) {
    Fail(0, absl::StrCat("validate: JSON: ", status.ToString()));
    return false;
  }
  json.push_back('\n');
  return WriteAllToFd(STDOUT_FILENO, json).ok();
}

}  // namespace

std::string ValidateHelp() {
  return absl::StrCat(
      "Usage: zerocell validate [FLAGS] PROGRAM\n"
      "Runs the checks a zerocelld makes before it accepts an image, here and offline:\n"
      "  - ELF: 64-bit x86-64 little-endian, ET_EXEC or static-pie, no PT_INTERP, program\n"
      "    headers inside the file and sane (aligned, bounded, not overlapping), no segment both\n"
      "    writable and executable, entry point in an executable segment, size cap;\n"
      "  - instructions: every byte of every executable segment decoded (Zydis); int n other\n"
      "    than int3, sysenter, far jmp/call/ret, iret, segment register loads, wrfsbase and\n"
      "    wrgsbase, port I/O and privileged instructions are refused. The deterministic policy\n"
      "    also refuses rdtsc, rdtscp, rdrand, rdseed, rdpid, rdpru, umonitor, umwait, tpause\n"
      "    and xbegin (standard lists them as warnings).\n"
      "This is an admission check that gives early, precise errors; the sandbox itself (seccomp,\n"
      "rlimits, a process of its own) is what enforces the rules at run time.\n\nFlags:\n",
      FormatFlagHelp(kValidateFlags),
      "\nExit status: 0 accepted, 126 refused (the reason on stderr), 127 PROGRAM not found,\n"
      "2 usage error.\n");
}

std::string FormatValidation(const std::string& program, const image::Validation& validation) {
  const image::ValidationReport& r = validation.report;
  // A refusal's reason names the policy when an instruction was refused.
  std::string out =
      validation.status.ok()
          ? absl::StrFormat("%s: accepted (%s policy)\n", program, PolicyName(r.policy))
          : absl::StrFormat("%s: refused: %s\n", program, validation.status.message());
  // An image refused by the ELF checks has no layout to describe.
  if (r.load_segments == 0) return out;
  absl::StrAppend(&out, FormatReportText(api::ReportToProto(r)));
  return out;
}

int ValidateCommand(absl::Span<const std::string> args) {
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(args, kValidateFlags);
  if (!parsed.ok()) {
    return Fail(kExitUsage, absl::StrCat("validate: ", parsed.status().message(),
                                         " (see zerocell validate --help)"));
  }
  if (parsed->GetBool("help")) {
    (void)WriteAllToFd(STDOUT_FILENO, ValidateHelp());
    return 0;
  }
  image::ValidatorOptions options;
  if (parsed->Has("policy")) {
    const std::string name = parsed->Get("policy");
    std::optional<image::InstructionPolicy> policy = image::PolicyFromName(name);
    if (!policy.has_value()) {
      return Fail(kExitUsage, absl::StrCat("validate: --policy: expected standard or "
                                           "deterministic (got \"",
                                           name, "\")"));
    }
    options.policy = *policy;
  }
  if (parsed->positional().size() != 1) {
    return Fail(kExitUsage, parsed->positional().empty()
                                ? "validate: missing PROGRAM (see zerocell validate --help)"
                                : "validate: expected exactly one PROGRAM");
  }
  const std::string& path = parsed->positional()[0];
  // The engine's reader: O_NONBLOCK, regular files only, size-capped (a FIFO fails at once).
  absl::StatusOr<std::string> bytes = sandbox::ReadImageFile(path, options.max_image_bytes);
  if (!bytes.ok()) {
    const absl::StatusCode code = bytes.status().code();
    const bool missing =
        code == absl::StatusCode::kNotFound || code == absl::StatusCode::kPermissionDenied;
    return Fail(missing ? kExitProgramNotFound : kExitProgramRefused,
                absl::StrCat("validate: ", bytes.status().message()));
  }
  const image::Validation validation = image::ValidateImage(*bytes, options);
  const bool printed = parsed->GetBool("json")
                           ? PrintReportJson(validation.report)
                           : WriteAllToFd(STDOUT_FILENO, FormatValidation(path, validation)).ok();
  if (!validation.status.ok()) {
    return Fail(kExitProgramRefused,
                absl::StrCat("validate: ", path, ": refused: ", validation.status.message()));
  }
  return printed ? 0 : kExitInternal;
}

}  // namespace zerocell::client

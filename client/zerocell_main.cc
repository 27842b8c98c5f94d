// The zerocell CLI: `zerocell run|manifest|register|images|validate|help ...` (local, or on a
// zerocelld).
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/batch_command.h"
#include "client/cli_values.h"
#include "client/doctor_command.h"
#include "client/exit_codes.h"
#include "client/image_commands.h"
#include "client/local_run.h"
#include "client/manifest_command.h"
#include "client/run_command.h"
#include "client/validate_command.h"
#include "version/version.h"

namespace zerocell::client {
namespace {

constexpr absl::string_view kUsage =
    R"(Usage: zerocell COMMAND [FLAGS] ...
Runs untrusted static x86-64 Linux programs in a sandbox (ZeroVM-style channels and limits).

Commands:
  run [FLAGS] PROGRAM [ARGS...]   run a program; its stdout/stderr become the CLI's
  manifest [FLAGS] FILE           run a classic ZeroVM manifest, channels bound to host files
  batch [FLAGS] PROGRAM           run PROGRAM once per JSON line of stdin on a server (one call)
  register [FLAGS] PROGRAM        upload a program to a server; print its image id and report
  images [FLAGS]                  list the images a server has cached
  validate [FLAGS] PROGRAM        check a program offline as a server's admission would
  doctor [FLAGS]                  what this host (or a server's) enforces, and what it means
  version [--json]                print this CLI's version and the commit it was built from
  help [COMMAND]                  show this help or a command's flags

run and manifest run here unless --server=ADDR (or $ZEROCELL_SERVER) names a zerocelld;
--tls_ca=PEM (and --tls_cert/--tls_key for mutual TLS) make that connection TLS.

Examples:
  zerocell run --timeout=2 --stdin=words.txt /bin/busybox sort -r
  zerocell run --json --memory=64M ./guest arg1
  zerocell manifest --report job.manifest
  zerocell run --server=127.0.0.1:50051 --json ./guest
  zerocell register --server=127.0.0.1:50051 ./guest
  zerocell batch --server=127.0.0.1:50051 ./guest < runs.jsonl
  zerocell validate --policy=deterministic ./guest
  zerocell run --server=dns:///zerocell-headless.ns.svc:50051 ./guest    # every replica

)";

int Help(const std::vector<std::string>& rest) {
  std::string text;
  if (!rest.empty() && rest[0] == "run") {
    text = RunHelp();
  } else if (!rest.empty() && rest[0] == "manifest") {
    text = ManifestHelp();
  } else if (!rest.empty() && rest[0] == "batch") {
    text = BatchHelp();
  } else if (!rest.empty() && rest[0] == "register") {
    text = RegisterHelp();
  } else if (!rest.empty() && rest[0] == "images") {
    text = ImagesHelp();
  } else if (!rest.empty() && rest[0] == "validate") {
    text = ValidateHelp();
  } else if (!rest.empty() && rest[0] == "doctor") {
    text = DoctorHelp();
  } else if (!rest.empty()) {
    return Fail(kExitUsage, absl::StrCat("help: unknown command \"", rest[0], "\""));
  } else {
    text = absl::StrCat(kUsage, ExitCodeHelp());
  }
  (void)WriteAllToFd(STDOUT_FILENO, text);
  return 0;
}

// `zerocell version [--json]` (also `zerocell --version`).
int Version(const std::vector<std::string>& rest) {
  const bool json = rest.size() == 1 && (rest[0] == "--json" || rest[0] == "--json=true");
  if (!rest.empty() && !json) {
    return Fail(kExitUsage, absl::StrCat("version: unexpected argument \"", rest[0],
                                         "\" (usage: zerocell version [--json])"));
  }
  (void)WriteAllToFd(
      STDOUT_FILENO,
      absl::StrCat(json ? version::VersionJson() : version::VersionLine("zerocell"), "\n"));
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    (void)WriteAllToFd(STDERR_FILENO, kUsage);
    return kExitUsage;
  }
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "run") return RunCommand(rest);
  if (command == "manifest") return ManifestCommand(rest);
  if (command == "batch") return BatchCommand(rest);
  if (command == "register") return RegisterCommand(rest);
  if (command == "images") return ImagesCommand(rest);
  if (command == "validate") return ValidateCommand(rest);
  if (command == "doctor") return DoctorCommand(rest);
  if (command == "version" || command == "--version") return Version(rest);
  if (command == "help" || command == "--help" || command == "-h") return Help(rest);
  return Fail(kExitUsage,
              absl::StrCat("unknown command \"", command,
                           "\" (commands: run, manifest, batch, register, images, validate, "
                           "doctor, version, help)"));
}

}  // namespace
}  // namespace zerocell::client

int main(int argc, char** argv) { return zerocell::client::Main(argc, argv); }

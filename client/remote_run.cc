// Remote mode of the zerocell CLI: connection flags and running a program on a zerocelld.
#include "client/remote_run.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/manifest_proto.h"
#include "api/rpc_status.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/interrupt_signals.h"
#include "client/local_run.h"
#include "client/report_text.h"
#include "client/stream_run.h"
#include "google/protobuf/util/json_util.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/image.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::client {
namespace {

using sandbox::sys::UniqueFd;

std::string FlagOrEnv(const ParsedArgs& args, absl::string_view flag, absl::string_view env) {
  if (args.Has(flag)) return args.Get(flag);
  const char* value = std::getenv(std::string(env).c_str());
  return value != nullptr ? value : "";
}

// Cancels a call when SIGINT/SIGTERM/SIGHUP arrives. The handler only writes to an eventfd
// (grpc::ClientContext::TryCancel is not async-signal-safe); this thread does the cancelling.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(CallCanceller* canceller)
      : interrupt_fd_(eventfd(0, EFD_CLOEXEC)), stop_fd_(eventfd(0, EFD_CLOEXEC)) {
    if (!ok()) return;
    signals_.emplace(interrupt_fd_.get());
    thread_ = std::thread([this, canceller] { Watch(canceller); });
  }
  ~InterruptWatcher() {
    if (thread_.joinable()) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(stop_fd_.get(), &one, sizeof one);
      thread_.join();
    }
    signals_.reset();  // the old handlers are back before the eventfd closes
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  bool ok() const { return interrupt_fd_.get() >= 0 && stop_fd_.get() >= 0; }
  int signal() const { return signals_.has_value() ? signals_->signal() : 0; }

 private:
  void Watch(CallCanceller* canceller) {
    pollfd fds[2] = {{interrupt_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    while (true) {
      const int n = ::poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if ((fds[0].revents & POLLIN) != 0) {
        canceller->Cancel();
        return;
      }
      if (fds[1].revents != 0) return;
    }
  }

  UniqueFd interrupt_fd_;
  UniqueFd stop_fd_;
  std::optional<ScopedInterruptSignals> signals_;
  std::thread thread_;
};

}  // namespace

// The file is read once; the sealed memfd FromBytes would also build is for local runs only.
std::optional<std::string> ReadCheckedProgram(const std::string& path,
                                              absl::string_view program_context, int* exit_code) {
  absl::StatusOr<std::string> bytes = sandbox::ReadImageFile(path);
  absl::Status status = bytes.status();
  if (bytes.ok()) {
    status = sandbox::elf::ParseElf(*bytes).status();
    if (status.ok()) return *std::move(bytes);
    // As Image::FromFile words it: ELF errors do not name the file, reader errors do.
    status = absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  }
  const bool missing = status.code() == absl::StatusCode::kNotFound ||
                       status.code() == absl::StatusCode::kPermissionDenied;
  *exit_code = Fail(missing ? kExitProgramNotFound : kExitProgramRefused,
                    absl::StrCat(program_context, status.message()));
  return std::nullopt;
}

std::optional<Connected> ParseAndConnect(absl::string_view command,
                                         absl::Span<const std::string> words,
                                         absl::Span<const FlagSpec> flags, const std::string& help,
                                         int* exit_code) {
  absl::StatusOr<ParsedArgs> parsed = ParseFlags(words, flags);
  if (!parsed.ok()) {
    *exit_code = Fail(kExitUsage, absl::StrFormat("%s: %s (see zerocell %s --help)", command,
                                                  parsed.status().message(), command));
    return std::nullopt;
  }
  if (parsed->GetBool("help")) {
    (void)WriteAllToFd(STDOUT_FILENO, help);
    *exit_code = 0;
    return std::nullopt;
  }
  const ClientOptions options = ClientOptionsFromArgs(*parsed);
  if (absl::Status s = CheckModeFlags(*parsed, options); !s.ok()) {
    *exit_code = Fail(kExitUsage, absl::StrCat(command, ": ", s.message()));
    return std::nullopt;
  }
  if (options.address.empty()) {
    *exit_code =
        Fail(kExitUsage, absl::StrCat(command, ": needs a server: --server=ADDR or $", kServerEnv));
    return std::nullopt;
  }
  absl::StatusOr<std::unique_ptr<RemoteClient>> client = RemoteClient::Create(options);
  if (!client.ok()) {
    *exit_code = Fail(kExitUsage, absl::StrCat(command, ": ", client.status().message()));
    return std::nullopt;
  }
  return Connected{*std::move(parsed), *std::move(client)};
}

bool PrintMessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    Fail(0, absl::StrCat("JSON: ", status.ToString()));
    return false;
  }
  json.push_back('\n');
  return WriteAllToFd(STDOUT_FILENO, json).ok();
}

absl::StatusOr<image::InstructionPolicy> PolicyFromArgs(const ParsedArgs& args) {
  if (!args.Has(kPolicyFlag.name)) return image::InstructionPolicy::kStandard;
  const std::string name = args.Get(kPolicyFlag.name);
  std::optional<image::InstructionPolicy> policy = image::PolicyFromName(name);
  if (!policy.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--policy: expected standard or deterministic (got \"", name, "\")"));
  }
  return *policy;
}

ClientOptions ClientOptionsFromArgs(const ParsedArgs& args) {
  ClientOptions options;
  options.address = FlagOrEnv(args, kServerFlag.name, kServerEnv);
  options.tls_ca_file = FlagOrEnv(args, kTlsCaFlag.name, kTlsCaEnv);
  options.tls_cert_file = FlagOrEnv(args, kTlsCertFlag.name, kTlsCertEnv);
  options.tls_key_file = FlagOrEnv(args, kTlsKeyFlag.name, kTlsKeyEnv);
  return options;
}

absl::Status CheckModeFlags(const ParsedArgs& args, const ClientOptions& options) {
  if (options.address.empty()) {
    for (const FlagSpec* flag : {&kTlsCaFlag, &kTlsCertFlag, &kTlsKeyFlag}) {
      if (args.Has(flag->name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag->name, ": only with --server (or $", kServerEnv, ")"));
      }
    }
    if (args.Has(kServerFlag.name)) return absl::InvalidArgumentError("--server: empty address");
    return absl::OkStatus();
  }
  if (args.Has("loader")) {
    return absl::InvalidArgumentError(
        "--loader: applies to local runs only; the server uses its own loader");
  }
  if (args.Has(kPolicyFlag.name)) {
    return absl::InvalidArgumentError(
        "--policy: applies to local runs only; a server admits images under its own "
        "--instruction_policy");
  }
  return absl::OkStatus();
}

std::optional<v1::ExecuteResponse> ExecuteProgram(
    const ClientOptions& options, const std::string& loader, image::InstructionPolicy policy,
    const std::string& program_path, absl::string_view program_context,
    const sandbox::Manifest& manifest, absl::Span<const OutputBinding> live,
    std::set<std::string>* streamed, int* exit_code, const ChannelInputs* inputs,
    const std::vector<TreeArchive>& trees) {
  if (!options.address.empty()) {
    return ExecuteRemotely(options, program_path, program_context, manifest, exit_code, inputs,
                           live, streamed, trees);
  }
  std::shared_ptr<const sandbox::Image> image;
  std::optional<image::TreeRun> tree_run;
  if (!trees.empty()) {
    tree_run = PrepareLocalTrees(trees, manifest, policy, exit_code);
    if (!tree_run.has_value()) return std::nullopt;
    image = tree_run->image;
  }
  if (image == nullptr) {  // the program is a host file (with or without trees mounted)
    LoadedProgram program = LoadProgram(program_path, policy);
    if (program.image == nullptr) {
      *exit_code = Fail(program.exit_code, absl::StrCat(program_context, program.error));
      return std::nullopt;
    }
    image = std::move(program.image);
  }
  int interrupt_signal = 0;
  absl::StatusOr<v1::ExecuteResponse> response =
      RunLocally(*image, manifest, loader, &interrupt_signal, live, streamed,
                 inputs != nullptr ? inputs->Pointers() : std::vector<sandbox::InputSource*>(),
                 tree_run.has_value() ? &*tree_run : nullptr);
  if (interrupt_signal != 0) {
    *exit_code = Fail(128 + interrupt_signal, response.status().message());
    return std::nullopt;
  }
  if (!response.ok()) {
    *exit_code = Fail(ExitCodeForStatus(response.status()), response.status().ToString());
    return std::nullopt;
  }
  return *std::move(response);
}

int FailRpc(absl::string_view what, const absl::Status& status) {
  if (std::optional<v1::ValidationReport> report = api::RejectionReportOf(status)) {
    const int code = Fail(kExitProgramRefused, absl::StrCat(what, status.message()));
    (void)WriteAllToFd(STDERR_FILENO, FormatRejections(*report));
    return code;
  }
  const int code =
      status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : ExitCodeForStatus(status);
  return Fail(code, absl::StrCat(what, status.ToString()));
}

std::optional<v1::ExecuteResponse> ExecuteRemotely(
    const ClientOptions& options, const std::string& program_path,
    absl::string_view program_context, const sandbox::Manifest& manifest, int* exit_code,
    const ChannelInputs* inputs, absl::Span<const OutputBinding> live,
    std::set<std::string>* streamed, const std::vector<TreeArchive>& trees) {
  // The same ELF checks and messages as local mode, before any byte goes over the network. A
  // program in the trees is the server's to find (manifest.program_path): nothing is read here.
  std::optional<std::string> elf =
      manifest.program_path().empty() ? ReadCheckedProgram(program_path, program_context, exit_code)
                                      : std::optional<std::string>("");
  if (!elf.has_value()) return std::nullopt;
  v1::Manifest request_manifest = api::ManifestToProto(manifest);
  // A stream when it can serve every channel: inputs of any length as the guest reads them,
  // outputs as it writes them. Otherwise inputs go inline, within their bounds.
  const bool stream = StreamableManifest(request_manifest);
  if (inputs != nullptr && !stream) {
    // Inputs wait like the run would: a stream still open at the timeout is the run's timeout.
    absl::Status read =
        ReadInputsInline(*inputs, absl::Now() + manifest.timeout(), &request_manifest);
    if (!read.ok()) {
      *exit_code = Fail(absl::IsDeadlineExceeded(read) ? kExitTimeout : kExitUsage, read.message());
      return std::nullopt;
    }
  }
  absl::StatusOr<std::unique_ptr<RemoteClient>> client = RemoteClient::Create(options);
  if (!client.ok()) {
    *exit_code =
        Fail(client.status().code() == absl::StatusCode::kInternal ? kExitInternal : kExitUsage,
             client.status().message());
    return std::nullopt;
  }

  if (absl::Status registered = EnsureTreesRegistered(**client, trees); !registered.ok()) {
    *exit_code = FailRpc(absl::StrCat("server ", options.address, ": "), registered);
    return std::nullopt;
  }
  CallCanceller canceller;
  absl::StatusOr<v1::ExecuteResponse> response;
  int interrupt_signal = 0;
  {
    InterruptWatcher watcher(&canceller);
    if (!watcher.ok()) {
      *exit_code = Fail(kExitInternal, "eventfd for the interrupt watcher failed");
      return std::nullopt;
    }
    response = stream ? ExecuteStreamed(**client, *elf, std::move(request_manifest), inputs, live,
                                        streamed, &canceller)
                      : (*client)->Execute(*elf, std::move(request_manifest),
                                           ExecuteOptions{.canceller = &canceller});
    interrupt_signal = watcher.signal();
  }
  if (interrupt_signal != 0) {
    // Whatever the call answered, it was cut short (or its result dropped) on the user's request.
    *exit_code =
        Fail(128 + interrupt_signal, absl::StrFormat("interrupted by signal %d", interrupt_signal));
    return std::nullopt;
  }
  if (!response.ok()) {
    *exit_code = FailRpc(absl::StrCat("server ", options.address, ": "), response.status());
    return std::nullopt;
  }
  return *std::move(response);
}

}  // namespace zerocell::client

// Local mode of the zerocell CLI: load, run with the in-process engine, deliver outputs.
#include "client/local_run.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/report_proto.h"
#include "api/result_proto.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/interrupt_signals.h"
#include "client/report_text.h"
#include "sandbox/engine.h"

namespace zerocell::client {
namespace {

// Forwards sequential writes of the bound channels to the CLI's stdout/stderr while the guest runs.
class TerminalStreamer : public sandbox::OutputObserver {
 public:
  TerminalStreamer(const sandbox::Manifest& manifest, absl::Span<const OutputBinding> live) {
    const auto& channels = manifest.channels();
    for (const OutputBinding& binding : live) {
      if (!IsTerminalTarget(binding.path)) continue;
      for (size_t i = 0; i < channels.size(); ++i) {
        // A random-write channel can rewrite what was already shown: it is printed at the end.
        if (channels[i].alias != binding.alias || channels[i].random_write()) continue;
        targets_[static_cast<int>(i)] = {
            binding.path == "/dev/stderr" ? STDERR_FILENO : STDOUT_FILENO, 0};
        aliases_.insert(binding.alias);
      }
    }
  }

  void OnWrite(int channel, uint64_t offset, std::string_view bytes) override {
    auto it = targets_.find(channel);
    if (it == targets_.end() || offset != it->second.shown) return;
    (void)WriteAllToFd(it->second.fd, absl::string_view(bytes.data(), bytes.size()));
    it->second.shown += bytes.size();
  }

  // What is shown is not kept: a long output costs no memory here (write-only sequential
  // channels; others are kept by the run whatever this says).
  bool takes_output(int channel) const override { return targets_.count(channel) > 0; }

  const std::set<std::string>& aliases() const { return aliases_; }

 private:
  struct Target {
    int fd;
    uint64_t shown;  // bytes of the channel already written to fd
  };
  std::map<int, Target> targets_;
  std::set<std::string> aliases_;
};

}  // namespace

int Fail(int exit_code, absl::string_view message) {
  std::string line = absl::StrCat("zerocell: ", message, "\n");
  (void)WriteAllToFd(STDERR_FILENO, line);
  return exit_code;
}

LoadedProgram LoadProgram(const std::string& path, image::InstructionPolicy policy) {
  LoadedProgram out;
  absl::StatusOr<std::shared_ptr<const sandbox::Image>> image =
      absl::UnknownError("not read");  // replaced below
  if (absl::StatusOr<std::string> bytes = sandbox::ReadImageFile(path); !bytes.ok()) {
    image = bytes.status();
  } else {
    const image::Validation validation = image::ValidateImage(*bytes, {.policy = policy});
    if (validation.report.rejected_instructions > 0) {
      out.exit_code = kExitProgramRefused;
      out.error = absl::StrCat(path, ": refused: ", validation.status.message(), "\n",
                               FormatRejections(api::ReportToProto(validation.report)));
      if (out.error.back() == '\n') out.error.pop_back();
      return out;
    }
    // ELF errors are worded by the engine's own checks (FromBytes), as before admission ran.
    image = sandbox::Image::FromBytes(
        *bytes, {},
        validation.report.instructions_checked
            ? sandbox::host::InstructionUse::Decoded(validation.report.host_instructions)
            : sandbox::host::InstructionUse::Unknown());
    if (!image.ok()) {
      image =
          absl::Status(image.status().code(), absl::StrCat(path, ": ", image.status().message()));
    }
  }
  if (image.ok()) {
    out.image = *std::move(image);
    return out;
  }
  const absl::Status& s = image.status();
  out.exit_code =
      (s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kPermissionDenied)
          ? kExitProgramNotFound
          : kExitProgramRefused;
  // Image errors already name the path; add it only when they do not.
  out.error = absl::StrContains(s.message(), path) ? std::string(s.message())
                                                   : absl::StrCat(path, ": ", s.message());
  return out;
}

absl::StatusOr<zerocell::v1::ExecuteResponse> RunLocally(
    const sandbox::Image& image, const sandbox::Manifest& manifest, const std::string& loader_path,
    int* interrupt_signal, absl::Span<const OutputBinding> live, std::set<std::string>* streamed,
    std::vector<sandbox::InputSource*> inputs, const image::TreeRun* trees) {
  *interrupt_signal = 0;
  absl::StatusOr<std::unique_ptr<sandbox::Engine>> engine =
      sandbox::Engine::Create(sandbox::EngineOptions{.loader_path = loader_path});
  if (!engine.ok()) return engine.status();
  sandbox::CancelToken token;
  TerminalStreamer streamer(manifest, live);
  if (streamed != nullptr) streamed->insert(streamer.aliases().begin(), streamer.aliases().end());
  absl::StatusOr<sandbox::Result> result;
  {
    ScopedInterruptSignals interrupts(token.fd());
    sandbox::RunOptions options{&token, &streamer, std::move(inputs)};
    if (trees != nullptr) {
      options.trees = trees->trees;
      options.executable = trees->executable;
    }
    result = (*engine)->Run(image, manifest, options);
    *interrupt_signal = interrupts.signal();
  }
  if (*interrupt_signal != 0) {
    // Whatever Run answered (CANCELLED, or an error from a syscall the signal interrupted), the
    // run was cut short on the user's request.
    return absl::CancelledError(absl::StrFormat("interrupted by signal %d", *interrupt_signal));
  }
  if (!result.ok()) return result.status();
  return api::ResultToProto(*std::move(result), absl::StrCat("sha256:", image.sha256_hex()));
}

bool IsTerminalTarget(const std::string& path) {
  return path == "-" || path == "/dev/stdout" || path == "/dev/stderr";
}

bool WriteChannelOutputs(const zerocell::v1::ExecuteResponse& response,
                         absl::Span<const OutputBinding> bindings, bool json,
                         const std::set<std::string>& streamed) {
  bool ok = true;
  for (const OutputBinding& binding : bindings) {
    if (json && IsTerminalTarget(binding.path)) continue;
    if (IsTerminalTarget(binding.path) && streamed.count(binding.alias)) continue;
    for (const zerocell::v1::ChannelResult& channel : response.channels()) {
      if (channel.alias() != binding.alias || !channel.writable()) continue;
      absl::Status s = WriteOutputFile(absl::StrCat("channel ", binding.alias, " output"),
                                       binding.path, channel.output());
      if (!s.ok()) {
        Fail(0, s.message());
        ok = false;
      }
    }
  }
  return ok;
}

bool PrintJson(const zerocell::v1::ExecuteResponse& response) {
  absl::StatusOr<std::string> json = api::ExecuteResponseToJson(response);
  if (!json.ok()) {
    Fail(0, json.status().message());
    return false;
  }
  json->push_back('\n');
  return WriteAllToFd(STDOUT_FILENO, *json).ok();
}

}  // namespace zerocell::client

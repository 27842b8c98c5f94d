// Server caps on every request dimension, checked before a request is queued.
#include "server/request_caps.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::server {
namespace {

absl::Status OverCap(std::string_view field, int64_t value, int64_t cap, std::string_view flag) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %d is above this server's cap of %d (--%s)", std::string(field), value,
                      cap, std::string(flag)));
}

}  // namespace

RequestCaps StreamCaps(const RequestCaps& caps) {
  RequestCaps out = caps;
  out.max_output_bytes = caps.max_stream_output_bytes;
  out.output_cap_flag = "max_stream_output_bytes";
  return out;
}

absl::Status CheckProgramChoice(bool has_image, const v1::Manifest& manifest) {
  if (has_image && !manifest.program_path().empty()) {
    return absl::InvalidArgumentError(
        "manifest.program_path: set together with image_id or image; name the program one way");
  }
  if (!has_image && manifest.program_path().empty()) {
    return absl::InvalidArgumentError(
        "program: set image_id or image (or manifest.program_path with mounted trees)");
  }
  return absl::OkStatus();
}

absl::Status CheckExecuteRequest(const v1::ExecuteRequest& request, const RequestCaps& caps) {
  if (absl::Status choice = CheckProgramChoice(
          request.program_case() != v1::ExecuteRequest::PROGRAM_NOT_SET, request.manifest());
      !choice.ok()) {
    return choice;
  }
  if (request.program_case() == v1::ExecuteRequest::kImage) {
    if (static_cast<int64_t>(request.image().size()) > caps.max_image_bytes) {
      return OverCap("image", request.image().size(), caps.max_image_bytes, "max_image_bytes");
    }
  }
  if (!request.has_manifest()) return absl::InvalidArgumentError("manifest: required");
  return CheckManifestCaps(request.manifest(), caps);
}

absl::Status CheckManifestCaps(const v1::Manifest& m, const RequestCaps& caps) {
  if (m.timeout_ms() > caps.max_timeout_ms) {
    return OverCap("manifest.timeout_ms", m.timeout_ms(), caps.max_timeout_ms, "max_timeout_ms");
  }
  if (m.memory_bytes() > caps.max_memory_bytes) {
    return OverCap("manifest.memory_bytes", m.memory_bytes(), caps.max_memory_bytes,
                   "max_memory_bytes");
  }
  if (m.output_limit_bytes() > caps.max_output_bytes) {
    return OverCap("manifest.output_limit_bytes", m.output_limit_bytes(), caps.max_output_bytes,
                   caps.output_cap_flag);
  }
  if (m.max_processes() > caps.max_processes) {
    return OverCap("manifest.max_processes", m.max_processes(), caps.max_processes,
                   "max_processes");
  }
  if (m.channels_size() > caps.max_channels) {
    return OverCap("manifest.channels", m.channels_size(), caps.max_channels, "max_channels");
  }
  int64_t args_bytes = 0;
  for (const std::string& arg : m.argv()) args_bytes += arg.size() + 1;
  for (const std::string& var : m.env()) args_bytes += var.size() + 1;
  if (args_bytes > caps.max_args_bytes) {
    return OverCap("manifest.argv+env", args_bytes, caps.max_args_bytes, "max_args_bytes");
  }
  int64_t inline_bytes = 0;
  for (int i = 0; i < m.channels_size(); ++i) {
    const v1::Channel& channel = m.channels(i);
    // Checked here so that an error never echoes a huge alias back (or into a log).
    if (channel.alias().size() > sandbox::ManifestLimits::kMaxAliasBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("manifest.channels[%d].alias: %d bytes, at most %d", i,
                          channel.alias().size(), sandbox::ManifestLimits::kMaxAliasBytes));
    }
    inline_bytes += channel.initial_data().size();
    if (inline_bytes > caps.max_inline_bytes) {
      return OverCap(absl::StrCat("manifest.channels[", i, "].initial_data"), inline_bytes,
                     caps.max_inline_bytes, "max_inline_bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRegisterRequest(const v1::RegisterImageRequest& request,
                                  const RequestCaps& caps) {
  if (request.elf().empty() == request.tree_tar().empty()) {
    return absl::InvalidArgumentError("elf, tree_tar: exactly one is required");
  }
  if (static_cast<int64_t>(request.elf().size()) > caps.max_image_bytes) {
    return OverCap("elf", request.elf().size(), caps.max_image_bytes, "max_image_bytes");
  }
  if (static_cast<int64_t>(request.tree_tar().size()) > caps.max_image_bytes) {
    return OverCap("tree_tar", request.tree_tar().size(), caps.max_image_bytes, "max_image_bytes");
  }
  if (request.name().size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrFormat("name: %d bytes, at most 255", request.name().size()));
  }
  return absl::OkStatus();
}

bool NeedsCapDefaults(const RequestCaps& caps, const v1::Manifest& manifest) {
  using Defaults = sandbox::ManifestBuilder;
  return (manifest.timeout_ms() == 0 &&
          absl::ToInt64Milliseconds(Defaults::kDefaultTimeout) > caps.max_timeout_ms) ||
         (manifest.memory_bytes() == 0 && Defaults::kDefaultMemoryBytes > caps.max_memory_bytes) ||
         (manifest.output_limit_bytes() == 0 &&
          Defaults::kDefaultOutputLimitBytes > caps.max_output_bytes);
}

void ApplyCapDefaults(const RequestCaps& caps, v1::Manifest* manifest) {
  using Defaults = sandbox::ManifestBuilder;
  if (manifest->timeout_ms() == 0 &&
      absl::ToInt64Milliseconds(Defaults::kDefaultTimeout) > caps.max_timeout_ms) {
    manifest->set_timeout_ms(caps.max_timeout_ms);
  }
  if (manifest->memory_bytes() == 0 && Defaults::kDefaultMemoryBytes > caps.max_memory_bytes) {
    manifest->set_memory_bytes(caps.max_memory_bytes);
  }
  if (manifest->output_limit_bytes() == 0 &&
      Defaults::kDefaultOutputLimitBytes > caps.max_output_bytes) {
    manifest->set_output_limit_bytes(caps.max_output_bytes);
  }
}

}  // namespace zerocell::server

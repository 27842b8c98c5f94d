// libFuzzer target: what a server does with a request before any image or process is touched. The
// input is a serialized proto: byte 0 picks ExecuteRequest (even) or RegisterImageRequest (odd),
// the rest is parsed as that message. For an Execute the server caps are checked
// (CheckExecuteRequest), cap defaults applied, and the manifest converted to the engine's
// (ManifestFromProto). Contract beyond "no crash":
// - every refusal is INVALID_ARGUMENT with a message;
// - applying the cap defaults is idempotent and leaves the caps satisfied;
// - a converted manifest converts back to a proto that converts again to the same limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "api/manifest_proto.h"
#include "server/request_caps.h"
#include "zerocell/v1/sandbox.pb.h"

namespace {

namespace v1 = ::zerocell::v1;
using zerocell::server::RequestCaps;

// Small caps, so that the fuzzer reaches the bounds with small inputs.
RequestCaps FuzzCaps() {
  RequestCaps caps;
  caps.max_timeout_ms = 5000;
  caps.max_memory_bytes = int64_t{64} << 20;
  caps.max_channels = 8;
  caps.max_inline_bytes = 4096;
  caps.max_output_bytes = 4096;
  caps.max_args_bytes = 1024;
  caps.max_image_bytes = 4096;
  return caps;
}

void CheckError(const absl::Status& status) {
  if (!absl::IsInvalidArgument(status) || status.message().empty()) abort();
}

void Execute(const v1::ExecuteRequest& request, const RequestCaps& caps) {
  if (absl::Status s = zerocell::server::CheckExecuteRequest(request, caps); !s.ok()) {
    return CheckError(s);
  }
  v1::ExecuteRequest capped = request;
  v1::Manifest& manifest = *capped.mutable_manifest();
  if (zerocell::server::NeedsCapDefaults(caps, manifest)) {
    zerocell::server::ApplyCapDefaults(caps, &manifest);
    if (zerocell::server::NeedsCapDefaults(caps, manifest)) abort();  // idempotent
    // The defaults it filled in are within the caps.
    if (!zerocell::server::CheckExecuteRequest(capped, caps).ok()) abort();
  }
  const absl::StatusOr<zerocell::sandbox::Manifest> converted =
      zerocell::api::ManifestFromProto(manifest);
  if (!converted.ok()) return CheckError(converted.status());
  if (converted->memory_bytes() > caps.max_memory_bytes) abort();
  const v1::Manifest back = zerocell::api::ManifestToProto(*converted);
  const absl::StatusOr<zerocell::sandbox::Manifest> again = zerocell::api::ManifestFromProto(back);
  if (!again.ok() || again->memory_bytes() != converted->memory_bytes() ||
      again->timeout() != converted->timeout() ||
      again->channels().size() != converted->channels().size()) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const RequestCaps caps = FuzzCaps();
  if (data[0] % 2 == 0) {
    v1::ExecuteRequest request;
    if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    Execute(request, caps);
  } else {
    v1::RegisterImageRequest request;
    if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    if (absl::Status s = zerocell::server::CheckRegisterRequest(request, caps); !s.ok()) {
      CheckError(s);
    }
  }
  return 0;
}

// Server caps on every request dimension, checked before a request is queued.
#ifndef ZEROCELL_SERVER_REQUEST_CAPS_H_
#define ZEROCELL_SERVER_REQUEST_CAPS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

// The serving zerocelld's bounds. A request above one is INVALID_ARGUMENT naming the field, never
// silently clipped. Where a proto default exceeds a cap (e.g. the 10 s default timeout under a
// 5 s cap), a request that leaves the field 0 gets the cap instead of the default.
struct RequestCaps {
  int64_t max_timeout_ms = 60'000;
  int64_t max_memory_bytes = int64_t{4} << 30;
  int64_t max_channels = 64;
  int64_t max_inline_bytes = int64_t{64} << 20;  // sum of initial_data over the channels
  int64_t max_output_bytes = int64_t{64} << 20;  // output_limit_bytes (bounds all channels)
  int64_t max_args_bytes = int64_t{256} << 10;   // argv + env strings together
  int64_t max_image_bytes = int64_t{64} << 20;   // ELF bytes (RegisterImage and inline images)
  // Manifest.max_processes: each process of a run holds descriptors in the server (its pidfd
  // and /proc files), counted in the descriptor budget.
  int64_t max_processes = 16;
  // output_limit_bytes of an ExecuteStream, whose output the server never holds (it is sent as
  // written, within the stream's window): bounds time spent, not memory.
  int64_t max_stream_output_bytes = int64_t{4} << 30;  // the most a manifest takes
  // The flag named when output_limit_bytes is above max_output_bytes.
  std::string_view output_cap_flag = "max_output_bytes";
};

// `caps` as they apply to an ExecuteStream: max_output_bytes is max_stream_output_bytes (named
// as such in errors), the rest unchanged.
RequestCaps StreamCaps(const RequestCaps& caps);

// Exactly one way of naming the program: an image (by id or inline) or manifest.program_path
// (INVALID_ARGUMENT naming the fields otherwise).
absl::Status CheckProgramChoice(bool has_image, const zerocell::v1::Manifest& manifest);

// Checks `request` against `caps` (field names as in the proto: "manifest.timeout_ms",
// "manifest.channels", "image", ...). The manifest's own validity (negative values, channel
// types, required channels) is checked later by the proto -> engine conversion.
absl::Status CheckExecuteRequest(const zerocell::v1::ExecuteRequest& request,
                                 const RequestCaps& caps);

// The manifest part of CheckExecuteRequest (fields named "manifest.*"), for each run of a batch.
absl::Status CheckManifestCaps(const zerocell::v1::Manifest& manifest, const RequestCaps& caps);

absl::Status CheckRegisterRequest(const zerocell::v1::RegisterImageRequest& request,
                                  const RequestCaps& caps);

// True when ApplyCapDefaults would change `manifest`.
bool NeedsCapDefaults(const RequestCaps& caps, const zerocell::v1::Manifest& manifest);

// `manifest` with every 0 ("default") field whose proto default exceeds a cap set to that cap.
// Call after CheckExecuteRequest succeeded.
void ApplyCapDefaults(const RequestCaps& caps, zerocell::v1::Manifest* manifest);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_REQUEST_CAPS_H_

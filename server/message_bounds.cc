// The largest gRPC messages a server with given caps can receive and send.
#include "server/message_bounds.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::server {

namespace v1 = ::zerocell::v1;

MessageBounds WorstCaseMessages(const RequestCaps& caps) {
  MessageBounds b;
  const int64_t channels = caps.max_channels * kChannelEnvelopeBytes;
  // A string of L bytes counts L + 1 against max_args_bytes and takes at most 2 (L + 1) bytes on
  // the wire (tag, length, bytes).
  b.request = caps.max_image_bytes + caps.max_inline_bytes + 2 * caps.max_args_bytes + channels +
              kFixedEnvelopeBytes;
  b.response = caps.max_output_bytes + caps.max_inline_bytes + channels + kFixedEnvelopeBytes;
  return b;
}

int64_t ExecuteMemoryCharge(const v1::ExecuteRequest& request, const RequestCaps& caps) {
  const v1::Manifest& m = request.manifest();
  int64_t output_limit = m.output_limit_bytes();
  if (output_limit == 0) {
    output_limit =
        std::min(sandbox::ManifestBuilder::kDefaultOutputLimitBytes, caps.max_output_bytes);
  }
  int64_t returned_inputs = 0;
  for (const v1::Channel& c : m.channels()) {
    const bool writable = c.puts() > 0 && c.put_size() > 0;
    if (writable) returned_inputs += static_cast<int64_t>(c.initial_data().size());
  }
  return 2 * static_cast<int64_t>(request.ByteSizeLong()) + output_limit + returned_inputs +
         m.channels_size() * kChannelEnvelopeBytes + kFixedEnvelopeBytes;
}

int64_t RegisterMemoryCharge(const v1::RegisterImageRequest& request) {
  constexpr int64_t kReportBytes = 64 << 10;
  return 2 * static_cast<int64_t>(request.ByteSizeLong()) + kReportBytes;
}

int64_t LargestCallCharge(const RequestCaps& caps) {
  const MessageBounds b = WorstCaseMessages(caps);
  return 2 * b.request + b.response;
}

absl::Status CheckMessageLimit(const RequestCaps& caps, int64_t max_message_bytes) {
  const MessageBounds b = WorstCaseMessages(caps);
  if (b.response > max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--max_message_bytes (%d) cannot carry the largest response (%d bytes): "
        "--max_output_bytes (%d) of output plus --max_inline_bytes (%d) that a read-write "
        "channel returns as its contents, plus %d bytes for --max_channels (%d) and the fixed "
        "fields; raise --max_message_bytes to at least %d or lower the others",
        max_message_bytes, b.response, caps.max_output_bytes, caps.max_inline_bytes,
        b.response - caps.max_output_bytes - caps.max_inline_bytes, caps.max_channels, b.response));
  }
  if (b.request > max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--max_message_bytes (%d) cannot carry the largest request (%d bytes): "
        "--max_image_bytes (%d) + --max_inline_bytes (%d) + twice --max_args_bytes (%d), plus "
        "%d bytes for --max_channels (%d) and the fixed fields; raise --max_message_bytes to at "
        "least %d or lower the others",
        max_message_bytes, b.request, caps.max_image_bytes, caps.max_inline_bytes,
        caps.max_args_bytes, caps.max_channels * kChannelEnvelopeBytes + kFixedEnvelopeBytes,
        caps.max_channels, b.request));
  }
  return absl::OkStatus();
}

}  // namespace zerocell::server

// The largest gRPC messages a server with given caps can receive and send, and the start-up check
// that its message size limit holds them.
#ifndef ZEROCELL_SERVER_MESSAGE_BOUNDS_H_
#define ZEROCELL_SERVER_MESSAGE_BOUNDS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "server/request_caps.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

// Serialized sizes, in bytes, of the largest messages a request within `caps` can lead to.
struct MessageBounds {
  // The largest valid request: an Execute with an inline image of max_image_bytes, initial data
  // of max_inline_bytes, argv + env of max_args_bytes and max_channels channels with the longest
  // aliases (a RegisterImage is smaller).
  int64_t request = 0;
  // The largest Execute response: every writable channel's output together is bounded by the
  // output limit (max_output_bytes), but a channel both readable and writable also returns its
  // initial data (its contents are its output), up to max_inline_bytes; plus each channel's
  // alias, counters and etag and the fixed fields.
  int64_t response = 0;
};

// Bytes allowed per channel for its alias, counters, etag and framing, in a request or response.
inline constexpr int64_t kChannelEnvelopeBytes = 512;
// Bytes allowed for a message's fixed fields (ids, limits, usage, violation, etags).
inline constexpr int64_t kFixedEnvelopeBytes = 16 << 10;

MessageBounds WorstCaseMessages(const RequestCaps& caps);

// What a call is charged against --max_request_memory_bytes (RequestBudget) while the server
// holds it: an Execute its request twice (as received, and the engine's copy of the manifest
// with its inline data) plus the largest response it can produce (its output limit, the initial
// data of its read-write channels, per-channel and fixed fields); a RegisterImage its request
// twice (as received, and the sealed copy validation works on) plus a report.
// Call after CheckExecuteRequest / CheckRegisterRequest accepted the request.
int64_t ExecuteMemoryCharge(const zerocell::v1::ExecuteRequest& request, const RequestCaps& caps);
int64_t RegisterMemoryCharge(const zerocell::v1::RegisterImageRequest& request);
// The largest charge of a call within `caps`: twice the largest request plus the largest response.
int64_t LargestCallCharge(const RequestCaps& caps);

// INVALID_ARGUMENT naming the flags when `max_message_bytes` cannot carry the largest request or
// response of `caps`, so that no call can fail after its guest ran because its answer does not
// fit (issue 14, finding 6).
absl::Status CheckMessageLimit(const RequestCaps& caps, int64_t max_message_bytes);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_MESSAGE_BOUNDS_H_

// How every Zerocell client reaches a set of replicas: the gRPC target for a server address
// (one address, a list of addresses, or a dns:/// name) and the service config it is used with
// (round-robin over every address, UNAVAILABLE retried on another one).
#ifndef ZEROCELL_CLIENT_CHANNEL_TARGET_H_
#define ZEROCELL_CLIENT_CHANNEL_TARGET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "zerocell/v1/service_config.h"

namespace zerocell::client {

struct ChannelTarget {
  // What grpc::CreateCustomChannel takes.
  std::string target;
  // For an address list: its first entry, as the channel's authority (TLS name checks and the
  // :authority header); empty otherwise (gRPC derives it from the target).
  std::string authority;
};

// The target for `address`:
//  - "IP:PORT,IP:PORT,..." (IPv4 or bracketed IPv6 "[::1]:PORT", one family): the gRPC URI
//    "ipv4:..." / "ipv6:..." listing them all, so calls are spread over every entry;
//  - anything else, as is: "host:port" (resolved by DNS, every address it has is used),
//    "dns:///name:port" (e.g. a Kubernetes headless Service: one address per ready pod),
//    "ipv4:...", "unix:...".
// INVALID_ARGUMENT names the entry: an empty one, a host name in a list (lists take IP
// addresses; names go through dns:///), a bad or missing port, or mixed families.
absl::StatusOr<ChannelTarget> ChannelTargetFor(absl::string_view address);

// The service config of every channel to zerocelld (C++ client, CLI, and the Python and Node.js
// clients: proto/zerocell/v1/service_config.json). round_robin spreads calls over every resolved
// address instead of pinning one (pick_first), and with client-side health checking only over
// replicas whose gRPC health is SERVING: a draining zerocelld turns NOT_SERVING first, so retries
// go elsewhere. The retry policy re-sends a call that ended UNAVAILABLE or CANCELLED, up to 5
// attempts with backoff 50 ms .. 1 s, each attempt picked anew (so on another replica). UNAVAILABLE
// is what a draining or dead replica or a broken connection produces. CANCELLED reaches a client
// from a server only for a call that raced the server's shutdown: gRPC cancels the calls that
// arrive after the drain began and before the client saw its GOAWAY (measured: 1-3 of 1,000 calls
// in client_replica_test, on 4 runs in 20); a cancellation by this client itself is never retried
// by gRPC. Every zerocell.v1.Sandbox call is safe to repeat (docs/deployment.md, "Retries"). Other
// codes are not retried: RESOURCE_EXHAUSTED is load shedding, which the caller decides about.
using ::zerocell::v1::kServiceConfigJson;

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_CHANNEL_TARGET_H_

// Conversion between the engine's Manifest and the public zerocell.v1.Manifest.
#ifndef ZEROCELL_API_MANIFEST_PROTO_H_
#define ZEROCELL_API_MANIFEST_PROTO_H_

#include "absl/status/statusor.h"
#include "sandbox/manifest/manifest.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

// Validates and converts a request manifest, applying the defaults the proto documents for zero
// fields. INVALID_ARGUMENT names the field with a "manifest." prefix, e.g.
// "manifest.channels[2].type: must be 0..3 (got 7)" or "manifest.timeout_ms: must be >= 0".
// Server-specific caps are not applied here (the server narrows them further).
absl::StatusOr<sandbox::Manifest> ManifestFromProto(const zerocell::v1::Manifest& proto);

// The request form of an engine manifest (timeouts rounded down to whole milliseconds, at least 1),
// e.g. for the CLI's remote mode. ManifestFromProto(ManifestToProto(m)) equals m up to that
// rounding.
zerocell::v1::Manifest ManifestToProto(const sandbox::Manifest& manifest);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_MANIFEST_PROTO_H_

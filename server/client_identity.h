// Which image namespace a call belongs to (issue 14, finding 7): none, the client's mTLS
// certificate subject, or a header set by a TLS-terminating proxy.
#ifndef ZEROCELL_SERVER_CLIENT_IDENTITY_H_
#define ZEROCELL_SERVER_CLIENT_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zerocell::server {

struct NamespaceMode {
  enum class Kind { kNone, kClientCert, kHeader };
  Kind kind = Kind::kNone;
  std::string header;  // kHeader: the metadata key (lowercase)

  bool enabled() const { return kind != Kind::kNone; }
};

// --image_namespace: "none", "client_cert" or "header:<metadata key>". INVALID_ARGUMENT naming
// the flag otherwise.
absl::StatusOr<NamespaceMode> ParseNamespaceMode(absl::string_view value);

// The namespace key of a call: "" when namespaces are off; "cert:<subject DN>" of the verified
// client certificate; "header:<value>". UNAUTHENTICATED when the call carries no such identity
// (no verified certificate; the header missing, empty, over 256 bytes or not printable ASCII).
absl::StatusOr<std::string> NamespaceOf(const NamespaceMode& mode,
                                        const grpc::CallbackServerContext& context);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_CLIENT_IDENTITY_H_

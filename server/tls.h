// Server transport credentials: plaintext, TLS, or mutual TLS from PEM files.
#ifndef ZEROCELL_SERVER_TLS_H_
#define ZEROCELL_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace zerocell::server {

struct TlsFiles {
  std::string cert;       // PEM certificate chain; empty with key empty: plaintext
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; non-empty: clients must present a cert it signed
};

// INVALID_ARGUMENT naming the flag when only one of cert/key is given or a client CA comes
// without them; NOT_FOUND / PERMISSION_DENIED naming the flag and path when a file is unreadable.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFrom(const TlsFiles& tls);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_TLS_H_

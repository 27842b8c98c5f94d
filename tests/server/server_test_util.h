// Test support for zerocelld end-to-end tests: plain-socket HTTP, test certificates made with the
// openssl CLI, and running a command. The server process itself is testing::ZerocelldProcess.
#ifndef ZEROCELL_TESTS_SERVER_SERVER_TEST_UTIL_H_
#define ZEROCELL_TESTS_SERVER_SERVER_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zerocell::server::testing {

struct HttpResponse {
  int status = 0;       // e.g. 200
  std::string headers;  // raw header block, status line excluded
  std::string body;
};

// One HTTP/1.0 request over a plain TCP socket to 127.0.0.1:port, read until the peer closes.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& path,
                                         absl::Duration timeout = absl::Seconds(10));
// GET; the body of a 200 answer, otherwise an error naming the status.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// PEM files made by MakeTestCertificates (all in one directory).
struct TestCertificates {
  std::string ca_cert;      // self-signed CA
  std::string server_cert;  // signed by the CA; SAN IP:127.0.0.1, DNS:localhost
  std::string server_key;
  std::string client_cert;  // signed by the CA, clientAuth
  std::string client_key;
  std::string client_b_cert;  // a second client of the CA, another subject
  std::string client_b_key;
  std::string rogue_cert;  // self-signed client cert the CA never signed
  std::string rogue_key;
};

// Generates the certificates above in `dir` with the openssl CLI (EC P-256, valid 2 days).
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir);

// Runs argv[0] (PATH lookup) with stdout+stderr captured; INTERNAL with the output unless it
// exits 0. Returns the output.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_SERVER_TEST_UTIL_H_

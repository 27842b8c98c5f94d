// Test support for zerocelld end-to-end tests: HTTP, certificates, commands; see
// server_test_util.h.
#include "tests/server/server_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/errno_status.h"
#include "sandbox/sys/unique_fd.h"

extern char** environ;

namespace zerocell::server::testing {

using sandbox::sys::UniqueFd;

absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& path, absl::Duration timeout) {
  UniqueFd socket_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) return ErrnoStatus(errno, "socket");
  const int fd = socket_fd.get();
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect 127.0.0.1:", port, ": ", strerror(errno)));
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.0\r\nHost: 127.0.0.1:", port, "\r\n\r\n");
  for (size_t done = 0; done < request.size();) {
    ssize_t n = send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    done += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  const size_t line_end = raw.find("\r\n");
  const size_t head_end = raw.find("\r\n\r\n");
  if (line_end == std::string::npos || head_end == std::string::npos ||
      !raw.starts_with("HTTP/1.") || raw.size() < 12) {
    return absl::DataLossError(absl::StrCat("malformed HTTP response: ", raw.substr(0, 200)));
  }
  HttpResponse response;
  if (!absl::SimpleAtoi(absl::string_view(raw).substr(9, 3), &response.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", raw.substr(0, line_end)));
  }
  response.headers = raw.substr(line_end + 2, head_end - line_end - 2);
  response.body = raw.substr(head_end + 4);
  return response;
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  absl::StatusOr<HttpResponse> r = HttpRequest(port, "GET", path);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return absl::FailedPreconditionError(
        absl::StrCat("GET ", path, " on port ", port, ": HTTP ", r->status));
  }
  return std::move(r->body);
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv_in) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  UniqueFd read_end(pipe_fds[0]);
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (err != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", args[0], ": ", strerror(err)));
  }
  std::string output;
  char buf[4096];
  while (true) {
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(args, " "), " failed (wait status ", status, "):\n", output));
  }
  return output;
}

absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir) {
  // Our own config: no dependence on the host's openssl.cnf defaults.
  const std::string cnf = absl::StrCat(dir, "/openssl.cnf");
  {
    std::ofstream out(cnf);
    out << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = zerocell-test\n"
           "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
           "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
           "[server_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n"
           "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
           "[client_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid\n"
           "[rogue_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", cnf));
  }
  TestCertificates c;
  const auto path = [&](const char* name) { return absl::StrCat(dir, "/", name); };
  c.ca_cert = path("ca.pem");
  c.server_cert = path("server.pem");
  c.server_key = path("server.key");
  c.client_cert = path("client.pem");
  c.client_key = path("client.key");
  c.client_b_cert = path("client-b.pem");
  c.client_b_key = path("client-b.key");
  c.rogue_cert = path("rogue.pem");
  c.rogue_key = path("rogue.key");
  const std::vector<std::string> new_key = {"-newkey", "ec", "-pkeyopt",
                                            "ec_paramgen_curve:prime256v1", "-nodes"};
  const auto self_signed = [&](const std::string& key, const std::string& cert,
                               const std::string& subject, const std::string& ext) {
    std::vector<std::string> argv = {"openssl", "req", "-x509", "-config", cnf, "-extensions", ext};
    argv.insert(argv.end(), new_key.begin(), new_key.end());
    argv.insert(argv.end(), {"-keyout", key, "-out", cert, "-days", "2", "-subj", subject});
    return RunCommand(argv).status();
  };
  const auto signed_by_ca = [&](const std::string& key, const std::string& cert,
                                const std::string& subject, const std::string& ext,
                                const std::string& serial) -> absl::Status {
    const std::string csr = absl::StrCat(cert, ".csr");
    std::vector<std::string> req = {"openssl", "req", "-new", "-config", cnf};
    req.insert(req.end(), new_key.begin(), new_key.end());
    req.insert(req.end(), {"-keyout", key, "-out", csr, "-subj", subject});
    absl::StatusOr<std::string> r = RunCommand(req);
    if (!r.ok()) return r.status();
    return RunCommand({"openssl", "x509", "-req", "-in", csr, "-CA", c.ca_cert, "-CAkey",
                       path("ca.key"), "-set_serial", serial, "-days", "2", "-extfile", cnf,
                       "-extensions", ext, "-out", cert})
        .status();
  };
  absl::Status s = self_signed(path("ca.key"), c.ca_cert, "/CN=zerocell-test-ca", "ca_ext");
  if (s.ok()) {
    s = signed_by_ca(c.server_key, c.server_cert, "/CN=localhost", "server_ext", "2");
  }
  if (s.ok()) {
    s = signed_by_ca(c.client_key, c.client_cert, "/CN=zerocell-test-client", "client_ext", "3");
  }
  if (s.ok()) {
    s = signed_by_ca(c.client_b_key, c.client_b_cert, "/CN=zerocell-test-client-b", "client_ext",
                     "4");
  }
  if (s.ok()) s = self_signed(c.rogue_key, c.rogue_cert, "/CN=zerocell-test-client", "rogue_ext");
  if (!s.ok()) return s;
  return c;
}

}  // namespace zerocell::server::testing

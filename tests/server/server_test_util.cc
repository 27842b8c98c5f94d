// Test support for zerocelld end-to-end tests: server process, HTTP, /proc scans, certificates.
#include "tests/server/server_process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

extern char** environ;

namespace zerocell::server::testing {
namespace {

absl::StatusOr<std::string> EnvPath(const char* var, const std::string& name) {
  const char* dir = std::getenv(var);
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(absl::StrCat(var, " is not set (run the test via ctest)"));
  }
  return absl::StrCat(dir, "/", name);
}

// Closes an fd on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// The integer after "key": in a flat JSON object; -1 when absent.
int64_t JsonInt(const std::string& json, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\"");
  size_t at = json.find(quoted);
  if (at == std::string::npos) return -1;
  at = json.find(':', at + quoted.size());
  if (at == std::string::npos) return -1;
  ++at;
  while (at < json.size() && (json[at] == ' ' || json[at] == '"')) ++at;
  size_t end = at;
  while (end < json.size() && absl::ascii_isdigit(static_cast<unsigned char>(json[end]))) ++end;
  int64_t v = -1;
  if (!absl::SimpleAtoi(absl::string_view(json.data() + at, end - at), &v)) return -1;
  return v;
}

// pid -> parent pid of every process in /proc.
std::map<pid_t, pid_t> ParentMap() {
  std::map<pid_t, pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;  // exited meanwhile
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
    size_t close_paren = stat->rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat->substr(close_paren + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid) out[pid] = ppid;
  }
  closedir(d);
  return out;
}

}  // namespace

absl::StatusOr<std::string> BinPath(const std::string& name) {
  return EnvPath("ZEROCELL_BIN_DIR", name);
}

absl::StatusOr<std::string> GuestPath(const std::string& name) {
  return EnvPath("ZEROCELL_GUEST_DIR", name);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return out.str();
}

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/", prefix, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", tmpl, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<TempDir>(new TempDir(tmpl));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    std::vector<std::string> extra_flags) {
  return Start(std::move(extra_flags), Options());
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    std::vector<std::string> extra_flags, const Options& options) {
  std::string binary = options.binary;
  if (binary.empty()) {
    absl::StatusOr<std::string> path = BinPath("zerocelld");
    if (!path.ok()) return path.status();
    binary = *path;
  }
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(binary, " is not an executable"));
  }
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("zerocelld-test");
  if (!dir.ok()) return dir.status();
  const std::string ready = absl::StrCat((*dir)->path(), "/ready.json");
  const std::string log = absl::StrCat((*dir)->path(), "/server.log");

  std::vector<std::string> args = {binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                                   absl::StrCat("--ready_file=", ready)};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Opened before fork: the child only dup2s and execs (async-signal-safe).
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("open ", log, ": ", strerror(errno)));
  FdCloser close_log(log_fd);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return absl::InternalError("open /dev/null failed");
  FdCloser close_null(null_fd);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    // Why: a crashed test must not leave a server (and its sandboxes) running.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) _exit(127);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  std::unique_ptr<ServerProcess> server(new ServerProcess(std::move(*dir), pid));

  const absl::Time deadline = absl::Now() + options.ready_timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->reaped_ = true;
      server->exit_status_ = status;
      return absl::FailedPreconditionError(absl::StrCat(
          "zerocelld exited (wait status ", status,
          ") before it was ready; args: ", absl::StrJoin(args, " "), "\nlog:\n", server->Logs()));
    }
    absl::StatusOr<std::string> content = ReadFile(ready);
    if (content.ok()) {
      server->grpc_port_ = static_cast<int>(JsonInt(*content, "grpc_port"));
      server->metrics_port_ = static_cast<int>(JsonInt(*content, "metrics_port"));
      if (server->grpc_port_ <= 0) {
        return absl::InternalError(
            absl::StrCat("ready file without a grpc_port: ", *content, "\nlog:\n", server->Logs()));
      }
      return server;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("zerocelld not ready after ",
                                                      absl::FormatDuration(options.ready_timeout),
                                                      "\nlog:\n", server->Logs()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

ServerProcess::~ServerProcess() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string ServerProcess::grpc_address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

absl::Status ServerProcess::Signal(int sig) {
  if (reaped_) return absl::FailedPreconditionError("zerocelld was already reaped");
  if (kill(pid_, sig) != 0) {
    return absl::InternalError(absl::StrCat("kill(", pid_, ", ", sig, "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ServerProcess::WaitExit(absl::Duration timeout) {
  if (reaped_) return exit_status_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_status_ = status;
      return status;
    }
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("zerocelld still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string ServerProcess::Logs() const {
  absl::StatusOr<std::string> log = ReadFile(absl::StrCat(dir_->path(), "/server.log"));
  return log.ok() ? *log : std::string();
}

std::string ServerProcess::LogsWith(std::string_view needle, absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  std::string logs = Logs();
  while (logs.find(needle) == std::string::npos && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
    logs = Logs();
  }
  return logs;
}

absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& path, absl::Duration timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  FdCloser closer(fd);
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

std::vector<pid_t> ChildPids(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& [child, parent] : ParentMap()) {
    if (parent == pid) out.push_back(child);
  }
  return out;
}

std::vector<pid_t> DescendantPids(pid_t pid) {
  const std::map<pid_t, pid_t> parents = ParentMap();
  std::multimap<pid_t, pid_t> children;
  for (const auto& [child, parent] : parents) children.emplace(parent, child);
  std::vector<pid_t> out;
  std::deque<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t p = todo.front();
    todo.pop_front();
    auto [begin, end] = children.equal_range(p);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

int OpenFdCount(pid_t pid) {
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  closedir(d);
  return n;
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv_in) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  FdCloser close_read(pipe_fds[0]);
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
  if (s.ok()) s = self_signed(c.rogue_key, c.rogue_cert, "/CN=zerocell-test-client", "rogue_ext");
  if (!s.ok()) return s;
  return c;
}

}  // namespace zerocell::server::testing

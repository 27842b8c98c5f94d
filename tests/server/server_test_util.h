// Test support for zerocelld end-to-end tests: a real server process, HTTP GET, /proc scans, and
// test certificates made with the openssl CLI.
#ifndef ZEROCELL_TESTS_SERVER_SERVER_PROCESS_H_
#define ZEROCELL_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zerocell::server::testing {

// $ZEROCELL_BIN_DIR/<name>, $ZEROCELL_GUEST_DIR/<name>; FAILED_PRECONDITION when unset.
absl::StatusOr<std::string> BinPath(const std::string& name);
absl::StatusOr<std::string> GuestPath(const std::string& name);

// The whole file; NOT_FOUND / INTERNAL naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A private temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A running zerocelld. The destructor kills it (SIGKILL) if it still runs, reaps it and removes
// its temporary directory.
class ServerProcess {
 public:
  struct Options {
    std::string binary;  // default $ZEROCELL_BIN_DIR/zerocelld
    absl::Duration ready_timeout = absl::Seconds(30);
  };

  // Starts `zerocelld --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0
  // --ready_file=<tmp>/ready.json <extra_flags...>` (later flags override earlier ones) with
  // stdout and stderr in a log file, and waits until the ready file appears. Fails (with the
  // server's log) if the server exits first or the timeout passes.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(std::vector<std::string> extra_flags);
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(std::vector<std::string> extra_flags,
                                                              const Options& options);
  ~ServerProcess();

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:<grpc port>".
  std::string grpc_address() const;
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  // Directory private to this server (removed with it); tests may put files there.
  const std::string& dir() const { return dir_->path(); }

  // kill(pid, sig); FAILED_PRECONDITION once reaped.
  absl::Status Signal(int sig);
  // Waits until the process exits and returns its raw wait status (WIFEXITED...);
  // DEADLINE_EXCEEDED when it still runs after `timeout` (it is left running).
  absl::StatusOr<int> WaitExit(absl::Duration timeout);
  bool exited() const { return reaped_; }

  // Everything the server wrote to stdout and stderr so far.
  std::string Logs() const;
  // Logs() once they contain `needle` (the server writes log lines a few milliseconds late,
  // batched), or as they are when `timeout` passes.
  std::string LogsWith(std::string_view needle, absl::Duration timeout = absl::Seconds(5)) const;

 private:
  ServerProcess(std::unique_ptr<TempDir> dir, pid_t pid) : dir_(std::move(dir)), pid_(pid) {}

  std::unique_ptr<TempDir> dir_;
  pid_t pid_;
  bool reaped_ = false;
  int exit_status_ = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

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

// Processes whose parent is `pid` / every descendant of `pid` (found by scanning /proc).
std::vector<pid_t> ChildPids(pid_t pid);
std::vector<pid_t> DescendantPids(pid_t pid);
// Entries in /proc/<pid>/fd; -1 when unreadable.
int OpenFdCount(pid_t pid);

// PEM files made by MakeTestCertificates (all in one directory).
struct TestCertificates {
  std::string ca_cert;      // self-signed CA
  std::string server_cert;  // signed by the CA; SAN IP:127.0.0.1, DNS:localhost
  std::string server_key;
  std::string client_cert;  // signed by the CA, clientAuth
  std::string client_key;
  std::string rogue_cert;  // self-signed client cert the CA never signed
  std::string rogue_key;
};

// Generates the certificates above in `dir` with the openssl CLI (EC P-256, valid 2 days).
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir);

// Runs argv[0] (PATH lookup) with stdout+stderr captured; INTERNAL with the output unless it
// exits 0. Returns the output.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_SERVER_PROCESS_H_

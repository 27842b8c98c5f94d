// A real zerocelld process for end-to-end tests and benchmarks: started on 127.0.0.1 port 0,
// ready once its ready file names its ports, stopped and reaped on destruction.
#ifndef ZEROCELL_TESTS_TESTING_ZEROCELLD_PROCESS_H_
#define ZEROCELL_TESTS_TESTING_ZEROCELLD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/files.h"

namespace zerocell::testing {

// A running zerocelld. The destructor stops it if it still runs (Options::stop_grace), reaps it
// and removes its private directory.
class ZerocelldProcess {
 public:
  struct Options {
    std::string binary;   // default BinPath("zerocelld")
    bool metrics = true;  // --metrics_listen=127.0.0.1:0; false: no metrics listener
    absl::Duration ready_timeout = absl::Seconds(30);
    // On destruction: SIGKILL at once (zero), or SIGTERM and SIGKILL after this long.
    absl::Duration stop_grace = absl::ZeroDuration();
  };

  // Starts `zerocelld --listen=127.0.0.1:0 --metrics_listen=... --ready_file=<dir>/ready.json
  // <extra_flags...>` (later flags override earlier ones) with stdout and stderr in a log file,
  // and waits until the ready file appears. If the server exits first: INVALID_ARGUMENT when its
  // log says a flag is unknown, else FAILED_PRECONDITION; DEADLINE_EXCEEDED after ready_timeout.
  // Each error carries the server's log.
  static absl::StatusOr<std::unique_ptr<ZerocelldProcess>> Start(
      std::vector<std::string> extra_flags);
  static absl::StatusOr<std::unique_ptr<ZerocelldProcess>> Start(
      std::vector<std::string> extra_flags, const Options& options);
  ~ZerocelldProcess();

  ZerocelldProcess(const ZerocelldProcess&) = delete;
  ZerocelldProcess& operator=(const ZerocelldProcess&) = delete;

  // "127.0.0.1:<grpc port>".
  std::string grpc_address() const;
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }  // 0 without a metrics listener
  pid_t pid() const { return pid_; }
  // Directory private to this server (removed with it); tests may put files there.
  const std::string& dir() const { return dir_.path(); }

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
  ZerocelldProcess(TempDir dir, pid_t pid, absl::Duration stop_grace)
      : dir_(std::move(dir)), pid_(pid), stop_grace_(stop_grace) {}

  TempDir dir_;
  pid_t pid_;
  absl::Duration stop_grace_;
  bool reaped_ = false;
  int exit_status_ = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace zerocell::testing

#endif  // ZEROCELL_TESTS_TESTING_ZEROCELLD_PROCESS_H_

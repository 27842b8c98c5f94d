// Helpers for the zerocell CLI tests: run build/bin/zerocell as a subprocess and capture its
// exit status, stdout and stderr; temp directories; guest paths.
#ifndef ZEROCELL_TESTS_CLIENT_CLI_TEST_UTIL_H_
#define ZEROCELL_TESTS_CLIENT_CLI_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace zerocell::client::testing {

struct CliResult {
  int exit_code = -1;  // WEXITSTATUS, or 1000 + signal if the CLI itself was killed
  std::string out;
  std::string err;
};

// $ZEROCELL_BIN_DIR/zerocell and $ZEROCELL_GUEST_DIR/<name>.
std::string ZerocellPath();
std::string GuestPath(absl::string_view name);

// Runs zerocell with `args` (argv[1..]) and `stdin_data` on its stdin; with interrupt_after_ms
// >= 0, sends it SIGINT that long after the start. Fails the calling test (ADD_FAILURE) if the CLI
// cannot be started or runs over 60 s.
CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_data = "",
                 int interrupt_after_ms = -1);

// How RunCliWith starts the CLI.
struct CliOptions {
  std::string stdin_data = "";    // stdin's contents, unless one of the next two is set
  std::string stdin_path = "";    // a file to open as stdin (e.g. /dev/zero)
  int stdin_fd = -1;              // a descriptor to give as stdin (e.g. a pipe the test feeds)
  std::string cwd = "";           // working directory; empty: the test's own
  int64_t address_space_kib = 0;  // > 0: RLIMIT_AS (soft and hard) of the CLI, via `ulimit -v`
  int interrupt_after_ms = -1;    // >= 0: SIGINT that long after the start
};
CliResult RunCliWith(const std::vector<std::string>& args, const CliOptions& options);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path()/name
  std::string File(absl::string_view name) const;
  // Writes `data` to path()/name and returns the path.
  std::string Write(absl::string_view name, absl::string_view data) const;

 private:
  std::string path_;
};

// The whole contents of a host file; "<missing>" when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace zerocell::client::testing

#endif  // ZEROCELL_TESTS_CLIENT_CLI_TEST_UTIL_H_

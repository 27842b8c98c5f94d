// Helpers for the zerocell CLI tests: run build/bin/zerocell as a subprocess and capture its
// exit status, stdout and stderr. Paths, files and temp directories: tests/testing/files.h.
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

// $ZEROCELL_BIN_DIR/zerocell.
std::string ZerocellPath();

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

}  // namespace zerocell::client::testing

#endif  // ZEROCELL_TESTS_CLIENT_CLI_TEST_UTIL_H_

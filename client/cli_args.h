// Per-subcommand flag parsing for the zerocell CLI: flags first, then the program and its
// arguments, which are passed through untouched.
//
// Hand-written rather than absl flags because the CLI needs what absl::ParseCommandLine does not
// give: per-subcommand flag sets, parsing that stops at the first non-flag argument (the guest's
// own "--flags" must reach the guest), repeatable flags whose values contain commas (--channel),
// and errors that exit with status 2 naming the flag.
#ifndef ZEROCELL_CLIENT_CLI_ARGS_H_
#define ZEROCELL_CLIENT_CLI_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace zerocell::client {

// One accepted flag. Written "--name=VALUE" or "--name VALUE" (value flags) or "--name" (switches;
// "--name=true|false|1|0" also works).
struct FlagSpec {
  absl::string_view name;        // without the leading "--"
  absl::string_view value_name;  // empty: a switch without a value; else shown in help ("BYTES")
  bool repeatable = false;       // may be given more than once; values kept in order
  absl::string_view help;        // one line
};

// The flags given on one command line, and the positional arguments after them.
class ParsedArgs {
 public:
  bool Has(absl::string_view name) const { return values_.count(std::string(name)) > 0; }
  // The value of a non-repeatable flag, or `fallback` when it was not given.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  // Every value of a repeatable flag in command-line order (empty when not given).
  const std::vector<std::string>& GetAll(absl::string_view name) const;
  // A switch: true when given as "--name" or "--name=true".
  bool GetBool(absl::string_view name) const;

  // Arguments from the first one that is not a flag (or after "--"), untouched.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedArgs> ParseFlags(absl::Span<const std::string> args,
                                               absl::Span<const FlagSpec> specs);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Parses `args` (the words after the subcommand). Flag parsing stops at the first argument that
// does not start with "--" (a lone "-" is positional) or right after a "--" separator.
// INVALID_ARGUMENT names the flag: unknown flag, missing value, a non-repeatable flag given twice,
// a value given to a switch.
absl::StatusOr<ParsedArgs> ParseFlags(absl::Span<const std::string> args,
                                      absl::Span<const FlagSpec> specs);

// Help text for a flag table: one "  --name=VALUE  help" line per flag, aligned.
std::string FormatFlagHelp(absl::Span<const FlagSpec> specs);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_CLI_ARGS_H_

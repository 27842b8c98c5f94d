// Parsers for CLI flag values (sizes, durations, numbers, --channel specs); every error names the
// flag it came from.
#ifndef ZEROCELL_CLIENT_CLI_VALUES_H_
#define ZEROCELL_CLIENT_CLI_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/cli_files.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::client {

// Quota used when the CLI user gives none: large enough never to bind before the output limit
// (so an over-long output ends as OUTPUT_LIMIT, not as a silent EDQUOT), small enough that sums
// of a few of them cannot overflow int64.
inline constexpr int64_t kUnlimitedQuota = int64_t{1} << 62;
// `zerocell run`'s output limit when all output is shown as written and none is kept: 4 GiB, the
// largest a manifest takes and a zerocelld's default --max_stream_output_bytes.
inline constexpr int64_t kLiveOutputLimitBytes = int64_t{4} << 30;

// "4096", "64K", "64M", "1G", "2T" (binary multiples; "KiB"/"KB"/"k" spellings accepted).
// INVALID_ARGUMENT "<flag>: ..." for anything else, negative values or int64 overflow.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text);

// "2" or "1.5" (seconds, up to 9 decimals) or an absl duration with a unit: "500ms", "1.5s",
// "2m", "1h". Must be > 0.
absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view flag,
                                                     absl::string_view text);

// Unix time in seconds, "1700000000" or "1700000000.25"; must be >= 0.
absl::StatusOr<absl::Time> ParseUnixSeconds(absl::string_view flag, absl::string_view text);

// Decimal or 0x hex, no sign for the unsigned form.
absl::StatusOr<int64_t> ParseInt64(absl::string_view flag, absl::string_view text);
absl::StatusOr<uint64_t> ParseUint64(absl::string_view flag, absl::string_view text);

// One --channel=ALIAS=FILE[,type=T][,gets=N][,get_size=N][,puts=N][,put_size=N][,etag][,out=FILE].
// FILE (may be empty) is read as the channel's data and makes the channel readable with unlimited
// quotas; out=FILE makes it writable with unlimited quotas and names where its output goes after
// the run. Explicit quotas override those defaults. ALIAS cannot contain '=' and FILE cannot
// contain ','.
struct ChannelFlag {
  sandbox::ChannelSpec spec;  // initial_bytes not loaded yet
  std::string input_path;     // empty: no input data
  std::string output_path;    // empty: output only in --json
};
absl::StatusOr<ChannelFlag> ParseChannelFlag(absl::string_view text);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_CLI_VALUES_H_

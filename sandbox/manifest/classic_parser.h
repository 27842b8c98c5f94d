// Parser for classic ZeroVM manifest text (versions 20130611 / 20140509) and its mapping to
// a Zerocell Manifest.
#ifndef ZEROCELL_SANDBOX_MANIFEST_CLASSIC_PARSER_H_
#define ZEROCELL_SANDBOX_MANIFEST_CLASSIC_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::sandbox {

// Caps on the input, as in ZeroVM (MANIFEST_SIZE_LIMIT, MANIFEST_LINES_LIMIT).
inline constexpr size_t kClassicMaxBytes = size_t{512} << 10;
inline constexpr size_t kClassicMaxLines = 8192;

// One `Channel = uri, alias, type, etag, gets, get_size, puts, put_size` line.
struct ClassicChannel {
  std::string uri;   // absolute host path of the channel's source or sink
  ChannelSpec spec;  // alias, type, etag and limits; initial_bytes is left empty
  int line = 0;      // 1-based line number in the manifest text
};

// The keys Zerocell uses from a classic manifest. Node, Job, Etag, NameServer and unknown keys
// are accepted and dropped, as ZeroVM does for unknown keys.
struct ClassicManifest {
  std::string version;  // "20130611" or "20140509"
  std::string program;  // absolute host path of the executable
  absl::Duration timeout;
  int64_t memory_bytes = 0;
  bool memory_etag = false;
  std::vector<ClassicChannel> channels;  // in manifest order
  int timeout_line = 0;                  // lines of the Timeout and Memory keys, for later errors
  int memory_line = 0;
};

// Parses manifest text with ZeroVM's syntax rules:
// - lines split on '\n', trailing '\r' and surrounding whitespace stripped;
// - empty lines and lines starting with '#' are comments;
// - a line with no '=' or with two or more '=' (e.g. "=====" banners) is ignored;
// - integers use strtoll base-0 syntax (decimal, 0x hex, leading-0 octal); junk or overflow
//   is an error; suffixes like "4G" are not accepted;
// - Version, Program, Timeout and Memory are mandatory and may appear once; Channel repeats and
//   /dev/stdin, /dev/stdout, /dev/stderr must be declared.
// Every error is INVALID_ARGUMENT. Errors tied to a line start with "line N: " and name the key
// and field (`line 7: Channel field 3 (type): "5" is not 0..3`); others start with "manifest: "
// (`manifest: missing Version`).
absl::StatusOr<ClassicManifest> ParseClassicManifest(std::string_view text);

// Maps a parsed manifest onto a builder: timeout, memory, channels and argv = {program}.
// `channel_inputs` is either empty (no channel has data) or holds, for every channel in manifest
// order, the bytes a readable channel serves (its host file's contents); a non-readable channel
// must get an empty string. Zerocell's bounds (timeout <= 24h, memory in [1 MiB, 64 GiB]) are
// checked here with the line of the offending key. The caller may adjust the builder (env,
// output limit, ...) before Build().
absl::StatusOr<ManifestBuilder> ToManifestBuilder(const ClassicManifest& classic,
                                                  std::vector<std::string> channel_inputs);

// ToManifestBuilder(...) followed by Build().
absl::StatusOr<Manifest> ToManifest(const ClassicManifest& classic,
                                    std::vector<std::string> channel_inputs);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_MANIFEST_CLASSIC_PARSER_H_

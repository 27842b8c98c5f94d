// Parser for the /dev/nvram channel of ZeroVM jobs: the INI file ZRT read at start-up for argv,
// environment, clock and file trees.
#ifndef ZEROCELL_SANDBOX_MANIFEST_NVRAM_H_
#define ZEROCELL_SANDBOX_MANIFEST_NVRAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace zerocell::sandbox {

inline constexpr std::string_view kNvramAlias = "/dev/nvram";

// One [fstab] record: `channel = ALIAS, mountpoint = PATH, access = ro[, removable = yes|no]
// [, fsname = tar]`: the tar archive the channel ALIAS serves is mounted read-only at PATH (ZRT
// unpacked it into its in-memory file system at start-up). Whoever runs the manifest resolves the
// channel to its archive.
struct NvramMount {
  std::string channel;     // the alias, as written (not unescaped, as in ZRT)
  std::string mountpoint;  // absolute and normalized: "/" or "/usr/lib"
  int line = 0;            // the nvram line of the record, for errors
};

// What an nvram asks of the run. [mapping] (how ZRT presented a channel to stat), [debug] (ZRT's
// log verbosity) and [precache] (ZRT's fork-based warm start) are accepted and have no effect:
// Zerocell presents channels by type, has no ZRT log and warms sandboxes itself.
struct NvramSettings {
  // [args]: the guest's argv, argv[0] included, from every `args = ...` line in order; nullopt
  // when the nvram has no such line.
  std::optional<std::vector<std::string>> args;
  // [env]: "NAME=value" for every `name = NAME, value = value` line, in order.
  std::vector<std::string> env;
  // [time]: `seconds = N`, the start of the guest's virtual clock (the last such line wins).
  std::optional<uint64_t> clock_seconds;
  // [fstab]: the tar archives to mount, in nvram order (mountpoints distinct).
  std::vector<NvramMount> mounts;
};

// Parses nvram text with ZRT's rules (zrt lib/helpers/conf_parser.c, lib/nvram/):
// - "[name]" at the start of a line opens a section; a name matches the first of precache,
//   fstab, time, debug, mapping, env, args that starts with it; text of other sections and text
//   before the first section is ignored;
// - '#' starts a comment that runs to the end of the line; ',' separates `key = value` pairs
//   like a line break, so one line is one record; keys and values are trimmed of spaces and tabs;
// - a record counts when it has every key of its section (fstab's removable and fsname have
//   defaults, no and tar); lines with unknown keys or missing keys are ignored, as ZRT ignores
//   them;
// - args are split on spaces and tabs; a '"' at the start of an argument runs it to the next '"';
//   each argument and each env value is then unescaped: "\xHH" (two hex digits) is that byte,
//   which is how ',', ' ', '"', '\', '#' and line breaks are written.
// Differences, each an error rather than a silent change: a [time] value that is not a decimal
// number of seconds below 2^32 (ZRT skipped non-digits), an env name that is empty or holds '=',
// and these [fstab] records:
// - access other than ro: trees are read-only. ZRT's `wo` (the directory packed into the channel
//   as a tar at exit) is not supported, the guest's writable place is the scratch directory; any
//   other value made ZRT skip the record;
// - removable other than yes or no (ZRT skipped the record); fsname other than tar (ZRT's FUSE
//   file systems by name);
// - a mountpoint that is not an absolute normalized path ("/", "/a/b": no empty, "." or ".."
//   component, no trailing '/'), or one an earlier record mounts (ZRT merged both archives into
//   one directory; a Zerocell mount would cover the one beneath).
// removable=yes is accepted and means what removable=no means: ZRT re-mounted such an archive
// when a forked ZeroCloud session re-read the nvram; a Zerocell run reads it once, at its start,
// as ZRT did for every record. A '\r' before a line break is dropped (ZRT kept it). Errors are
// INVALID_ARGUMENT and start with "nvram line N: ", naming the section and key.
absl::StatusOr<NvramSettings> ParseNvram(std::string_view text);

// ZRT's unescaping: every "\xHH" becomes the byte 0xHH; anything else is kept as is.
std::string UnescapeNvram(std::string_view value);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_MANIFEST_NVRAM_H_

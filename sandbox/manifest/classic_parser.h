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
// ZeroVM's memory ceiling (FOURGIG): a 32-bit address space.
inline constexpr int64_t kClassicMaxMemoryBytes = int64_t{1} << 32;
// The channel through which 20140509 manifests name the program (its "uboot" loads it).
inline constexpr std::string_view kBootElfAlias = "/boot/elf";

// One `Channel = uri, alias, type, [etag,] gets, get_size, puts, put_size` line.
struct ClassicChannel {
  std::string uri;   // host path of the channel's source or sink; relative to the working directory
  ChannelSpec spec;  // alias, type, etag and limits; initial_bytes is left empty
  int line = 0;      // 1-based line number in the manifest text
};

// The keys Zerocell uses from a classic manifest. Node, Job, Etag, NameServer, Broker and unknown
// keys are checked as ZeroVM checks them and otherwise dropped.
struct ClassicManifest {
  std::string version;  // "20130611" or "20140509"
  // Host path of the executable: Program, or the uri of the /boot/elf channel (20140509). May be
  // relative: ZeroVM opened it from the working directory.
  std::string program;
  absl::Duration timeout;
  int64_t memory_bytes = 0;
  bool memory_etag = false;
  // In manifest order. For 20140509, Program adds the /boot/elf channel (random read of the
  // program) at its own line, as ZeroVM's devel parser does.
  std::vector<ClassicChannel> channels;
  int program_line = 0;  // lines of the keys, for later errors
  int timeout_line = 0;
  int memory_line = 0;
};

// Parses manifest text as ZeroVM parsed it. `Version` picks the rules: 20130611 as ZeroVM 1.x
// (master) and 20140509 as ZeroVM 2.0 (devel).
// Common to both:
// - lines split on '\n', the key and value trimmed of whitespace (CRLF files work); a line is
//   used only when it splits into exactly two parts on '=' (banners like "=====" are ignored) and
//   its key is one of the version's keys (unknown keys are ignored);
// - integers use strtoll base-0 syntax (decimal, 0x hex, leading-0 octal, a sign); an empty
//   field is 0, as in ZeroVM; junk or int64 overflow is an error; no "4G" suffixes;
// - Memory = bytes, etag with 0 < bytes <= 4 GiB (and >= 1 MiB, Zerocell's floor) and etag 0/1;
//   Timeout in seconds 1..2147483647; /dev/stdin, /dev/stdout, /dev/stderr declared;
// - a channel uri may be relative (to the working directory): an extension, ZeroVM required
//   absolute paths; network uris (tcp:, udp:, ipc:, inproc:, pgm:, epgm:, opaque:) and ';' lists
//   are refused: sandbox-to-sandbox channels are not supported yet.
// 20130611: keys Channel, Version, Program, Memory, Timeout, NameServer, Node (an integer), Job
//   (at most 108 bytes), Etag; Program required; channels have 8 fields, etag 0 or 1; a ':' in a
//   channel path is an error (ZeroVM read it as proto:host:port).
// 20140509: keys Channel, Version, Boot, Program, Memory, Timeout, Node, Job, Broker (needs Node);
//   a key with an empty value is an error; channels have 7 fields, or 8 with an etag field that
//   is ignored whatever it holds, and a 7-field channel after an 8-field one is "mixed";
//   Program adds a /boot/elf channel (type 1, 0x1000000 gets and bytes) naming the program;
//   without it the /boot/elf channel's uri is the program. Boot (an untrusted NaCl loader) is
//   accepted and unused: Zerocell loads the program itself; a manifest with only Boot is refused.
// Every error is INVALID_ARGUMENT. Errors tied to a line start with "line N: " and name the key
// and field (`line 7: Channel field 3 (type): "5" is not 0..3`); others start with "manifest: "
// (`manifest: missing Version`).
absl::StatusOr<ClassicManifest> ParseClassicManifest(std::string_view text);

// A tar archive the nvram's [fstab] mounts: the archive is what channels[channel] serves (its
// uri's file), mounted read-only at `mountpoint`.
struct ClassicMount {
  size_t channel = 0;      // index into ClassicManifest::channels: a readable channel
  std::string mountpoint;  // absolute and normalized
  int nvram_line = 0;      // the [fstab] record's line in the nvram
  std::string context;     // "line N: Channel /dev/nvram (\"uri\"): nvram line M", for errors
};

// Maps a parsed manifest onto a builder: timeout, memory, memory etag, channels, argv =
// {basename of the program}. `channel_inputs` is either empty (no channel has data) or holds, for
// every channel in manifest order, the bytes a readable channel serves; a non-readable channel
// must get an empty string. When the readable /dev/nvram channel is given its bytes they are also
// parsed (ParseNvram) and applied: [args] is the argv, [env] the environment, [time] the clock's
// start; its errors name the channel's line and the nvram line. The caller may adjust the builder
// (argv, output limit, ...) before Build().
// [fstab] records go to `*mounts`, each naming a readable channel of the manifest other than the
// nvram (an error otherwise, naming the nvram line); the caller reads each archive and adds the
// mount (ManifestBuilder::add_mount with the tree's id). The channel itself stays declared. With
// `mounts` null an [fstab] record is an error: that caller mounts no trees.
absl::StatusOr<ManifestBuilder> ToManifestBuilder(const ClassicManifest& classic,
                                                  std::vector<std::string> channel_inputs,
                                                  std::vector<ClassicMount>* mounts = nullptr);

// ToManifestBuilder(...) followed by Build().
absl::StatusOr<Manifest> ToManifest(const ClassicManifest& classic,
                                    std::vector<std::string> channel_inputs);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_MANIFEST_CLASSIC_PARSER_H_

// Classic ZeroVM manifest parser: ZeroVM 1.x (20130611) and 2.0 (20140509) rules, with typed
// errors naming line and field; see classic_parser.h.
#include "sandbox/manifest/classic_parser.h"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/status_macros.h"
#include "sandbox/manifest/nvram.h"

namespace zerocell::sandbox {
namespace {

constexpr absl::string_view kVersionMaster = "20130611";
constexpr absl::string_view kVersionDevel = "20140509";
constexpr int64_t kMaxTimeoutSeconds = 2147483647;  // ZeroVM keeps Timeout in an int32
constexpr size_t kMaxJobBytes = 108;                // UNIX_PATH_MAX: Job is a unix socket path
constexpr int64_t kBootElfLimit = 0x1000000;        // devel's limits on the implicit /boot/elf

// Which ZeroVM parser a manifest gets: master (20130611) or devel (20140509).
enum class Format { kMaster, kDevel };

constexpr const char* kFieldNames8[] = {"uri",  "alias",    "type", "etag",
                                        "gets", "get_size", "puts", "put_size"};
constexpr const char* kFieldNames7[] = {"uri",      "alias", "type",    "gets",
                                        "get_size", "puts",  "put_size"};

// The keys each version knows (ZeroVM's KEYWORDS x-macros); other keys are ignored.
bool KnownKey(Format format, absl::string_view key) {
  static constexpr absl::string_view kMaster[] = {
      "Channel", "Version", "Program", "Memory", "Timeout", "NameServer", "Node", "Job", "Etag"};
  static constexpr absl::string_view kDevel[] = {"Channel", "Version", "Boot", "Program", "Memory",
                                                 "Timeout", "Node",    "Job",  "Broker"};
  for (absl::string_view k :
       format == Format::kMaster ? absl::MakeConstSpan(kMaster) : absl::MakeConstSpan(kDevel)) {
    if (k == key) return true;
  }
  return false;
}

// Debian's abseil has its own string_view type; the public API uses std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Quotes manifest text for an error message; escapes keep control bytes out of logs.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 120;
  std::string shown = absl::CHexEscape(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) shown += "...";
  return absl::StrCat("\"", shown, "\"");
}

// "line N" for errors tied to a line; "manifest" when the line is unknown (hand-built input).
std::string Where(int line) { return line > 0 ? absl::StrCat("line ", line) : "manifest"; }

absl::Status LineError(int line, absl::string_view what, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Where(line), ": ", what, ": ", message));
}

// Parses a whole field as an int64 with strtoll base-0 rules (decimal, 0x hex, leading-0
// octal, optional sign), like ZeroVM's ToInt(). An empty field is 0 there too (strtoll converts
// nothing and stops at the end); trailing junk and overflow fail.
absl::StatusOr<int64_t> ParseInt(absl::string_view field, int line, absl::string_view what) {
  if (field.empty()) return 0;
  const std::string buf(field);
  // strtoll would skip leading whitespace and stop at an embedded NUL; neither is valid here.
  if (absl::ascii_isspace(static_cast<unsigned char>(buf[0])) ||
      buf.find('\0') != std::string::npos) {
    return LineError(line, what, absl::StrCat(Quote(field), " is not an integer"));
  }
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(buf.c_str(), &end, 0);
  if (end != buf.c_str() + buf.size()) {
    return LineError(line, what, absl::StrCat(Quote(field), " is not an integer"));
  }
  if (errno == ERANGE) {
    return LineError(line, what, absl::StrCat(Quote(field), " is out of the int64 range"));
  }
  return static_cast<int64_t>(value);
}

absl::StatusOr<bool> ParseFlag(absl::string_view field, int line, absl::string_view what) {
  ASSIGN_OR_RETURN(int64_t value, ParseInt(field, line, what));
  if (value != 0 && value != 1) {
    return LineError(line, what, absl::StrCat(Quote(field), " is not 0 or 1"));
  }
  return value == 1;
}

// A host path: opened by the client relative to its working directory when not absolute. A NUL
// would truncate the path the host opens.
absl::Status CheckPath(absl::string_view path, int line, absl::string_view what) {
  if (path.empty()) return LineError(line, what, "must not be empty");
  if (path.find('\0') != absl::string_view::npos) {
    return LineError(line, what, absl::StrCat(Quote(path), " contains a NUL byte"));
  }
  return absl::OkStatus();
}

// Network sources ("tcp:2:0", devel's "opaque:...") and multiplexed "a;b" lists.
bool IsNetworkUri(Format format, absl::string_view uri) {
  if (uri.find(';') != absl::string_view::npos) return true;
  for (absl::string_view proto : {"tcp:", "udp:", "ipc:", "inproc:", "pgm:", "epgm:", "opaque:"}) {
    if (absl::StartsWithIgnoreCase(uri, proto)) return true;
  }
  // devel: every relative name starting with "opaque" went to the network broker.
  return format == Format::kDevel && absl::StartsWith(uri, "opaque");
}

std::vector<absl::string_view> SplitFields(absl::string_view value) {
  std::vector<absl::string_view> fields = absl::StrSplit(value, ',');
  for (absl::string_view& f : fields) f = absl::StripAsciiWhitespace(f);
  return fields;
}

struct Parser {
  Format format;
  ClassicManifest out;
  std::map<std::string, int> singleton_lines;  // key -> first line
  std::map<std::string, int> alias_lines;
  int first_8field_channel = 0;  // devel: line of the first deprecated (8-field) channel
  int boot_line = 0;

  absl::Status MarkSingleton(absl::string_view key, int line) {
    auto [it, inserted] = singleton_lines.emplace(std::string(key), line);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d: duplicate %s (first on line %d)", line, key, it->second));
    }
    return absl::OkStatus();
  }
  int LineOf(absl::string_view key) const {
    auto it = singleton_lines.find(std::string(key));
    return it == singleton_lines.end() ? 0 : it->second;
  }

  absl::Status AddChannel(ClassicChannel ch) {
    if (out.channels.size() >= ManifestLimits::kMaxChannels) {
      return LineError(ch.line, "Channel",
                       absl::StrFormat("more than %d channels", ManifestLimits::kMaxChannels));
    }
    auto [it, inserted] = alias_lines.emplace(ch.spec.alias, ch.line);
    if (!inserted) {
      return LineError(
          ch.line, "Channel field 2 (alias)",
          absl::StrFormat("duplicate alias %s (also line %d)", Quote(ch.spec.alias), it->second));
    }
    out.channels.push_back(std::move(ch));
    return absl::OkStatus();
  }

  absl::Status Channel(absl::string_view value, int line) {
    const std::vector<absl::string_view> f = SplitFields(value);
    // Index of each field in f; devel's 7-field form has no etag.
    bool has_etag = true;
    if (format == Format::kMaster) {
      if (f.size() != 8) {
        return LineError(
            line, "Channel",
            absl::StrFormat("expected 8 comma-separated fields, got %d (uri, alias, "
                            "type, etag, gets, get_size, puts, put_size)%s",
                            f.size(),
                            f.size() == 7 ? "; 7-field channels need Version 20140509" : ""));
      }
    } else if (f.size() == 7) {
      has_etag = false;
      if (first_8field_channel != 0) {
        return LineError(line, "Channel",
                         absl::StrFormat("a 7-field channel after the 8-field one on line %d: "
                                         "ZeroVM refuses a mixed version manifest",
                                         first_8field_channel));
      }
    } else if (f.size() == 8) {
      if (first_8field_channel == 0) first_8field_channel = line;
    } else {
      return LineError(line, "Channel",
                       absl::StrFormat("expected 7 comma-separated fields (uri, alias, type, gets, "
                                       "get_size, puts, put_size), or 8 with the deprecated etag "
                                       "after type, got %d",
                                       f.size()));
    }
    auto name = [&](int i) {
      return absl::StrFormat("Channel field %d (%s)", i + 1,
                             has_etag ? kFieldNames8[i] : kFieldNames7[i]);
    };
    ClassicChannel ch;
    ch.line = line;
    const absl::string_view uri = f[0];
    RETURN_IF_ERROR(CheckPath(uri, line, name(0)));
    if (IsNetworkUri(format, uri)) {
      return LineError(line, name(0),
                       absl::StrCat(Quote(uri),
                                    ": sandbox-to-sandbox channels (tcp:, udp:, ipc:, opaque: and "
                                    "';' lists of sources) are not supported yet"));
    }
    if (format == Format::kMaster && uri.find(':') != absl::string_view::npos) {
      return LineError(line, name(0),
                       absl::StrCat(Quote(uri),
                                    ": a ':' in a channel path is refused by ZeroVM "
                                    "20130611, which reads it as proto:host:port"));
    }
    ch.uri = std::string(uri);

    const absl::string_view alias = f[1];
    if (alias.empty()) return LineError(line, name(1), "must not be empty");
    if (alias.size() > ManifestLimits::kMaxAliasBytes) {
      return LineError(line, name(1),
                       absl::StrFormat("%s is %d bytes, more than %d", Quote(alias), alias.size(),
                                       ManifestLimits::kMaxAliasBytes));
    }
    // The guest opens channels by C-string name; a NUL would make aliases ambiguous.
    if (alias.find('\0') != absl::string_view::npos) {
      return LineError(line, name(1), absl::StrCat(Quote(alias), " contains a NUL byte"));
    }
    ch.spec.alias = std::string(alias);

    ASSIGN_OR_RETURN(int64_t type, ParseInt(f[2], line, name(2)));
    if (type < 0 || type > 3) {
      return LineError(line, name(2), absl::StrCat(Quote(f[2]), " is not 0..3"));
    }
    ch.spec.type = static_cast<ChannelType>(type);
    const int first_limit = has_etag ? 4 : 3;
    // devel ignores the deprecated etag field whatever it holds ("any integer is ok").
    if (has_etag && format == Format::kMaster) {
      ASSIGN_OR_RETURN(ch.spec.etag, ParseFlag(f[3], line, name(3)));
    }
    int64_t* const limits[4] = {&ch.spec.gets, &ch.spec.get_size, &ch.spec.puts, &ch.spec.put_size};
    for (int i = 0; i < 4; ++i) {
      const int at = first_limit + i;
      ASSIGN_OR_RETURN(*limits[i], ParseInt(f[at], line, name(at)));
      if (*limits[i] < 0) {
        return LineError(line, name(at), absl::StrCat(Quote(f[at]), " is a negative limit"));
      }
    }
    if (ch.spec.gets == 0 && ch.spec.get_size == 0 && ch.spec.puts == 0 && ch.spec.put_size == 0) {
      return LineError(line, "Channel", "nil channel: all four limits are 0");
    }
    return AddChannel(std::move(ch));
  }

  absl::Status Memory(absl::string_view value, int line) {
    const std::vector<absl::string_view> f = SplitFields(value);
    if (f.size() != 2) {
      return LineError(
          line, "Memory",
          absl::StrFormat("expected 2 comma-separated fields (bytes, etag), got %d", f.size()));
    }
    constexpr absl::string_view kBytes = "Memory field 1 (bytes)";
    ASSIGN_OR_RETURN(out.memory_bytes, ParseInt(f[0], line, kBytes));
    if (out.memory_bytes <= 0) {
      return LineError(line, kBytes, absl::StrCat(Quote(f[0]), " is not > 0"));
    }
    if (out.memory_bytes > kClassicMaxMemoryBytes) {
      return LineError(line, kBytes,
                       absl::StrFormat("%d is above ZeroVM's maximum of %d (4 GiB)",
                                       out.memory_bytes, kClassicMaxMemoryBytes));
    }
    if (out.memory_bytes < ManifestLimits::kMinMemoryBytes) {
      return LineError(line, kBytes,
                       absl::StrFormat("%d is below %d (1 MiB), too small for any program "
                                       "(ZeroVM needed more than 24 MiB)",
                                       out.memory_bytes, ManifestLimits::kMinMemoryBytes));
    }
    ASSIGN_OR_RETURN(out.memory_etag, ParseFlag(f[1], line, "Memory field 2 (etag)"));
    out.memory_line = line;
    return absl::OkStatus();
  }

  absl::Status Key(absl::string_view key, absl::string_view value, int line) {
    if (key == "Channel") return Channel(value, line);
    RETURN_IF_ERROR(MarkSingleton(key, line));
    if (key == "Program") {
      RETURN_IF_ERROR(CheckPath(value, line, key));
      out.program = std::string(value);
      out.program_line = line;
      if (format == Format::kDevel) {
        // devel turns Program into the channel its loader reads the program from.
        ClassicChannel boot;
        boot.uri = out.program;
        boot.line = line;
        boot.spec.alias = std::string(kBootElfAlias);
        boot.spec.type = ChannelType::kRandReadSeqWrite;
        boot.spec.gets = kBootElfLimit;
        boot.spec.get_size = kBootElfLimit;
        return AddChannel(std::move(boot));
      }
    } else if (key == "Timeout") {
      ASSIGN_OR_RETURN(int64_t seconds, ParseInt(value, line, key));
      if (seconds < 1) return LineError(line, key, absl::StrCat(Quote(value), " is not >= 1"));
      if (seconds > kMaxTimeoutSeconds) {
        return LineError(line, key,
                         absl::StrCat(Quote(value), " is above ", kMaxTimeoutSeconds,
                                      " (ZeroVM keeps Timeout in 32 bits)"));
      }
      out.timeout = absl::Seconds(seconds);
      out.timeout_line = line;
    } else if (key == "Memory") {
      return Memory(value, line);
    } else if (key == "Node" && format == Format::kMaster) {
      return ParseInt(value, line, key).status();  // an integer node id in 20130611
    } else if (key == "Job") {
      if (value.size() > kMaxJobBytes) {
        return LineError(line, key,
                         absl::StrFormat("%d bytes, more than a unix socket path holds (%d)",
                                         value.size(), kMaxJobBytes));
      }
    } else if (key == "Boot") {
      boot_line = line;
    }
    // NameServer, Etag, Broker, a devel Node and a valid Job: nothing Zerocell runs differently.
    return absl::OkStatus();
  }

  // Checks that need the whole manifest: mandatory keys, the program, standard channels.
  absl::Status Finish() {
    for (const char* key : {"Memory", "Timeout"}) {
      if (LineOf(key) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("manifest: missing ", key));
      }
    }
    if (format == Format::kMaster && out.program.empty()) {
      return absl::InvalidArgumentError("manifest: missing Program");
    }
    if (format == Format::kDevel && LineOf("Broker") != 0 && LineOf("Node") == 0) {
      return LineError(LineOf("Broker"), "Broker", "given without Node (ZeroVM requires both)");
    }
    if (format == Format::kDevel && out.program.empty()) {
      const ClassicChannel* boot = nullptr;
      for (const ClassicChannel& ch : out.channels) {
        if (ch.spec.alias == kBootElfAlias) boot = &ch;
      }
      if (boot == nullptr) {
        if (boot_line != 0) {
          return LineError(boot_line, "Boot",
                           "ZeroVM's untrusted loader binaries cannot run here (Zerocell loads "
                           "the program itself): name the program with Program or a /boot/elf "
                           "channel");
        }
        return absl::InvalidArgumentError("manifest: missing Program (or a /boot/elf channel)");
      }
      if (!boot->spec.readable() || !boot->spec.random_read()) {
        return LineError(boot->line, "Channel /boot/elf",
                         "the program channel must be readable at random (type 1 or 3, gets and "
                         "get_size > 0), as ZeroVM's loader requires");
      }
      out.program = boot->uri;
      out.program_line = boot->line;
    }
    for (std::string_view alias : {kStdinAlias, kStdoutAlias, kStderrAlias}) {
      if (alias_lines.find(std::string(alias)) == alias_lines.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("manifest: missing standard channel ", ToAbsl(alias)));
      }
    }
    return absl::OkStatus();
  }
};

// A line ZeroVM uses: non-empty and exactly two parts on '=' (key, value), both trimmed.
std::optional<std::pair<absl::string_view, absl::string_view>> KeyValue(absl::string_view line) {
  const absl::string_view s = absl::StripAsciiWhitespace(line);
  const size_t eq = s.find('=');
  if (s.empty() || eq == absl::string_view::npos ||
      s.find('=', eq + 1) != absl::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(absl::StripAsciiWhitespace(s.substr(0, eq)),
                        absl::StripAsciiWhitespace(s.substr(eq + 1)));
}

std::string Basename(const std::string& path) {
  const std::string base = path.substr(path.rfind('/') + 1);
  return base.empty() ? path : base;
}

}  // namespace

absl::StatusOr<ClassicManifest> ParseClassicManifest(std::string_view std_text) {
  const absl::string_view text = ToAbsl(std_text);
  if (text.size() > kClassicMaxBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("manifest: %d bytes exceed the %d-byte limit",
                                                      text.size(), kClassicMaxBytes));
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // text ending in '\n'
  if (lines.size() > kClassicMaxLines) {
    return absl::InvalidArgumentError(absl::StrFormat("manifest: %d lines exceed the %d-line limit",
                                                      lines.size(), kClassicMaxLines));
  }
  // The version picks the rules, and ZeroVM manifests often put it after the channels.
  Parser parser;
  int version_line = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto kv = KeyValue(lines[i]);
    if (!kv.has_value() || kv->first != "Version") continue;
    const int line = static_cast<int>(i) + 1;
    if (version_line != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("line %d: duplicate Version (first on line %d)", line, version_line));
    }
    if (kv->second != kVersionMaster && kv->second != kVersionDevel) {
      return LineError(
          line, "Version",
          absl::StrCat(Quote(kv->second), " is not ", kVersionMaster, " or ", kVersionDevel));
    }
    version_line = line;
    parser.out.version = std::string(kv->second);
  }
  if (version_line == 0) return absl::InvalidArgumentError("manifest: missing Version");
  parser.format = parser.out.version == kVersionMaster ? Format::kMaster : Format::kDevel;

  for (size_t i = 0; i < lines.size(); ++i) {
    const auto kv = KeyValue(lines[i]);
    if (!kv.has_value() || kv->first == "Version" || !KnownKey(parser.format, kv->first)) {
      continue;  // banners, comments, unknown keys: ignored, as ZeroVM does
    }
    const int line = static_cast<int>(i) + 1;
    if (parser.format == Format::kDevel && kv->second.empty()) {
      return LineError(line, kv->first, "has no value");
    }
    RETURN_IF_ERROR(parser.Key(kv->first, kv->second, line));
  }
  RETURN_IF_ERROR(parser.Finish());
  return std::move(parser.out);
}

absl::StatusOr<ManifestBuilder> ToManifestBuilder(const ClassicManifest& classic,
                                                  std::vector<std::string> channel_inputs,
                                                  std::vector<ClassicMount>* mounts) {
  if (!channel_inputs.empty() && channel_inputs.size() != classic.channels.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("manifest: %d channel inputs given for %d channels", channel_inputs.size(),
                        classic.channels.size()));
  }
  if (classic.timeout <= absl::ZeroDuration() || classic.timeout > ManifestLimits::kMaxTimeout) {
    return LineError(
        classic.timeout_line, "Timeout",
        absl::StrCat(absl::FormatDuration(classic.timeout), " is not in 1..2147483647 seconds"));
  }
  if (classic.memory_bytes < ManifestLimits::kMinMemoryBytes ||
      classic.memory_bytes > kClassicMaxMemoryBytes) {
    return LineError(classic.memory_line, "Memory field 1 (bytes)",
                     absl::StrFormat("%d is not in [%d, %d]", classic.memory_bytes,
                                     ManifestLimits::kMinMemoryBytes, kClassicMaxMemoryBytes));
  }
  ManifestBuilder builder;
  builder.set_timeout(classic.timeout)
      .set_memory_bytes(classic.memory_bytes)
      .set_memory_etag(classic.memory_etag)
      .set_argv({Basename(classic.program)});
  for (size_t i = 0; i < classic.channels.size(); ++i) {
    const ClassicChannel& ch = classic.channels[i];
    ChannelSpec spec = ch.spec;
    if (!channel_inputs.empty()) {
      if (!channel_inputs[i].empty() && !spec.readable()) {
        // Only readable channels serve data; bytes for a write-only channel are a caller bug.
        return LineError(ch.line, "Channel",
                         absl::StrFormat("%s is not readable but was given %d input bytes",
                                         Quote(spec.alias), channel_inputs[i].size()));
      }
      if (spec.alias == kNvramAlias && spec.readable()) {
        absl::StatusOr<NvramSettings> nvram = ParseNvram(channel_inputs[i]);
        if (!nvram.ok()) {
          return LineError(ch.line,
                           absl::StrCat("Channel ", ToAbsl(kNvramAlias), " (", Quote(ch.uri), ")"),
                           nvram.status().message());
        }
        const std::string what =
            absl::StrCat("Channel ", ToAbsl(kNvramAlias), " (", Quote(ch.uri), ")");
        for (const NvramMount& m : nvram->mounts) {
          const std::string context =
              absl::StrCat("nvram line ", m.line, ": [fstab] channel ", Quote(m.channel),
                           " mounted at ", Quote(m.mountpoint));
          if (mounts == nullptr) {
            return LineError(ch.line, what,
                             absl::StrCat(context, ": file trees are not mounted here"));
          }
          size_t found = classic.channels.size();
          for (size_t j = 0; j < classic.channels.size(); ++j) {
            if (classic.channels[j].spec.alias == m.channel) {
              found = j;
              break;
            }
          }
          if (found == classic.channels.size()) {
            return LineError(ch.line, what,
                             absl::StrCat(context, ": no Channel of the manifest has that alias"));
          }
          const ClassicChannel& tar = classic.channels[found];
          if (!tar.spec.readable() || found == i) {
            return LineError(
                ch.line, what,
                absl::StrCat(context, ": the Channel at line ", tar.line,
                             found == i ? " is the nvram itself" : " is not readable"));
          }
          mounts->push_back({found, m.mountpoint, m.line,
                             absl::StrCat(Where(ch.line), ": ", what, ": nvram line ", m.line)});
        }
        if (nvram->args.has_value() && !nvram->args->empty()) builder.set_argv(*nvram->args);
        builder.set_env(nvram->env);
        if (nvram->clock_seconds.has_value()) {
          builder.set_clock_start(
              absl::FromUnixSeconds(static_cast<int64_t>(*nvram->clock_seconds)));
        }
      }
      spec.initial_bytes = std::move(channel_inputs[i]);
    }
    builder.add_channel(std::move(spec));
  }
  return builder;
}

absl::StatusOr<Manifest> ToManifest(const ClassicManifest& classic,
                                    std::vector<std::string> channel_inputs) {
  ASSIGN_OR_RETURN(ManifestBuilder builder, ToManifestBuilder(classic, std::move(channel_inputs)));
  return builder.Build();
}

}  // namespace zerocell::sandbox

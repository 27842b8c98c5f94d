// Classic ZeroVM manifest parser: ZeroVM's line syntax, with typed errors naming line and field.
#include "sandbox/manifest/classic_parser.h"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "sandbox/status_macros.h"

namespace zerocell::sandbox {
namespace {

constexpr absl::string_view kVersionMaster = "20130611";
constexpr absl::string_view kVersionDevel = "20140509";
constexpr int kChannelFields = 8;
constexpr const char* kChannelFieldNames[kChannelFields] = {"uri",  "alias",    "type", "etag",
                                                            "gets", "get_size", "puts", "put_size"};

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

std::string ChannelField(int index) {
  return absl::StrFormat("Channel field %d (%s)", index + 1, kChannelFieldNames[index]);
}

// Parses a whole field as an int64 with strtoll base-0 rules (decimal, 0x hex, leading-0
// octal, optional sign), like ZeroVM's ToInt(). Trailing junk, empty input and overflow fail.
absl::StatusOr<int64_t> ParseInt(absl::string_view field, int line, absl::string_view what) {
  const std::string buf(field);
  // strtoll would skip leading whitespace and stop at an embedded NUL; neither is valid here.
  if (buf.empty() || absl::ascii_isspace(static_cast<unsigned char>(buf[0])) ||
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

// Host paths must be absolute (as in ZeroVM); NUL would truncate the path the host opens.
absl::Status CheckAbsolutePath(absl::string_view path, int line, absl::string_view what) {
  if (!absl::StartsWith(path, "/")) {
    return LineError(line, what, absl::StrCat(Quote(path), " is not an absolute host path"));
  }
  if (path.find('\0') != absl::string_view::npos) {
    return LineError(line, what, absl::StrCat(Quote(path), " contains a NUL byte"));
  }
  return absl::OkStatus();
}

std::vector<absl::string_view> SplitFields(absl::string_view value) {
  std::vector<absl::string_view> fields = absl::StrSplit(value, ',');
  for (absl::string_view& f : fields) f = absl::StripAsciiWhitespace(f);
  return fields;
}

// Records the first line of a singleton key; a second occurrence is an error naming both lines.
absl::Status MarkSingleton(absl::string_view key, int line, int* first_line) {
  if (*first_line != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("line %d: duplicate %s (first on line %d)", line, key, *first_line));
  }
  *first_line = line;
  return absl::OkStatus();
}

absl::StatusOr<ClassicChannel> ParseChannel(absl::string_view value, int line) {
  const std::vector<absl::string_view> f = SplitFields(value);
  if (f.size() != kChannelFields) {
    return LineError(line, "Channel",
                     absl::StrFormat("expected 8 comma-separated fields, got %d (uri, alias, "
                                     "type, etag, gets, get_size, puts, put_size)",
                                     f.size()));
  }
  ClassicChannel ch;
  ch.line = line;
  RETURN_IF_ERROR(CheckAbsolutePath(f[0], line, ChannelField(0)));
  // Multiplexed sources ("a;b") are a ZeroVM network feature Zerocell does not provide.
  if (f[0].find(';') != absl::string_view::npos) {
    return LineError(line, ChannelField(0),
                     absl::StrCat(Quote(f[0]), ": multiplexed channels are not supported"));
  }
  ch.uri = std::string(f[0]);

  const absl::string_view alias = f[1];
  if (alias.empty()) return LineError(line, ChannelField(1), "must not be empty");
  if (alias.size() > ManifestLimits::kMaxAliasBytes) {
    return LineError(line, ChannelField(1),
                     absl::StrFormat("%s is %d bytes, more than %d", Quote(alias), alias.size(),
                                     ManifestLimits::kMaxAliasBytes));
  }
  // The guest opens channels by C-string name; a NUL would make aliases ambiguous.
  if (alias.find('\0') != absl::string_view::npos) {
    return LineError(line, ChannelField(1), absl::StrCat(Quote(alias), " contains a NUL byte"));
  }
  ch.spec.alias = std::string(alias);

  ASSIGN_OR_RETURN(int64_t type, ParseInt(f[2], line, ChannelField(2)));
  if (type < 0 || type > 3) {
    return LineError(line, ChannelField(2), absl::StrCat(Quote(f[2]), " is not 0..3"));
  }
  ch.spec.type = static_cast<ChannelType>(type);
  ASSIGN_OR_RETURN(ch.spec.etag, ParseFlag(f[3], line, ChannelField(3)));

  int64_t* const limits[4] = {&ch.spec.gets, &ch.spec.get_size, &ch.spec.puts, &ch.spec.put_size};
  for (int i = 0; i < 4; ++i) {
    ASSIGN_OR_RETURN(*limits[i], ParseInt(f[4 + i], line, ChannelField(4 + i)));
    if (*limits[i] < 0) {
      return LineError(line, ChannelField(4 + i),
                       absl::StrCat(Quote(f[4 + i]), " is a negative limit"));
    }
  }
  if (ch.spec.gets == 0 && ch.spec.get_size == 0 && ch.spec.puts == 0 && ch.spec.put_size == 0) {
    return LineError(line, "Channel", "nil channel: all four limits are 0");
  }
  return ch;
}

// Lines of the singleton keys already seen (0 = not yet).
struct SeenKeys {
  int version = 0;
  int program = 0;
  int timeout = 0;
  int memory = 0;
};

absl::Status ParseMemory(absl::string_view value, int line, ClassicManifest* out) {
  const std::vector<absl::string_view> f = SplitFields(value);
  if (f.size() != 2) {
    return LineError(
        line, "Memory",
        absl::StrFormat("expected 2 comma-separated fields (bytes, etag), got %d", f.size()));
  }
  ASSIGN_OR_RETURN(out->memory_bytes, ParseInt(f[0], line, "Memory field 1 (bytes)"));
  if (out->memory_bytes <= 0) {
    return LineError(line, "Memory field 1 (bytes)", absl::StrCat(Quote(f[0]), " is not > 0"));
  }
  ASSIGN_OR_RETURN(out->memory_etag, ParseFlag(f[1], line, "Memory field 2 (etag)"));
  return absl::OkStatus();
}

// Applies one "key = value" line to `out`.
absl::Status ParseKey(absl::string_view key, absl::string_view value, int line, SeenKeys& seen,
                      std::map<std::string, int>& alias_lines, ClassicManifest* out) {
  if (key == "Version") {
    RETURN_IF_ERROR(MarkSingleton(key, line, &seen.version));
    if (value != kVersionMaster && value != kVersionDevel) {
      return LineError(
          line, key, absl::StrCat(Quote(value), " is not ", kVersionMaster, " or ", kVersionDevel));
    }
    out->version = std::string(value);
  } else if (key == "Program") {
    RETURN_IF_ERROR(MarkSingleton(key, line, &seen.program));
    RETURN_IF_ERROR(CheckAbsolutePath(value, line, key));
    out->program = std::string(value);
  } else if (key == "Timeout") {
    RETURN_IF_ERROR(MarkSingleton(key, line, &seen.timeout));
    ASSIGN_OR_RETURN(int64_t seconds, ParseInt(value, line, key));
    if (seconds < 1) return LineError(line, key, absl::StrCat(Quote(value), " is not >= 1"));
    out->timeout = absl::Seconds(seconds);
    out->timeout_line = line;
  } else if (key == "Memory") {
    RETURN_IF_ERROR(MarkSingleton(key, line, &seen.memory));
    RETURN_IF_ERROR(ParseMemory(value, line, out));
    out->memory_line = line;
  } else if (key == "Channel") {
    if (out->channels.size() >= ManifestLimits::kMaxChannels) {
      return LineError(line, key,
                       absl::StrFormat("more than %d channels", ManifestLimits::kMaxChannels));
    }
    ASSIGN_OR_RETURN(ClassicChannel ch, ParseChannel(value, line));
    auto [it, inserted] = alias_lines.emplace(ch.spec.alias, line);
    if (!inserted) {
      return LineError(
          line, ChannelField(1),
          absl::StrFormat("duplicate alias %s (also line %d)", Quote(ch.spec.alias), it->second));
    }
    out->channels.push_back(std::move(ch));
  }
  // Node, Job, Etag, NameServer and unknown keys: accepted and ignored, as ZeroVM does.
  return absl::OkStatus();
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

  ClassicManifest out;
  SeenKeys seen;
  std::map<std::string, int> alias_lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line = static_cast<int>(i) + 1;
    // Strips '\r' too, so CRLF manifests parse like LF ones.
    const absl::string_view s = absl::StripAsciiWhitespace(lines[i]);
    if (s.empty() || s.front() == '#') continue;
    // ZeroVM uses a line only when it splits into exactly two tokens on '='; others (including
    // "=====" banners) are silently ignored.
    const size_t eq = s.find('=');
    if (eq == absl::string_view::npos || s.find('=', eq + 1) != absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(s.substr(0, eq));
    const absl::string_view value = absl::StripAsciiWhitespace(s.substr(eq + 1));
    RETURN_IF_ERROR(ParseKey(key, value, line, seen, alias_lines, &out));
  }

  const std::pair<const char*, int> mandatory[] = {{"Version", seen.version},
                                                   {"Program", seen.program},
                                                   {"Timeout", seen.timeout},
                                                   {"Memory", seen.memory}};
  for (const auto& [key, first_line] : mandatory) {
    if (first_line == 0) return absl::InvalidArgumentError(absl::StrCat("manifest: missing ", key));
  }
  for (std::string_view alias : {kStdinAlias, kStdoutAlias, kStderrAlias}) {
    if (alias_lines.find(std::string(alias)) == alias_lines.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest: missing standard channel ", ToAbsl(alias)));
    }
  }
  return out;
}

absl::StatusOr<ManifestBuilder> ToManifestBuilder(const ClassicManifest& classic,
                                                  std::vector<std::string> channel_inputs) {
  if (!channel_inputs.empty() && channel_inputs.size() != classic.channels.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("manifest: %d channel inputs given for %d channels", channel_inputs.size(),
                        classic.channels.size()));
  }
  if (classic.timeout > ManifestLimits::kMaxTimeout) {
    return LineError(classic.timeout_line, "Timeout",
                     absl::StrCat(absl::FormatDuration(classic.timeout), " exceeds the 24h limit"));
  }
  if (classic.memory_bytes < ManifestLimits::kMinMemoryBytes ||
      classic.memory_bytes > ManifestLimits::kMaxMemoryBytes) {
    return LineError(
        classic.memory_line, "Memory field 1 (bytes)",
        absl::StrFormat("%d is not in [%d, %d]", classic.memory_bytes,
                        ManifestLimits::kMinMemoryBytes, ManifestLimits::kMaxMemoryBytes));
  }
  ManifestBuilder builder;
  builder.set_timeout(classic.timeout)
      .set_memory_bytes(classic.memory_bytes)
      .set_argv({classic.program});
  for (size_t i = 0; i < classic.channels.size(); ++i) {
    const ClassicChannel& ch = classic.channels[i];
    ChannelSpec spec = ch.spec;
    if (!channel_inputs.empty() && !channel_inputs[i].empty()) {
      // Only readable channels serve data; bytes for a write-only channel are a caller bug.
      if (!spec.readable()) {
        return LineError(ch.line, "Channel",
                         absl::StrFormat("%s is not readable but was given %d input bytes",
                                         Quote(spec.alias), channel_inputs[i].size()));
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

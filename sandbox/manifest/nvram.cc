// ZRT's nvram INI format: sections, records, args splitting and \xHH unescaping; see nvram.h.
#include "sandbox/manifest/nvram.h"

#include <array>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace zerocell::sandbox {
namespace {

// ZRT's sections in the order its loader registers their observers; a section name matches the
// first one it is a prefix of (ZRT compares only the name's own length).
enum class Section { kPrecache, kFstab, kTime, kDebug, kMapping, kEnv, kArgs, kNone };
constexpr std::array<absl::string_view, 7> kSectionNames = {"precache", "fstab", "time", "debug",
                                                            "mapping",  "env",   "args"};

// The keys of each section's records and the defaults ZRT gives optional ones (fstab only).
struct KeySpec {
  absl::string_view name;
  absl::string_view default_value;  // empty: required
};
std::vector<KeySpec> KeysOf(Section s) {
  switch (s) {
    case Section::kPrecache:
      return {{"precache", ""}};
    case Section::kFstab:
      return {{"channel", ""},
              {"mountpoint", ""},
              {"access", ""},
              {"removable", "no"},
              {"fsname", "tar"}};
    case Section::kTime:
      return {{"seconds", ""}};
    case Section::kDebug:
      return {{"verbosity", ""}};
    case Section::kMapping:
      return {{"channel", ""}, {"mode", ""}};
    case Section::kEnv:
      return {{"name", ""}, {"value", ""}};
    case Section::kArgs:
      return {{"args", ""}};
    case Section::kNone:
      break;
  }
  return {};
}

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// ZRT trims spaces and tabs (its STRIPING_CHARS also has '\n', which never reaches a token).
absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 120;
  std::string shown = absl::CHexEscape(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) shown += "...";
  return absl::StrCat("\"", shown, "\"");
}

absl::Status LineError(int line, Section s, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("nvram line ", line, ": [", kSectionNames[static_cast<size_t>(s)], "] ", what));
}

Section SectionNamed(absl::string_view name) {
  for (size_t i = 0; i < kSectionNames.size(); ++i) {
    if (kSectionNames[i].substr(0, name.size()) == name) return static_cast<Section>(i);
  }
  return Section::kNone;
}

// ZRT's parse_config_args: arguments separated by spaces or tabs; a '"' where an argument would
// start takes everything up to the next '"' (or the end) as one argument.
std::vector<absl::string_view> SplitArgs(absl::string_view buf) {
  std::vector<absl::string_view> out;
  size_t start = absl::string_view::npos;  // start of the argument being read
  for (size_t i = 0; i < buf.size(); ++i) {
    const char c = buf[i];
    if (c == ' ' || c == '\t') {
      if (start != absl::string_view::npos) out.push_back(buf.substr(start, i - start));
      start = absl::string_view::npos;
    } else if (c == '"' && start == absl::string_view::npos) {
      if (i + 1 < buf.size()) {
        size_t close = buf.find('"', i + 1);
        if (close == absl::string_view::npos) close = buf.size();
        out.push_back(buf.substr(i + 1, close - i - 1));
        i = close;
      } else {
        start = i;  // a '"' that ends the value is an argument of its own
      }
    } else if (start == absl::string_view::npos) {
      start = i;
    }
  }
  if (start != absl::string_view::npos) out.push_back(buf.substr(start));
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ZRT's unescape_string_copy_to_dest.
std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (i + 3 < s.size() && s[i] == '\\' && s[i + 1] == 'x' && HexDigit(s[i + 2]) >= 0 &&
        HexDigit(s[i + 3]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 2]) * 16 + HexDigit(s[i + 3])));
      i += 4;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// One record: the value of each key of its section, in KeysOf order (nullopt: not given).
using Record = std::vector<std::optional<absl::string_view>>;

// Parses one line of a section into a record; false when it is not a complete record.
bool ParseRecord(absl::string_view line, const std::vector<KeySpec>& keys, Record* record) {
  record->assign(keys.size(), std::nullopt);
  const size_t hash = line.find('#');
  if (hash != absl::string_view::npos) line = line.substr(0, hash);
  bool any = false;
  for (absl::string_view token : absl::StrSplit(line, ',')) {
    token = Trim(token);
    const size_t eq = token.find('=');
    if (eq == absl::string_view::npos) continue;  // ZRT: "last token parsing error", ignored
    const absl::string_view key = Trim(token.substr(0, eq));
    for (size_t k = 0; k < keys.size(); ++k) {
      // A key given twice keeps its first value, as in ZRT.
      if (keys[k].name == key && !(*record)[k].has_value()) {
        (*record)[k] = Trim(token.substr(eq + 1));
        any = true;
      }
    }
  }
  if (!any) return false;
  for (size_t k = 0; k < keys.size(); ++k) {
    if ((*record)[k].has_value()) continue;
    if (keys[k].default_value.empty()) return false;  // ZRT drops records missing a key
    (*record)[k] = keys[k].default_value;
  }
  return true;
}

// "/" or "/a/b": absolute, no empty, "." or ".." component (so no trailing '/'), no NUL.
bool IsNormalizedAbsolute(absl::string_view path) {
  if (path.empty() || path.front() != '/' || path.find('\0') != absl::string_view::npos) {
    return false;
  }
  if (path == "/") return true;
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

// An [fstab] record: channel, mountpoint, access, removable, fsname (KeysOf order).
absl::Status ApplyFstab(const Record& r, int line, NvramSettings* out) {
  const absl::string_view channel = *r[0], mountpoint = *r[1], access = *r[2];
  const absl::string_view removable = *r[3], fsname = *r[4];
  if (access == "wo") {
    return LineError(line, Section::kFstab,
                     absl::StrCat("access: \"wo\" (channel ", Quote(channel),
                                  " written as a tar of ", Quote(mountpoint),
                                  " at exit) is not supported: file trees are read-only; the "
                                  "guest's writable place is the scratch directory (/tmp)"));
  }
  if (access != "ro") {
    return LineError(line, Section::kFstab,
                     absl::StrCat("access: ", Quote(access),
                                  " is not ro: file trees are read-only (the guest's writable "
                                  "place is the scratch directory, /tmp); ZRT took ro and wo "
                                  "only and skipped this record"));
  }
  if (removable != "yes" && removable != "no") {
    return LineError(line, Section::kFstab,
                     absl::StrCat("removable: ", Quote(removable),
                                  " is not yes or no (ZRT skipped this record)"));
  }
  if (!absl::EqualsIgnoreCase(fsname, "tar")) {
    return LineError(line, Section::kFstab,
                     absl::StrCat("fsname: ", Quote(fsname),
                                  " is not supported: only tar archives are mounted"));
  }
  if (!IsNormalizedAbsolute(mountpoint)) {
    return LineError(line, Section::kFstab,
                     absl::StrCat("mountpoint: ", Quote(mountpoint),
                                  " is not an absolute normalized path (\"/\" or \"/a/b\": no "
                                  "empty, \".\" or \"..\" component, no trailing '/')"));
  }
  for (const NvramMount& earlier : out->mounts) {
    if (earlier.mountpoint == mountpoint) {
      return LineError(line, Section::kFstab,
                       absl::StrCat("mountpoint: ", Quote(mountpoint),
                                    " is already mounted by nvram line ", earlier.line));
    }
  }
  out->mounts.push_back({std::string(channel), std::string(mountpoint), line});
  return absl::OkStatus();
}

absl::Status Apply(Section section, const Record& r, int line, NvramSettings* out) {
  switch (section) {
    case Section::kArgs: {
      if (!out->args.has_value()) out->args.emplace();
      for (absl::string_view arg : SplitArgs(*r[0])) out->args->push_back(Unescape(arg));
      return absl::OkStatus();
    }
    case Section::kEnv: {
      const absl::string_view name = *r[0];
      // ZRT copied the name as is; an empty one or one with '=' would define another variable.
      if (name.empty() || name.find('=') != absl::string_view::npos ||
          name.find('\0') != absl::string_view::npos) {
        return LineError(line, section,
                         absl::StrCat("name: ", Quote(name), " is not a variable name"));
      }
      out->env.push_back(absl::StrCat(name, "=", Unescape(*r[1])));
      return absl::OkStatus();
    }
    case Section::kTime: {
      const absl::string_view v = *r[0];
      uint64_t seconds = 0;
      bool ok = !v.empty() && v.size() <= 10;
      for (char c : v) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(c));
      if (ok) seconds = std::strtoull(std::string(v).c_str(), nullptr, 10);
      if (!ok || seconds > UINT32_MAX) {
        return LineError(
            line, section,
            absl::StrCat("seconds: ", Quote(v), " is not a decimal number of seconds below 2^32"));
      }
      out->clock_seconds = seconds;
      return absl::OkStatus();
    }
    case Section::kFstab:
      return ApplyFstab(r, line, out);
    case Section::kMapping:
    case Section::kDebug:
    case Section::kPrecache:
    case Section::kNone:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

std::string UnescapeNvram(std::string_view value) { return Unescape(ToAbsl(value)); }

absl::StatusOr<NvramSettings> ParseNvram(std::string_view std_text) {
  NvramSettings out;
  Section section = Section::kNone;
  std::vector<KeySpec> keys;
  int line_no = 0;
  Record record;
  for (absl::string_view line : absl::StrSplit(ToAbsl(std_text), '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A section header: '[' first on the line and ']' on the same line.
    if (!line.empty() && line.front() == '[') {
      const size_t close = line.find(']');
      if (close != absl::string_view::npos) {
        section = SectionNamed(absl::StripAsciiWhitespace(line.substr(1, close - 1)));
        keys = KeysOf(section);
        continue;
      }
    }
    if (section == Section::kNone || !ParseRecord(line, keys, &record)) continue;
    if (absl::Status s = Apply(section, record, line_no, &out); !s.ok()) return s;
  }
  return out;
}

}  // namespace zerocell::sandbox

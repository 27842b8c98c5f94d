// Parsers for CLI flag values; every error names the flag it came from.
#include "client/cli_values.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

namespace zerocell::client {
namespace {

absl::Status ValueError(absl::string_view flag, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s (got \"%s\")", flag, why, text));
}

// Parses "123" or "123.456" (at most 9 decimals) into units of 10^-9, e.g. seconds -> ns.
std::optional<int64_t> ParseDecimalNanos(absl::string_view text) {
  absl::string_view whole = text;
  absl::string_view frac;
  if (size_t dot = text.find('.'); dot != absl::string_view::npos) {
    whole = text.substr(0, dot);
    frac = text.substr(dot + 1);
  }
  if (whole.empty() && frac.empty()) return std::nullopt;
  if (frac.size() > 9) return std::nullopt;
  for (char c : whole) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  for (char c : frac) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  int64_t seconds = 0;
  if (!whole.empty() && !absl::SimpleAtoi(whole, &seconds)) return std::nullopt;
  if (seconds > std::numeric_limits<int64_t>::max() / 1'000'000'000) return std::nullopt;
  int64_t nanos = 0;
  if (!frac.empty()) {
    std::string padded(frac);
    padded.resize(9, '0');
    if (!absl::SimpleAtoi(padded, &nanos)) return std::nullopt;
  }
  return seconds * 1'000'000'000 + nanos;
}

}  // namespace

absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text) {
  absl::string_view digits = text;
  int shift = 0;
  size_t end = 0;
  while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
  digits = text.substr(0, end);
  std::string suffix = absl::AsciiStrToUpper(text.substr(end));
  if (digits.empty()) return ValueError(flag, text, "expected a byte count like 4096, 64M or 1G");
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else {
    // Accept "K", "KB", "KIB" (all binary multiples: this is about memory and quotas).
    char unit = suffix[0];
    absl::string_view rest = absl::string_view(suffix).substr(1);
    if (!(rest.empty() || rest == "B" || rest == "IB")) {
      return ValueError(flag, text, "unknown size suffix (use K, M, G or T)");
    }
    switch (unit) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return ValueError(flag, text, "unknown size suffix (use K, M, G or T)");
    }
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value) || value > (std::numeric_limits<int64_t>::max() >> shift)) {
    return ValueError(flag, text, "too large");
  }
  return value << shift;
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view flag,
                                                     absl::string_view text) {
  absl::Duration d;
  if (std::optional<int64_t> nanos = ParseDecimalNanos(text)) {
    d = absl::Nanoseconds(*nanos);
  } else if (!text.empty() && absl::ascii_isalpha(text.back()) && absl::ParseDuration(text, &d)) {
    // absl forms such as "500ms", "1.5s", "2m", "1h30m".
  } else {
    return ValueError(flag, text, "expected seconds like 2 or 1.5, or a duration like 500ms");
  }
  if (d <= absl::ZeroDuration()) return ValueError(flag, text, "must be greater than zero");
  if (d == absl::InfiniteDuration()) return ValueError(flag, text, "must be finite");
  return d;
}

absl::StatusOr<absl::Time> ParseUnixSeconds(absl::string_view flag, absl::string_view text) {
  std::optional<int64_t> nanos = ParseDecimalNanos(text);
  if (!nanos)
    return ValueError(flag, text, "expected Unix seconds like 1700000000 or 1700000000.5");
  return absl::FromUnixNanos(*nanos);
}

absl::StatusOr<int64_t> ParseInt64(absl::string_view flag, absl::string_view text) {
  int64_t value = 0;
  if (absl::StartsWithIgnoreCase(text, "0x")) {
    uint64_t u = 0;
    if (absl::SimpleHexAtoi(text.substr(2), &u) &&
        u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
  } else if (absl::SimpleAtoi(text, &value) && !absl::StartsWith(text, "+")) {
    return value;
  }
  return ValueError(flag, text, "expected an integer");
}

absl::StatusOr<uint64_t> ParseUint64(absl::string_view flag, absl::string_view text) {
  uint64_t value = 0;
  bool ok = false;
  if (absl::StartsWithIgnoreCase(text, "0x")) {
    ok = absl::SimpleHexAtoi(text.substr(2), &value);
  } else if (!text.empty() && absl::ascii_isdigit(text[0])) {
    ok = absl::SimpleAtoi(text, &value);
  }
  if (!ok) return ValueError(flag, text, "expected an unsigned integer");
  return value;
}

absl::StatusOr<ChannelFlag> ParseChannelFlag(absl::string_view text) {
  ChannelFlag out;
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return ValueError("--channel", text, "expected ALIAS=FILE[,key=value...]");
  }
  out.spec.alias = std::string(text.substr(0, eq));
  const std::string flag = absl::StrCat("--channel=", out.spec.alias);
  std::vector<absl::string_view> parts = absl::StrSplit(text.substr(eq + 1), ',');
  out.input_path = std::string(parts[0]);

  std::optional<int64_t> gets, get_size, puts, put_size;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view part = parts[i];
    absl::string_view key = part;
    absl::string_view value;
    bool has_value = false;
    if (size_t peq = part.find('='); peq != absl::string_view::npos) {
      key = part.substr(0, peq);
      value = part.substr(peq + 1);
      has_value = true;
    }
    const std::string field = absl::StrCat(flag, " ", key);
    if (key == "etag") {
      if (!has_value || value == "1" || value == "true") {
        out.spec.etag = true;
      } else if (value == "0" || value == "false") {
        out.spec.etag = false;
      } else {
        return ValueError(field, value, "expected etag, etag=1 or etag=0");
      }
      continue;
    }
    if (!has_value) return ValueError(flag, part, "expected key=value");
    if (key == "type") {
      ASSIGN_OR_RETURN(int64_t type, ParseInt64(field, value));
      if (type < 0 || type > 3) return ValueError(field, value, "channel type must be 0..3");
      out.spec.type = static_cast<sandbox::ChannelType>(type);
    } else if (key == "gets") {
      ASSIGN_OR_RETURN(gets, ParseInt64(field, value));
    } else if (key == "get_size") {
      ASSIGN_OR_RETURN(get_size, ParseByteSize(field, value));
    } else if (key == "puts") {
      ASSIGN_OR_RETURN(puts, ParseInt64(field, value));
    } else if (key == "put_size") {
      ASSIGN_OR_RETURN(put_size, ParseByteSize(field, value));
    } else if (key == "out") {
      if (value.empty()) return ValueError(field, value, "needs a file name");
      out.output_path = std::string(value);
    } else {
      return ValueError(flag, part,
                        "unknown key (use type, gets, get_size, puts, put_size, etag, out)");
    }
  }
  for (const auto& [name, v] : {std::pair{"gets", gets}, std::pair{"get_size", get_size},
                                std::pair{"puts", puts}, std::pair{"put_size", put_size}}) {
    if (v && *v < 0) {
      return ValueError(absl::StrCat(flag, " ", name), absl::StrCat(*v), "must be >= 0");
    }
  }
  const bool in = !out.input_path.empty();
  const bool wr = !out.output_path.empty();
  out.spec.gets = gets.value_or(in ? kUnlimitedQuota : 0);
  out.spec.get_size = get_size.value_or(in ? kUnlimitedQuota : 0);
  out.spec.puts = puts.value_or(wr || put_size ? kUnlimitedQuota : 0);
  out.spec.put_size = put_size.value_or(wr || puts ? kUnlimitedQuota : 0);
  if (in && !out.spec.readable()) {
    return ValueError(flag, text, "has an input FILE but gets/get_size make it unreadable");
  }
  if (!out.spec.readable() && !out.spec.writable()) {
    return ValueError(flag, text,
                      "neither readable nor writable: give an input FILE, out=FILE or quotas");
  }
  return out;
}

}  // namespace zerocell::client

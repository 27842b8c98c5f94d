// Server addresses -> gRPC targets (address lists as ipv4:/ipv6: URIs).
#include "client/channel_target.h"

#include <arpa/inet.h>

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace zerocell::client {
namespace {

enum class Family { kIpv4, kIpv6 };

// One "IP:PORT" or "[IPv6]:PORT" entry of a list: its family, or INVALID_ARGUMENT.
absl::StatusOr<Family> CheckEntry(absl::string_view entry) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address list: \"", entry, "\": ", why,
                     " (a list takes IP:PORT entries; for a host name use dns:///NAME:PORT, "
                     "which spreads calls over every address the name has)"));
  };
  if (entry.empty()) return bad("empty entry");
  std::string host;
  absl::string_view port;
  Family family;
  if (absl::StartsWith(entry, "[")) {
    const size_t close = entry.find("]:");
    if (close == absl::string_view::npos) return bad("expected [IPv6]:PORT");
    host = std::string(entry.substr(1, close - 1));
    port = entry.substr(close + 2);
    family = Family::kIpv6;
  } else {
    const size_t colon = entry.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    host = std::string(entry.substr(0, colon));
    port = entry.substr(colon + 1);
    family = Family::kIpv4;
  }
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(family == Family::kIpv6 ? AF_INET6 : AF_INET, host.c_str(), buffer) != 1) {
    return bad(family == Family::kIpv6 ? "not an IPv6 address" : "not an IPv4 address");
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return bad("port must be 1..65535");
  }
  return family;
}

}  // namespace

absl::StatusOr<ChannelTarget> ChannelTargetFor(absl::string_view address) {
  if (address.empty()) return absl::InvalidArgumentError("server address: empty");
  if (!absl::StrContains(address, ',') || absl::StrContains(address, "://") ||
      absl::StartsWith(address, "ipv4:") || absl::StartsWith(address, "ipv6:") ||
      absl::StartsWith(address, "unix:")) {
    return ChannelTarget{std::string(address), ""};
  }
  std::vector<absl::string_view> entries = absl::StrSplit(address, ',');
  std::optional<Family> family;
  for (absl::string_view entry : entries) {
    absl::StatusOr<Family> f = CheckEntry(entry);
    if (!f.ok()) return f.status();
    if (family.has_value() && *family != *f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server address list: \"", entry,
          "\": IPv4 and IPv6 entries cannot be mixed in one list (gRPC's ipv4:/ipv6: targets)"));
    }
    family = *f;
  }
  return ChannelTarget{
      absl::StrCat(*family == Family::kIpv6 ? "ipv6:" : "ipv4:", absl::StrJoin(entries, ",")),
      std::string(entries.front())};
}

}  // namespace zerocell::client

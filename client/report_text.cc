// The human form of an admission report, shared by `zerocell validate` and `zerocell register`.
#include "client/report_text.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/report_proto.h"
#include "image/validator.h"

namespace zerocell::client {
namespace {

constexpr int kMaxRangesShown = 5;

std::string_view PolicyText(v1::InstructionPolicy policy) {
  const std::optional<image::InstructionPolicy> known = api::PolicyFromProto(policy);
  return known.has_value() ? image::PolicyName(*known) : "unspecified";
}

// "cpuid at 0x40f1c8" x29 -> "cpuid: 29 places, first at 0x40f1c8"; other warnings verbatim.
std::vector<std::string> SummariseWarnings(const v1::ValidationReport& report) {
  struct Group {
    int count = 0;
    std::string first;
  };
  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  for (const std::string& warning : report.warnings()) {
    const size_t at = warning.find(" at ");
    const std::string key = at == std::string::npos ? warning : warning.substr(0, at);
    Group& group = groups[key];
    if (group.count++ == 0) {
      order.push_back(key);
      group.first = warning;
    }
  }
  std::vector<std::string> lines;
  for (const std::string& key : order) {
    const Group& group = groups[key];
    const size_t at = group.first.find(" at ");
    lines.push_back(group.count == 1 || at == std::string::npos
                        ? group.first
                        : absl::StrFormat("%s: %d places, first at %s", key, group.count,
                                          group.first.substr(at + 4)));
  }
  return lines;
}

}  // namespace

std::string FormatReportText(const v1::ValidationReport& report) {
  std::string out;
  absl::StrAppendFormat(&out, "  kind: %s, entry 0x%x, %d load segments\n",
                        report.kind() == v1::ELF_KIND_STATIC_PIE ? "static-pie" : "ET_EXEC",
                        report.entry(), report.load_segments());
  absl::StrAppendFormat(&out, "  executable bytes: %d\n", report.executable_bytes());
  if (!report.instructions_checked()) {
    absl::StrAppend(&out, "  instructions: not checked (ELF checks only)\n");
    return out;
  }
  absl::StrAppendFormat(&out, "  instructions: %d decoded against the %s policy in %.3f ms\n",
                        report.instructions(), PolicyText(report.policy()),
                        static_cast<double>(report.validation_ns()) / 1e6);
  // The report keeps the first ranges only; bytes beyond the listed ones mean more ranges.
  int64_t listed_bytes = 0;
  for (const v1::ByteRange& range : report.undecodable()) listed_bytes += range.length();
  const bool more_ranges = report.undecodable_bytes() > listed_bytes;
  absl::StrAppendFormat(&out, "  undecodable bytes: %d in %d%s ranges\n",
                        report.undecodable_bytes(), report.undecodable_size(),
                        more_ranges ? "+" : "");
  for (int i = 0; i < report.undecodable_size() && i < kMaxRangesShown; ++i) {
    const v1::ByteRange& range = report.undecodable(i);
    absl::StrAppendFormat(&out, "    file offset 0x%x (vaddr 0x%x), length %d\n",
                          range.file_offset(), range.vaddr(), range.length());
  }
  if (report.undecodable_size() > kMaxRangesShown) {
    absl::StrAppendFormat(&out, "    ... %d more (--json lists them)%s\n",
                          report.undecodable_size() - kMaxRangesShown,
                          more_ranges ? ", then ranges the report does not keep" : "");
  }
  absl::StrAppendFormat(&out, "  warnings: %d\n", report.warnings_size());
  for (const std::string& line : SummariseWarnings(report)) {
    absl::StrAppend(&out, "    ", line, "\n");
  }
  // Reports from before rejected_instructions existed only have the list.
  const int64_t refused =
      std::max<int64_t>(report.rejected_instructions(), report.rejections_size());
  absl::StrAppendFormat(&out, "  refused instructions: %d", refused);
  if (refused > report.rejections_size()) {
    absl::StrAppendFormat(&out, " (the first %d listed)", report.rejections_size());
  }
  absl::StrAppend(&out, "\n");
  for (const v1::InstructionRejection& r : report.rejections()) {
    absl::StrAppendFormat(&out, "    file offset 0x%x (vaddr 0x%x): %s: %s\n", r.file_offset(),
                          r.vaddr(), r.instruction(), r.rule());
  }
  return out;
}

std::string FormatRejections(const zerocell::v1::ValidationReport& report) {
  std::string out;
  for (const zerocell::v1::InstructionRejection& r : report.rejections()) {
    absl::StrAppendFormat(&out, "  refused: %s at 0x%x (file offset 0x%x): %s\n", r.instruction(),
                          r.vaddr(), r.file_offset(), r.rule());
  }
  return out;
}

std::string FormatHostReport(const zerocell::v1::HostReport& report) {
  std::string out;
  for (const zerocell::v1::HostCapability& c : report.capabilities()) {
    absl::StrAppend(&out, c.ok() ? "  ok  " : "  --  ", c.name(), " = ", c.value(), ": ",
                    c.meaning(), "\n");
  }
  return out;
}

}  // namespace zerocell::client

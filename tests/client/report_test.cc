// The admission report's conversions: image::ValidationReport -> zerocell.v1.ValidationReport
// (report_proto) and the human text of `zerocell validate` / `zerocell register` (report_text).
#include <string>

#include "api/report_proto.h"
#include "client/report_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/validator.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A refused image with `kept` rejections and `ranges` one-byte undecodable ranges in the lists,
// counting `refused` and `undecodable_bytes` in all.
image::ValidationReport Report(int kept, int64_t refused, int ranges, int64_t undecodable_bytes) {
  image::ValidationReport r;
  r.load_segments = 2;
  r.entry = 0x401000;
  r.instructions_checked = true;
  r.policy = image::InstructionPolicy::kDeterministic;
  for (int i = 0; i < kept; ++i) {
    r.rejections.push_back({0x1000u + 2 * i, 0x401000u + 2 * i, "int 0x80", "rule"});
  }
  r.rejected_instructions = refused;
  for (int i = 0; i < ranges; ++i) r.undecodable.push_back({0x2000u + 2 * i, 0x402000u + 2 * i, 1});
  r.undecodable_bytes = undecodable_bytes;
  return r;
}

TEST(ReportToProtoTest, CountsEveryRefusedInstruction) {
  const v1::ValidationReport p = api::ReportToProto(Report(100, 2'000'000, 0, 0));
  EXPECT_EQ(p.rejections_size(), 100);
  EXPECT_EQ(p.rejected_instructions(), 2'000'000);
  EXPECT_EQ(p.policy(), v1::INSTRUCTION_POLICY_DETERMINISTIC);
}

TEST(ReportToProtoTest, KindIsUnspecifiedWithoutAnElfLayout) {
  image::ValidationReport exec;
  exec.load_segments = 2;
  EXPECT_EQ(api::ReportToProto(exec).kind(), v1::ELF_KIND_EXEC);
  image::ValidationReport pie = exec;
  pie.pie = true;
  EXPECT_EQ(api::ReportToProto(pie).kind(), v1::ELF_KIND_STATIC_PIE);
  // Refused by the ELF checks (e.g. a script): no segments, no kind.
  EXPECT_EQ(api::ReportToProto(image::ValidationReport{}).kind(), v1::ELF_KIND_UNSPECIFIED);
}

TEST(PolicyFromProtoTest, InvertsPolicyToProto) {
  for (image::InstructionPolicy policy :
       {image::InstructionPolicy::kStandard, image::InstructionPolicy::kDeterministic}) {
    EXPECT_EQ(api::PolicyFromProto(api::PolicyToProto(policy)), policy);
  }
  EXPECT_EQ(api::PolicyFromProto(v1::INSTRUCTION_POLICY_UNSPECIFIED), std::nullopt);
}

TEST(FormatReportTextTest, RefusedInstructionsIsTheTotal) {
  const std::string text = FormatReportText(api::ReportToProto(Report(100, 2'000'000, 0, 0)));
  EXPECT_THAT(text, HasSubstr("\n  refused instructions: 2000000 (the first 100 listed)\n"
                              "    file offset 0x1000 (vaddr 0x401000): int 0x80: rule\n"));
  EXPECT_THAT(text, HasSubstr("decoded against the deterministic policy"));

  const std::string all = FormatReportText(api::ReportToProto(Report(3, 3, 0, 0)));
  EXPECT_THAT(all, HasSubstr("\n  refused instructions: 3\n    file offset 0x1000"));
}

TEST(FormatReportTextTest, ExactlyOneHundredRangesAreNotOneHundredPlus) {
  const std::string exact = FormatReportText(api::ReportToProto(Report(0, 0, 100, 100)));
  EXPECT_THAT(exact, HasSubstr("  undecodable bytes: 100 in 100 ranges\n"));
  EXPECT_THAT(exact, HasSubstr("    ... 95 more (--json lists them)\n"));

  // More bytes than the kept ranges hold: the report dropped ranges.
  const std::string more = FormatReportText(api::ReportToProto(Report(0, 0, 100, 150)));
  EXPECT_THAT(more, HasSubstr("  undecodable bytes: 150 in 100+ ranges\n"));
  EXPECT_THAT(more, Not(HasSubstr("(--json lists them)\n")));
}

TEST(FormatReportTextTest, UnspecifiedPolicyIsNamed) {
  v1::ValidationReport p = api::ReportToProto(Report(0, 0, 0, 0));
  p.set_policy(v1::INSTRUCTION_POLICY_UNSPECIFIED);
  EXPECT_THAT(FormatReportText(p), HasSubstr("decoded against the unspecified policy"));
}

}  // namespace
}  // namespace zerocell::client

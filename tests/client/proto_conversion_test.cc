// Unit tests of Result -> ExecuteResponse, Manifest <-> proto, exit codes and the classic report.
#include <string>

#include "absl/strings/str_cat.h"
#include "api/manifest_proto.h"
#include "api/result_proto.h"
#include "client/classic_report.h"
#include "client/exit_codes.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

namespace v1 = ::zerocell::v1;
using ::testing::HasSubstr;

sandbox::Result SampleResult() {
  sandbox::Result r;
  r.outcome = sandbox::Outcome::kPolicyViolation;
  r.exit_code = 99;    // not valid for this outcome: must not leak into the proto
  r.term_signal = 31;  // idem
  r.violation = {"socket", 41, "not in the syscall policy"};
  r.detail = "policy violation: socket";
  sandbox::ChannelResult in;
  in.alias = "/dev/stdin";
  in.reads = 2;
  in.read_bytes = 10;
  in.get_quota_exceeded = true;
  in.etag = std::string(64, 'a');
  sandbox::ChannelResult out;
  out.alias = "/dev/stdout";
  out.writes = 3;
  out.write_bytes = 6;
  out.put_quota_exceeded = true;
  out.writable = true;
  out.output = std::string("ab\0cd\n", 6);
  r.channels = {in, out};
  r.usage.wall = absl::Microseconds(1500);
  r.usage.user_cpu = absl::Microseconds(300);
  r.usage.system_cpu = absl::Microseconds(200);
  r.usage.supervisor_cpu = absl::Microseconds(50);
  r.usage.peak_memory_bytes = 1 << 20;
  r.usage.notified_syscalls = 17;
  r.usage.peak_processes = 3;
  r.process_limit_exceeded = true;
  r.nondeterminism = {"cpuid: visible"};
  r.memory_etag = std::string(64, 'c');
  return r;
}

TEST(ResultToProtoTest, CopiesEveryField) {
  v1::ExecuteResponse p = api::ResultToProto(SampleResult(), "abc123");
  EXPECT_EQ(p.outcome(), v1::OUTCOME_POLICY_VIOLATION);
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.signal(), 0);
  EXPECT_EQ(p.violation().syscall(), "socket");
  EXPECT_EQ(p.violation().number(), 41);
  EXPECT_EQ(p.violation().detail(), "not in the syscall policy");
  EXPECT_EQ(p.detail(), "policy violation: socket");
  ASSERT_EQ(p.channels_size(), 2);
  EXPECT_EQ(p.channels(0).alias(), "/dev/stdin");
  EXPECT_EQ(p.channels(0).reads(), 2);
  EXPECT_EQ(p.channels(0).read_bytes(), 10);
  EXPECT_TRUE(p.channels(0).get_quota_exceeded());
  EXPECT_EQ(p.channels(0).etag(), std::string(64, 'a'));
  EXPECT_FALSE(p.channels(0).writable());
  EXPECT_EQ(p.channels(1).writes(), 3);
  EXPECT_EQ(p.channels(1).write_bytes(), 6);
  EXPECT_TRUE(p.channels(1).put_quota_exceeded());
  EXPECT_TRUE(p.channels(1).writable());
  EXPECT_EQ(p.channels(1).output(), std::string("ab\0cd\n", 6));
  EXPECT_EQ(p.usage().wall_ns(), 1'500'000);
  EXPECT_EQ(p.usage().user_cpu_ns(), 300'000);
  EXPECT_EQ(p.usage().system_cpu_ns(), 200'000);
  EXPECT_EQ(p.usage().supervisor_cpu_ns(), 50'000);
  EXPECT_EQ(p.usage().peak_memory_bytes(), 1 << 20);
  EXPECT_EQ(p.usage().notified_syscalls(), 17);
  EXPECT_EQ(p.usage().peak_processes(), 3);
  EXPECT_TRUE(p.process_limit_exceeded());
  EXPECT_EQ(p.usage().queue_wait_ns(), 0);
  ASSERT_EQ(p.nondeterminism_size(), 1);
  EXPECT_EQ(p.image_id(), "abc123");
  EXPECT_EQ(p.memory_etag(), std::string(64, 'c'));
}

TEST(ResultToProtoTest, EveryOutcomeMapsToItsName) {
  const std::pair<sandbox::Outcome, const char*> cases[] = {
      {sandbox::Outcome::kExited, "EXITED"},
      {sandbox::Outcome::kSignaled, "SIGNALED"},
      {sandbox::Outcome::kTimeout, "TIMEOUT"},
      {sandbox::Outcome::kCpuLimit, "CPU_LIMIT"},
      {sandbox::Outcome::kMemoryLimit, "MEMORY_LIMIT"},
      {sandbox::Outcome::kOutputLimit, "OUTPUT_LIMIT"},
      {sandbox::Outcome::kPolicyViolation, "POLICY_VIOLATION"},
  };
  for (const auto& [outcome, name] : cases) {
    v1::Outcome proto = api::OutcomeToProto(outcome);
    EXPECT_EQ(api::OutcomeProtoName(proto), name);
    EXPECT_EQ(v1::Outcome_Name(proto), std::string("OUTCOME_") + name);
  }
}

TEST(ResultToProtoTest, JsonUsesProtoNamesAndRoundTrips) {
  v1::ExecuteResponse p = api::ResultToProto(SampleResult(), "abc123");
  absl::StatusOr<std::string> json = api::ExecuteResponseToJson(p);
  ASSERT_THAT(json, IsOk());
  EXPECT_EQ(json->find('\n'), std::string::npos) << "one line";
  EXPECT_THAT(*json, HasSubstr("\"outcome\":\"OUTCOME_POLICY_VIOLATION\""));
  EXPECT_THAT(*json, HasSubstr("\"exitCode\":0"));  // defaults are printed
  EXPECT_THAT(*json, HasSubstr("\"getQuotaExceeded\":true"));
  v1::ExecuteResponse back;
  ASSERT_THAT(google::protobuf::util::JsonStringToMessage(*json, &back), IsOk());
  EXPECT_EQ(back.SerializeAsString(), p.SerializeAsString());
}

TEST(ExitCodeTest, DocumentedTable) {
  v1::ExecuteResponse r;
  r.set_outcome(v1::OUTCOME_EXITED);
  r.set_exit_code(42);
  EXPECT_EQ(ExitCodeForResponse(r), 42);
  EXPECT_EQ(OutcomeSummary(r), "");
  r.set_outcome(v1::OUTCOME_SIGNALED);
  r.set_signal(6);
  EXPECT_EQ(ExitCodeForResponse(r), 134);
  EXPECT_EQ(OutcomeSummary(r), "zerocell: SIGNALED: signal 6 (SIGABRT)");
  r.set_outcome(v1::OUTCOME_TIMEOUT);
  EXPECT_EQ(ExitCodeForResponse(r), 124);
  r.set_outcome(v1::OUTCOME_CPU_LIMIT);
  EXPECT_EQ(ExitCodeForResponse(r), 152);
  r.set_outcome(v1::OUTCOME_MEMORY_LIMIT);
  EXPECT_EQ(ExitCodeForResponse(r), 137);
  r.set_outcome(v1::OUTCOME_OUTPUT_LIMIT);
  EXPECT_EQ(ExitCodeForResponse(r), 153);
  r.set_outcome(v1::OUTCOME_POLICY_VIOLATION);
  r.mutable_violation()->set_syscall("fork");
  r.mutable_violation()->set_number(57);
  EXPECT_EQ(ExitCodeForResponse(r), 159);
  EXPECT_EQ(OutcomeSummary(r), "zerocell: POLICY_VIOLATION: fork (57)");
  r.set_outcome(v1::OUTCOME_UNSPECIFIED);
  EXPECT_EQ(ExitCodeForResponse(r), 125);
  EXPECT_EQ(ExitCodeForStatus(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeForStatus(absl::NotFoundError("loader")), 125);
}

TEST(ManifestProtoTest, DefaultsApplyToZeroFields) {
  v1::Manifest p;
  for (const char* alias : {"/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    v1::Channel* c = p.add_channels();
    c->set_alias(alias);
    c->set_gets(1);
    c->set_get_size(1);
  }
  absl::StatusOr<sandbox::Manifest> m = api::ManifestFromProto(p);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout(), sandbox::ManifestBuilder::kDefaultTimeout);
  EXPECT_EQ(m->cpu_limit(), sandbox::ManifestBuilder::kDefaultTimeout);
  EXPECT_EQ(m->memory_bytes(), sandbox::ManifestBuilder::kDefaultMemoryBytes);
  EXPECT_EQ(m->output_limit_bytes(), sandbox::ManifestBuilder::kDefaultOutputLimitBytes);
  EXPECT_EQ(m->max_processes(), 1);
  EXPECT_EQ(m->clock_start(), absl::UnixEpoch());
  EXPECT_EQ(m->argv(), std::vector<std::string>{"program"});
}

// Issue 15 point 5: a gRPC manifest may leave standard channels out; they get the documented
// defaults, appended after the declared channels in stdin, stdout, stderr order.
TEST(ManifestProtoTest, OmittedStandardChannelsGetDefaults) {
  v1::Manifest p;
  p.add_argv("hello");
  absl::StatusOr<sandbox::Manifest> m = api::ManifestFromProto(p);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->channels().size(), 3u);
  const sandbox::ChannelSpec& in = m->channels()[0];
  EXPECT_EQ(in.alias, "/dev/stdin");
  EXPECT_TRUE(in.readable());
  EXPECT_FALSE(in.writable());
  EXPECT_EQ(in.initial_bytes, "");
  EXPECT_FALSE(in.etag);
  for (int i : {1, 2}) {
    const sandbox::ChannelSpec& out = m->channels()[i];
    EXPECT_EQ(out.alias, i == 1 ? "/dev/stdout" : "/dev/stderr");
    EXPECT_TRUE(out.writable());
    EXPECT_FALSE(out.readable());
    EXPECT_EQ(out.put_size, sandbox::ManifestBuilder::kDefaultOutputLimitBytes);
  }

  // Declared ones keep their quotas and place; only the missing ones are appended; the output
  // limit bounds the defaults' put_size.
  v1::Manifest q;
  q.set_output_limit_bytes(4096);
  v1::Channel* err = q.add_channels();
  err->set_alias("/dev/stderr");
  err->set_puts(3);
  err->set_put_size(10);
  m = api::ManifestFromProto(q);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->channels().size(), 3u);
  EXPECT_EQ(m->channels()[0].alias, "/dev/stderr");
  EXPECT_EQ(m->channels()[0].put_size, 10);
  EXPECT_EQ(m->channels()[1].alias, "/dev/stdin");
  EXPECT_EQ(m->channels()[2].alias, "/dev/stdout");
  EXPECT_EQ(m->channels()[2].put_size, 4096);
}

TEST(ManifestProtoTest, RoundTrip) {
  v1::Manifest p;
  p.set_timeout_ms(1500);
  p.set_cpu_limit_ms(700);
  p.set_memory_bytes(64 << 20);
  p.set_output_limit_bytes(4096);
  p.set_max_processes(3);
  p.add_argv("prog");
  p.add_argv("--x");
  p.add_env("A=1");
  p.set_clock_start_unix_ns(1'700'000'000'000'000'123);
  p.set_random_seed(77);
  p.set_memory_etag(true);
  const char* aliases[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/data"};
  for (int i = 0; i < 4; ++i) {
    v1::Channel* c = p.add_channels();
    c->set_alias(aliases[i]);
    c->set_type(static_cast<v1::ChannelType>(i));
    c->set_etag(i % 2 == 1);
    if (i == 0 || i == 3) {
      c->set_gets(5);
      c->set_get_size(100);
      c->set_initial_data("bytes");
    } else {
      c->set_puts(6);
      c->set_put_size(200);
    }
  }
  absl::StatusOr<sandbox::Manifest> m = api::ManifestFromProto(p);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->timeout(), absl::Milliseconds(1500));
  EXPECT_EQ(m->cpu_limit(), absl::Milliseconds(700));
  EXPECT_TRUE(m->memory_etag());
  EXPECT_EQ(m->max_processes(), 3);
  EXPECT_EQ(api::ManifestToProto(*m).SerializeAsString(), p.SerializeAsString());
}

TEST(ManifestProtoTest, ErrorsNameTheField) {
  auto error = [](const v1::Manifest& p) {
    absl::StatusOr<sandbox::Manifest> m = api::ManifestFromProto(p);
    EXPECT_THAT(m, ::testing::Not(IsOk()));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(m.status().message());
  };
  v1::Manifest base;
  for (const char* alias : {"/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    v1::Channel* c = base.add_channels();
    c->set_alias(alias);
    c->set_puts(1);
    c->set_put_size(1);
  }
  v1::Manifest p = base;
  p.set_timeout_ms(-1);
  EXPECT_THAT(error(p), HasSubstr("manifest.timeout_ms"));
  p = base;
  p.set_memory_bytes(-5);
  EXPECT_THAT(error(p), HasSubstr("manifest.memory_bytes"));
  p = base;
  p.set_max_processes(-1);
  EXPECT_THAT(error(p), HasSubstr("manifest.max_processes"));
  p = base;
  p.set_max_processes(257);
  EXPECT_THAT(error(p), HasSubstr("max_processes: must be in [1, 256]"));
  p = base;
  p.mutable_channels(2)->set_type(static_cast<v1::ChannelType>(7));
  EXPECT_THAT(error(p), HasSubstr("manifest.channels[2].type"));
  p = base;
  p.mutable_channels(1)->set_initial_data("x");
  EXPECT_THAT(error(p), HasSubstr("manifest.channels[1].initial_data"));
  p = base;
  p.mutable_channels(1)->set_alias("/dev/stdin");
  EXPECT_THAT(error(p), HasSubstr("manifest."));
  p = base;
  p.set_timeout_ms((int64_t{2147483647} + 1) * 1000);  // ZeroVM's bound: 2^31 - 1 s
  EXPECT_THAT(error(p), HasSubstr("manifest.timeout"));
  p = base;
  p.set_timeout_ms(int64_t{25} * 3600 * 1000);  // more than a day is fine without a server cap
  EXPECT_THAT(api::ManifestFromProto(p), IsOk());
}

TEST(ClassicReportTest, LinesAndExitStates) {
  v1::ExecuteResponse r = api::ResultToProto(SampleResult(), "feed");
  r.mutable_channels(1)->set_etag(std::string(64, 'b'));
  const std::string report = FormatClassicReport(r);
  EXPECT_THAT(report, HasSubstr("validator state = 2\ndaemon = 0\nuser return code = 0\n"));
  // ZeroVM's order: the channels, then the memory etag as /dev/memory.
  EXPECT_THAT(report, HasSubstr(absl::StrCat("etag(s) = /dev/stdin ", std::string(64, 'a'),
                                             " /dev/stdout ", std::string(64, 'b'), " /dev/memory ",
                                             std::string(64, 'c'), "\n")));
  EXPECT_THAT(report, HasSubstr("accounting = 0.00 0.00 2 10 3 6 0 0 0 0\n"));
  EXPECT_THAT(report, HasSubstr("exit state = policy violation: socket (41)\n"));
  EXPECT_THAT(report, HasSubstr("outcome = POLICY_VIOLATION\n"));
  EXPECT_THAT(report, HasSubstr("peak memory = 1048576 bytes\n"));
  EXPECT_THAT(report, HasSubstr("image = feed\n"));
  EXPECT_THAT(report, HasSubstr("nondeterminism = cpuid: visible\n"));

  v1::ExecuteResponse e;
  e.set_outcome(v1::OUTCOME_EXITED);
  e.set_exit_code(5);
  EXPECT_THAT(FormatClassicReport(e), HasSubstr("user return code = 5\n"));
  EXPECT_THAT(FormatClassicReport(e), HasSubstr("etag(s) = disabled\n"));
  e.set_memory_etag(std::string(64, 'd'));
  EXPECT_THAT(FormatClassicReport(e),
              HasSubstr(absl::StrCat("etag(s) = /dev/memory ", std::string(64, 'd'), "\n")));
  e.clear_memory_etag();
  EXPECT_EQ(ClassicExitState(e), "ok");
  e.set_outcome(v1::OUTCOME_TIMEOUT);
  EXPECT_EQ(ClassicExitState(e), "session timeout");
  e.set_outcome(v1::OUTCOME_OUTPUT_LIMIT);
  EXPECT_EQ(ClassicExitState(e), "disk quota exceeded");
  e.set_outcome(v1::OUTCOME_SIGNALED);
  e.set_signal(11);
  EXPECT_EQ(ClassicExitState(e), "Signal 11 from untrusted code");
}

}  // namespace
}  // namespace zerocell::client

// Conversion of the engine's Result into zerocell.v1.ExecuteResponse.
#include "api/result_proto.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace zerocell::api {

namespace v1 = ::zerocell::v1;

v1::Outcome OutcomeToProto(sandbox::Outcome outcome) {
  switch (outcome) {
    case sandbox::Outcome::kExited:
      return v1::OUTCOME_EXITED;
    case sandbox::Outcome::kSignaled:
      return v1::OUTCOME_SIGNALED;
    case sandbox::Outcome::kTimeout:
      return v1::OUTCOME_TIMEOUT;
    case sandbox::Outcome::kCpuLimit:
      return v1::OUTCOME_CPU_LIMIT;
    case sandbox::Outcome::kMemoryLimit:
      return v1::OUTCOME_MEMORY_LIMIT;
    case sandbox::Outcome::kOutputLimit:
      return v1::OUTCOME_OUTPUT_LIMIT;
    case sandbox::Outcome::kPolicyViolation:
      return v1::OUTCOME_POLICY_VIOLATION;
  }
  return v1::OUTCOME_UNSPECIFIED;  // unreachable: the switch covers the enum
}

absl::string_view OutcomeProtoName(v1::Outcome outcome) {
  if (!v1::Outcome_IsValid(outcome)) return "UNKNOWN";
  // The generated name ("OUTCOME_EXITED") is the source of truth; strip the enum prefix.
  absl::string_view name = v1::Outcome_Name(outcome);
  absl::ConsumePrefix(&name, "OUTCOME_");
  return name;
}

v1::ExecuteResponse ResultToProto(sandbox::Result result, absl::string_view image_id) {
  v1::ExecuteResponse out;
  out.set_outcome(OutcomeToProto(result.outcome));
  if (result.outcome == sandbox::Outcome::kExited) out.set_exit_code(result.exit_code);
  if (result.outcome == sandbox::Outcome::kSignaled) out.set_signal(result.term_signal);
  if (result.outcome == sandbox::Outcome::kPolicyViolation) {
    v1::Violation* violation = out.mutable_violation();
    violation->set_syscall(result.violation.syscall);
    violation->set_number(result.violation.number);
    violation->set_detail(result.violation.detail);
  }
  out.set_detail(result.detail);
  for (sandbox::ChannelResult& ch : result.channels) {
    v1::ChannelResult* c = out.add_channels();
    c->set_alias(ch.alias);
    c->set_reads(ch.reads);
    c->set_read_bytes(ch.read_bytes);
    c->set_writes(ch.writes);
    c->set_write_bytes(ch.write_bytes);
    c->set_get_quota_exceeded(ch.get_quota_exceeded);
    c->set_put_quota_exceeded(ch.put_quota_exceeded);
    c->set_etag(ch.etag);
    c->set_writable(ch.writable);
    c->set_output(std::move(ch.output));  // outputs can be large: moved, not copied
  }
  v1::Usage* usage = out.mutable_usage();
  usage->set_wall_ns(absl::ToInt64Nanoseconds(result.usage.wall));
  usage->set_startup_ns(absl::ToInt64Nanoseconds(result.usage.startup));
  usage->set_user_cpu_ns(absl::ToInt64Nanoseconds(result.usage.user_cpu));
  usage->set_system_cpu_ns(absl::ToInt64Nanoseconds(result.usage.system_cpu));
  usage->set_supervisor_cpu_ns(absl::ToInt64Nanoseconds(result.usage.supervisor_cpu));
  usage->set_peak_memory_bytes(result.usage.peak_memory_bytes);
  usage->set_notified_syscalls(result.usage.notified_syscalls);
  usage->set_peak_processes(result.usage.peak_processes);
  out.set_process_limit_exceeded(result.process_limit_exceeded);
  for (const std::string& line : result.nondeterminism) out.add_nondeterminism(line);
  out.set_image_id(std::string(image_id));
  out.set_memory_etag(std::move(result.memory_etag));
  if (result.scratch.has_value()) {
    v1::ScratchResult* scratch = out.mutable_scratch();
    scratch->set_path(result.scratch->path);
    scratch->set_bytes(result.scratch->bytes);
    scratch->set_peak_bytes(result.scratch->peak_bytes);
    scratch->set_files(result.scratch->files);
    scratch->set_peak_files(result.scratch->peak_files);
    scratch->set_bytes_quota_exceeded(result.scratch->bytes_quota_exceeded);
    scratch->set_files_quota_exceeded(result.scratch->files_quota_exceeded);
  }
  return out;
}

absl::StatusOr<std::string> ExecuteResponseToJson(const v1::ExecuteResponse& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(response, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("ExecuteResponse to JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace zerocell::api

// The labelled ZeroVM-style report of `zerocell manifest --report`.
#include "client/classic_report.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/result_proto.h"

namespace zerocell::client {

namespace v1 = ::zerocell::v1;

std::string ClassicExitState(const v1::ExecuteResponse& response) {
  switch (response.outcome()) {
    case v1::OUTCOME_EXITED:
      return "ok";
    case v1::OUTCOME_TIMEOUT:
      return "session timeout";
    case v1::OUTCOME_OUTPUT_LIMIT:
      return "disk quota exceeded";
    case v1::OUTCOME_SIGNALED:
      return absl::StrFormat("Signal %d from untrusted code", response.signal());
    case v1::OUTCOME_CPU_LIMIT:
      return "cpu time limit exceeded";
    case v1::OUTCOME_MEMORY_LIMIT:
      return response.detail().empty() ? "memory limit exceeded"
                                       : absl::StrCat("memory limit exceeded: ", response.detail());
    case v1::OUTCOME_POLICY_VIOLATION:
      return absl::StrFormat("policy violation: %s (%d)", response.violation().syscall(),
                             response.violation().number());
    default:
      return "unknown error";
  }
}

std::string FormatClassicReport(const v1::ExecuteResponse& response, bool validated) {
  std::string etags;
  int64_t gets = 0, read_bytes = 0, puts = 0, write_bytes = 0;
  for (const v1::ChannelResult& ch : response.channels()) {
    gets += ch.reads();
    read_bytes += ch.read_bytes();
    puts += ch.writes();
    write_bytes += ch.write_bytes();
    if (!ch.etag().empty()) {
      absl::StrAppend(&etags, etags.empty() ? "" : " ", ch.alias(), " ", ch.etag());
    }
  }
  // ZeroVM reports the memory etag after the channels' under the name /dev/memory.
  if (!response.memory_etag().empty()) {
    absl::StrAppend(&etags, etags.empty() ? "" : " ", "/dev/memory ", response.memory_etag());
  }
  if (etags.empty()) etags = "disabled";
  const v1::Usage& usage = response.usage();
  const int user_code = response.outcome() == v1::OUTCOME_EXITED ? response.exit_code() : 0;

  std::string out;
  absl::StrAppend(&out, "validator state = ", validated ? 0 : 2, "\n");
  absl::StrAppend(&out, "daemon = 0\n");
  absl::StrAppend(&out, "user return code = ", user_code, "\n");
  absl::StrAppend(&out, "etag(s) = ", etags, "\n");
  absl::StrAppendFormat(&out, "accounting = %.2f %.2f %d %d %d %d 0 0 0 0\n",
                        static_cast<double>(usage.system_cpu_ns()) / 1e9,
                        static_cast<double>(usage.user_cpu_ns()) / 1e9, gets, read_bytes, puts,
                        write_bytes);
  absl::StrAppend(&out, "exit state = ", ClassicExitState(response), "\n");
  absl::StrAppend(&out, "outcome = ", api::OutcomeProtoName(response.outcome()), "\n");
  absl::StrAppendFormat(&out, "wall = %.6f s\n", static_cast<double>(usage.wall_ns()) / 1e9);
  absl::StrAppendFormat(&out, "cpu = %.6f s user, %.6f s system\n",
                        static_cast<double>(usage.user_cpu_ns()) / 1e9,
                        static_cast<double>(usage.system_cpu_ns()) / 1e9);
  absl::StrAppend(&out, "peak memory = ", usage.peak_memory_bytes(), " bytes\n");
  absl::StrAppend(&out, "notified syscalls = ", usage.notified_syscalls(), "\n");
  absl::StrAppend(&out, "image = ", response.image_id(), "\n");
  if (!response.detail().empty()) absl::StrAppend(&out, "detail = ", response.detail(), "\n");
  for (const std::string& line : response.nondeterminism()) {
    absl::StrAppend(&out, "nondeterminism = ", line, "\n");
  }
  return out;
}

}  // namespace zerocell::client

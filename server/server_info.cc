// GetServerInfo's answer, built once at start; see server_info.h.
#include "server/server_info.h"

#include <string>

#include "absl/time/time.h"
#include "api/host_report_proto.h"
#include "api/report_proto.h"
#include "version/version.h"

namespace zerocell::server {

v1::ServerInfo MakeServerInfo(const ServerOptions& options,
                              const sandbox::host::HostCapabilities& host) {
  v1::ServerInfo info;
  info.set_version(std::string(version::Version()));
  info.set_commit(std::string(version::GitCommit()));
  info.set_instruction_policy(api::PolicyToProto(options.cache.validator.policy));
  v1::ServerCaps* caps = info.mutable_caps();
  caps->set_max_timeout_ms(options.caps.max_timeout_ms);
  caps->set_max_memory_bytes(options.caps.max_memory_bytes);
  caps->set_max_channels(options.caps.max_channels);
  caps->set_max_inline_bytes(options.caps.max_inline_bytes);
  caps->set_max_output_bytes(options.caps.max_output_bytes);
  caps->set_max_stream_output_bytes(options.caps.max_stream_output_bytes);
  caps->set_max_processes(options.caps.max_processes);
  caps->set_max_args_bytes(options.caps.max_args_bytes);
  caps->set_max_image_bytes(options.caps.max_image_bytes);
  caps->set_max_message_bytes(options.max_message_bytes);
  caps->set_max_concurrency(options.pool.workers);
  caps->set_max_queue(options.pool.max_queue);
  caps->set_max_queue_wait_ms(absl::ToInt64Milliseconds(options.pool.max_queue_wait));
  *info.mutable_host() = api::HostReportToProto(host);
  info.set_warm_pool(options.warm_pool_enabled);
  return info;
}

}  // namespace zerocell::server

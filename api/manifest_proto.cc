// Conversion between the engine's Manifest and zerocell.v1.Manifest.
#include "api/manifest_proto.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerocell::api {

namespace v1 = ::zerocell::v1;

namespace {

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("manifest.", field, ": ", why));
}

absl::Status CheckNonNegative(absl::string_view field, int64_t value) {
  if (value < 0) return FieldError(field, absl::StrFormat("must be >= 0 (got %d)", value));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<sandbox::Manifest> ManifestFromProto(const v1::Manifest& proto) {
  sandbox::ManifestBuilder builder;
  // Zero means "default" for every limit, so only non-zero values reach the builder, which
  // applies the hard bounds (2^31-1 s, 1 MiB..64 GiB, ...) and names the field when one is
  // crossed.
  for (const auto& [name, value] :
       {std::pair{"timeout_ms", proto.timeout_ms()},
        std::pair{"cpu_limit_ms", proto.cpu_limit_ms()},
        std::pair{"memory_bytes", proto.memory_bytes()},
        std::pair{"output_limit_bytes", proto.output_limit_bytes()},
        std::pair{"max_processes", proto.max_processes()},
        std::pair{"clock_start_unix_ns", proto.clock_start_unix_ns()}}) {
    if (absl::Status s = CheckNonNegative(name, value); !s.ok()) return s;
  }
  if (proto.timeout_ms() > 0) builder.set_timeout(absl::Milliseconds(proto.timeout_ms()));
  if (proto.cpu_limit_ms() > 0) {
    // The proto documents "values above the timeout are lowered to it".
    int64_t timeout_ms = proto.timeout_ms() > 0
                             ? proto.timeout_ms()
                             : absl::ToInt64Milliseconds(sandbox::ManifestBuilder::kDefaultTimeout);
    builder.set_cpu_limit(absl::Milliseconds(std::min(proto.cpu_limit_ms(), timeout_ms)));
  }
  if (proto.memory_bytes() > 0) builder.set_memory_bytes(proto.memory_bytes());
  if (proto.output_limit_bytes() > 0) builder.set_output_limit_bytes(proto.output_limit_bytes());
  if (proto.max_processes() > 0) builder.set_max_processes(proto.max_processes());
  if (proto.argv_size() > 0) {
    builder.set_argv(std::vector<std::string>(proto.argv().begin(), proto.argv().end()));
  } else if (!proto.program_path().empty()) {
    builder.set_argv({proto.program_path()});
  }
  builder.set_env(std::vector<std::string>(proto.env().begin(), proto.env().end()));
  builder.set_clock_start(absl::FromUnixNanos(proto.clock_start_unix_ns()));
  builder.set_random_seed(proto.random_seed());
  builder.set_memory_etag(proto.memory_etag());

  for (int i = 0; i < proto.channels_size(); ++i) {
    const v1::Channel& c = proto.channels(i);
    const std::string field = absl::StrCat("channels[", i, "]");
    const int type = static_cast<int>(c.type());
    if (type < 0 || type > 3) {
      return FieldError(absl::StrCat(field, ".type"),
                        absl::StrFormat("must be 0..3 (got %d)", type));
    }
    sandbox::ChannelSpec spec;
    spec.alias = c.alias();
    spec.type = static_cast<sandbox::ChannelType>(type);
    spec.etag = c.etag();
    spec.gets = c.gets();
    spec.get_size = c.get_size();
    spec.puts = c.puts();
    spec.put_size = c.put_size();
    if (!c.initial_data().empty() && !spec.readable() && spec.gets >= 0 && spec.get_size >= 0) {
      return FieldError(absl::StrCat(field, ".initial_data"),
                        absl::StrFormat("channel \"%s\" is not readable (gets and get_size must "
                                        "be > 0) but carries %d bytes",
                                        c.alias(), c.initial_data().size()));
    }
    spec.initial_bytes = c.initial_data();
    builder.add_channel(std::move(spec));
  }
  for (int i = 0; i < proto.mounts_size(); ++i) {
    builder.add_mount({proto.mounts(i).mountpoint(), proto.mounts(i).tree_id()});
  }
  if (proto.has_scratch()) {
    builder.set_scratch(
        {proto.scratch().path(), proto.scratch().max_bytes(), proto.scratch().max_files()});
  }
  builder.set_program_path(proto.program_path());
  // The gRPC API's defaults for standard channels the request leaves out (the proto documents
  // them); classic manifests are parsed elsewhere and keep ZeroVM's rule that all three exist.
  // Appended after the declared channels, in stdin, stdout, stderr order.
  const int64_t output_limit = proto.output_limit_bytes() > 0
                                   ? proto.output_limit_bytes()
                                   : sandbox::ManifestBuilder::kDefaultOutputLimitBytes;
  for (std::string_view alias :
       {sandbox::kStdinAlias, sandbox::kStdoutAlias, sandbox::kStderrAlias}) {
    const bool declared =
        std::any_of(proto.channels().begin(), proto.channels().end(),
                    [&](const v1::Channel& c) { return std::string_view(c.alias()) == alias; });
    if (declared) continue;
    builder.add_channel(alias == sandbox::kStdinAlias    ? sandbox::StdinChannel("")
                        : alias == sandbox::kStdoutAlias ? sandbox::StdoutChannel(output_limit)
                                                         : sandbox::StderrChannel(output_limit));
  }
  absl::StatusOr<sandbox::Manifest> manifest = builder.Build();
  if (!manifest.ok()) {
    // The builder names the field with its own spelling ("channels[2].alias: ..."); say where it
    // sits in the request.
    return absl::Status(manifest.status().code(),
                        absl::StrCat("manifest.", manifest.status().message()));
  }
  return manifest;
}

v1::Manifest ManifestToProto(const sandbox::Manifest& manifest) {
  v1::Manifest out;
  out.set_timeout_ms(std::max<int64_t>(1, absl::ToInt64Milliseconds(manifest.timeout())));
  out.set_cpu_limit_ms(std::max<int64_t>(1, absl::ToInt64Milliseconds(manifest.cpu_limit())));
  out.set_memory_bytes(manifest.memory_bytes());
  out.set_output_limit_bytes(manifest.output_limit_bytes());
  out.set_max_processes(manifest.max_processes());
  for (const std::string& arg : manifest.argv()) out.add_argv(arg);
  for (const std::string& kv : manifest.env()) out.add_env(kv);
  out.set_clock_start_unix_ns(absl::ToUnixNanos(manifest.clock_start()));
  out.set_random_seed(manifest.random_seed());
  out.set_memory_etag(manifest.memory_etag());
  for (const sandbox::MountSpec& mount : manifest.mounts()) {
    v1::Mount* m = out.add_mounts();
    m->set_mountpoint(mount.mountpoint);
    m->set_tree_id(mount.tree);
  }
  if (manifest.scratch().has_value()) {
    out.mutable_scratch()->set_path(manifest.scratch()->path);
    out.mutable_scratch()->set_max_bytes(manifest.scratch()->max_bytes);
    out.mutable_scratch()->set_max_files(manifest.scratch()->max_files);
  }
  out.set_program_path(manifest.program_path());
  for (const sandbox::ChannelSpec& spec : manifest.channels()) {
    v1::Channel* c = out.add_channels();
    c->set_alias(spec.alias);
    c->set_type(static_cast<v1::ChannelType>(static_cast<int>(spec.type)));
    c->set_etag(spec.etag);
    c->set_gets(spec.gets);
    c->set_get_size(spec.get_size);
    c->set_puts(spec.puts);
    c->set_put_size(spec.put_size);
    c->set_initial_data(spec.initial_bytes);
  }
  return out;
}

}  // namespace zerocell::api

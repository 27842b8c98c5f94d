// ManifestBuilder validation and handle ordering for the typed execution manifest.
#include "sandbox/manifest/manifest.h"

#include <array>
#include <map>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

namespace zerocell::sandbox {
namespace {

// Quota used by the standard channel helpers: large enough never to bind, small enough that
// counters can add to it without overflowing int64.
constexpr int64_t kUnlimitedQuota = int64_t{1} << 50;
constexpr int64_t kMaxOutputLimitBytes = int64_t{4} << 30;

// Debian's abseil has its own string_view type; public constants are std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Quotes a caller-supplied string for an error message; escapes keep control bytes out of logs.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 300;
  std::string shown = absl::CHexEscape(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) shown += "...";
  return absl::StrCat("\"", shown, "\"");
}

absl::Status ValidateChannel(size_t index, const ChannelSpec& ch) {
  const std::string field = absl::StrFormat("channels[%d]", index);
  if (ch.alias.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".alias: must not be empty"));
  }
  if (ch.alias.size() > ManifestLimits::kMaxAliasBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s.alias: %d bytes exceed %d", field, ch.alias.size(), ManifestLimits::kMaxAliasBytes));
  }
  // The guest names channels with C strings; an embedded NUL would make two aliases collide.
  if (ch.alias.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".alias: contains a NUL byte: ", Quote(ch.alias)));
  }
  const int type = static_cast<int>(ch.type);
  if (type < 0 || type > 3) {
    return absl::InvalidArgumentError(absl::StrFormat("%s.type: %d is not 0..3", field, type));
  }
  const std::array<std::pair<const char*, int64_t>, 4> limits = {
      {{"gets", ch.gets}, {"get_size", ch.get_size}, {"puts", ch.puts}, {"put_size", ch.put_size}}};
  for (const auto& [name, value] : limits) {
    if (value < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s.%s: negative limit %d", field, name, value));
    }
  }
  if (ch.gets == 0 && ch.get_size == 0 && ch.puts == 0 && ch.put_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": nil channel: all four limits are 0"));
  }
  return absl::OkStatus();
}

// "/a/b": absolute, no empty, "." or ".." component, no trailing '/', no NUL, within PATH_MAX.
absl::Status ValidateGuestPath(const std::string& field, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be an absolute path, got ", Quote(path)));
  }
  if (path.size() > ManifestLimits::kMaxGuestPathBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d bytes exceed %d", field, path.size(),
                                                      ManifestLimits::kMaxGuestPathBytes));
  }
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": contains a NUL byte"));
  }
  if (path == "/") return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(absl::string_view(path).substr(1), '/')) {
    if (part.empty() || part == "." || part == ".." || part.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Quote(path),
                       " is not a normalized path (empty, \".\", \"..\" or over-long component)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMounts(const std::vector<MountSpec>& mounts,
                            const std::optional<ScratchSpec>& scratch) {
  if (mounts.size() > ManifestLimits::kMaxMounts) {
    return absl::InvalidArgumentError(
        absl::StrFormat("mounts: %d entries exceed %d", mounts.size(), ManifestLimits::kMaxMounts));
  }
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const std::string field = absl::StrFormat("mounts[%d]", i);
    RETURN_IF_ERROR(ValidateGuestPath(field + ".mountpoint", mounts[i].mountpoint));
    if (mounts[i].tree.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".tree_id: must not be empty"));
    }
    if (auto [it, fresh] = seen.emplace(mounts[i].mountpoint, i); !fresh) {
      return absl::InvalidArgumentError(absl::StrFormat("%s.mountpoint: %s is already mounts[%d]",
                                                        field, Quote(mounts[i].mountpoint),
                                                        it->second));
    }
  }
  if (!scratch.has_value()) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateGuestPath("scratch.path", scratch->path));
  if (scratch->path == "/") {
    return absl::InvalidArgumentError("scratch.path: must not be \"/\" (trees mount there)");
  }
  if (auto it = seen.find(scratch->path); it != seen.end()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scratch.path: %s is mounts[%d]", Quote(scratch->path), it->second));
  }
  if (scratch->max_bytes <= 0 || scratch->max_bytes > ManifestLimits::kMaxScratchBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scratch.max_bytes: must be > 0 and <= %d, got %d",
                        ManifestLimits::kMaxScratchBytes, scratch->max_bytes));
  }
  if (scratch->max_files <= 0 || scratch->max_files > ManifestLimits::kMaxScratchFiles) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scratch.max_files: must be > 0 and <= %d, got %d",
                        ManifestLimits::kMaxScratchFiles, scratch->max_files));
  }
  return absl::OkStatus();
}

// Checks NUL bytes, the KEY=VALUE form of env entries and the combined size (as laid out on the
// guest stack: every string plus its terminating NUL).
absl::Status ValidateArgvEnv(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env) {
  if (argv.empty()) {
    return absl::InvalidArgumentError("argv: must not be empty (argv[0] is required)");
  }
  if (argv.size() > ManifestLimits::kMaxArgs) {
    return absl::InvalidArgumentError(
        absl::StrFormat("argv: %d entries exceed %d", argv.size(), ManifestLimits::kMaxArgs));
  }
  if (env.size() > ManifestLimits::kMaxArgs) {
    return absl::InvalidArgumentError(
        absl::StrFormat("env: %d entries exceed %d", env.size(), ManifestLimits::kMaxArgs));
  }
  size_t total = 0;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrFormat("argv[%d]: contains a NUL byte: %s", i, Quote(argv[i])));
    }
    total += argv[i].size() + 1;
  }
  for (size_t i = 0; i < env.size(); ++i) {
    if (env[i].find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrFormat("env[%d]: contains a NUL byte: %s", i, Quote(env[i])));
    }
    const size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("env[%d]: %s is not KEY=VALUE", i, Quote(env[i])));
    }
    total += env[i].size() + 1;
  }
  if (total > ManifestLimits::kMaxArgvEnvBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("argv: total argv+env bytes %d exceed %d",
                                                      total, ManifestLimits::kMaxArgvEnvBytes));
  }
  return absl::OkStatus();
}

// Checks every channel, alias uniqueness and the standard channels; returns the handle order.
absl::StatusOr<std::vector<int>> ValidateChannels(const std::vector<ChannelSpec>& channels) {
  if (channels.size() > ManifestLimits::kMaxChannels) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "channels: %d channels exceed %d", channels.size(), ManifestLimits::kMaxChannels));
  }
  std::map<absl::string_view, size_t> by_alias;  // ordered by bytes, like strcmp
  for (size_t i = 0; i < channels.size(); ++i) {
    RETURN_IF_ERROR(ValidateChannel(i, channels[i]));
    auto [it, inserted] = by_alias.emplace(channels[i].alias, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("channels[%d].alias: duplicate alias %s (also channels[%d])", i,
                          Quote(channels[i].alias), it->second));
    }
  }
  std::vector<int> order;
  order.reserve(channels.size());
  // ZeroVM forces the three standard channels to handles 0..2 and requires all of them.
  for (std::string_view std_alias : {kStdinAlias, kStdoutAlias, kStderrAlias}) {
    auto it = by_alias.find(ToAbsl(std_alias));
    if (it == by_alias.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("channels: missing standard channel ", ToAbsl(std_alias)));
    }
    order.push_back(static_cast<int>(it->second));
    by_alias.erase(it);
  }
  for (const auto& [alias, index] : by_alias) order.push_back(static_cast<int>(index));
  return order;
}

ChannelSpec OutputChannel(std::string_view alias, int64_t put_size) {
  ChannelSpec ch;
  ch.alias = std::string(alias);
  ch.type = ChannelType::kSeqReadSeqWrite;
  ch.puts = kUnlimitedQuota;
  ch.put_size = put_size;
  return ch;
}

}  // namespace

ManifestBuilder& ManifestBuilder::set_timeout(absl::Duration d) {
  timeout_ = d;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_cpu_limit(absl::Duration d) {
  cpu_limit_ = d;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_memory_bytes(int64_t bytes) {
  memory_bytes_ = bytes;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_max_processes(int64_t n) {
  max_processes_ = n;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_output_limit_bytes(int64_t bytes) {
  output_limit_bytes_ = bytes;
  return *this;
}

ManifestBuilder& ManifestBuilder::add_channel(ChannelSpec channel) {
  channels_.push_back(std::move(channel));
  return *this;
}

ManifestBuilder& ManifestBuilder::set_argv(std::vector<std::string> argv) {
  argv_ = std::move(argv);
  return *this;
}

ManifestBuilder& ManifestBuilder::set_env(std::vector<std::string> env) {
  env_ = std::move(env);
  return *this;
}

ManifestBuilder& ManifestBuilder::set_clock_start(absl::Time t) {
  clock_start_ = t;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_random_seed(uint64_t seed) {
  random_seed_ = seed;
  return *this;
}

ManifestBuilder& ManifestBuilder::set_memory_etag(bool on) {
  memory_etag_ = on;
  return *this;
}

ManifestBuilder& ManifestBuilder::add_mount(MountSpec mount) {
  mounts_.push_back(std::move(mount));
  return *this;
}

ManifestBuilder& ManifestBuilder::set_program_path(std::string path) {
  program_path_ = std::move(path);
  return *this;
}

ManifestBuilder& ManifestBuilder::set_scratch(ScratchSpec scratch) {
  scratch_ = std::move(scratch);
  return *this;
}

absl::StatusOr<Manifest> ManifestBuilder::Build() const {
  if (timeout_ <= absl::ZeroDuration() || timeout_ > ManifestLimits::kMaxTimeout) {
    return absl::InvalidArgumentError(absl::StrCat("timeout: must be > 0 and <= 2147483647s, got ",
                                                   absl::FormatDuration(timeout_)));
  }
  if (cpu_limit_ < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("cpu_limit: must be >= 0 (0 = timeout), got ",
                                                   absl::FormatDuration(cpu_limit_)));
  }
  if (memory_bytes_ < ManifestLimits::kMinMemoryBytes ||
      memory_bytes_ > ManifestLimits::kMaxMemoryBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_bytes: must be in [%d, %d], got %d", ManifestLimits::kMinMemoryBytes,
        ManifestLimits::kMaxMemoryBytes, memory_bytes_));
  }
  if (output_limit_bytes_ <= 0 || output_limit_bytes_ > kMaxOutputLimitBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("output_limit_bytes: must be > 0 and <= %d, got %d", kMaxOutputLimitBytes,
                        output_limit_bytes_));
  }
  if (max_processes_ < 1 || max_processes_ > ManifestLimits::kMaxProcesses) {
    return absl::InvalidArgumentError(absl::StrFormat("max_processes: must be in [1, %d], got %d",
                                                      ManifestLimits::kMaxProcesses,
                                                      max_processes_));
  }
  RETURN_IF_ERROR(ValidateArgvEnv(argv_, env_));
  ASSIGN_OR_RETURN(std::vector<int> order, ValidateChannels(channels_));
  std::optional<ScratchSpec> scratch = scratch_;
  if (!scratch.has_value() && !mounts_.empty()) {
    scratch =
        ScratchSpec{std::string(kDefaultScratchPath), kDefaultScratchBytes, kDefaultScratchFiles};
  }
  RETURN_IF_ERROR(ValidateMounts(mounts_, scratch));
  if (!program_path_.empty()) {
    RETURN_IF_ERROR(ValidateGuestPath("program_path", program_path_));
    if (mounts_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("program_path: ", Quote(program_path_),
                                                     " needs a mounted tree (no mounts)"));
    }
  }

  Manifest m;
  m.timeout_ = timeout_;
  // The CPU limit can never outlast the wall timeout, so it is clamped rather than rejected.
  m.cpu_limit_ =
      (cpu_limit_ == absl::ZeroDuration() || cpu_limit_ > timeout_) ? timeout_ : cpu_limit_;
  m.memory_bytes_ = memory_bytes_;
  m.output_limit_bytes_ = output_limit_bytes_;
  m.max_processes_ = max_processes_;
  m.channels_ = channels_;
  m.argv_ = argv_;
  m.env_ = env_;
  m.clock_start_ = clock_start_;
  m.random_seed_ = random_seed_;
  m.memory_etag_ = memory_etag_;
  m.mounts_ = mounts_;
  m.scratch_ = std::move(scratch);
  m.program_path_ = program_path_;
  m.handle_order_ = std::move(order);
  return m;
}

ChannelSpec StdinChannel(std::string data) {
  ChannelSpec ch;
  ch.alias = std::string(kStdinAlias);
  ch.type = ChannelType::kSeqReadSeqWrite;
  ch.gets = kUnlimitedQuota;
  ch.get_size = kUnlimitedQuota;
  ch.initial_bytes = std::move(data);
  return ch;
}

ChannelSpec StdoutChannel(int64_t put_size) { return OutputChannel(kStdoutAlias, put_size); }

ChannelSpec StderrChannel(int64_t put_size) { return OutputChannel(kStderrAlias, put_size); }

}  // namespace zerocell::sandbox

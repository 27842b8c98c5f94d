// Typed, immutable execution manifest (ZeroVM-style channels and limits) and its builder.
#ifndef ZEROCELL_SANDBOX_MANIFEST_MANIFEST_H_
#define ZEROCELL_SANDBOX_MANIFEST_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace zerocell::sandbox {

// ZeroVM channel access types: how reads and writes use the offset.
enum class ChannelType : int {
  kSeqReadSeqWrite = 0,    // both directions sequential; offsets are ignored
  kRandReadSeqWrite = 1,   // pread honours the offset; writes append
  kSeqReadRandWrite = 2,   // reads sequential; pwrite honours the offset
  kRandReadRandWrite = 3,  // file-like in both directions
};

inline constexpr std::string_view kStdinAlias = "/dev/stdin";
inline constexpr std::string_view kStdoutAlias = "/dev/stdout";
inline constexpr std::string_view kStderrAlias = "/dev/stderr";

// One declared channel. Direction comes from the limits, as in ZeroVM:
// readable <=> gets > 0 && get_size > 0; writable <=> puts > 0 && put_size > 0.
struct ChannelSpec {
  std::string alias;
  ChannelType type = ChannelType::kSeqReadSeqWrite;
  bool etag = false;
  int64_t gets = 0;           // max read calls
  int64_t get_size = 0;       // max bytes read
  int64_t puts = 0;           // max write calls
  int64_t put_size = 0;       // max bytes written
  std::string initial_bytes;  // readable channels: the data the guest reads

  bool readable() const { return gets > 0 && get_size > 0; }
  bool writable() const { return puts > 0 && put_size > 0; }
  bool random_read() const {
    return type == ChannelType::kRandReadSeqWrite || type == ChannelType::kRandReadRandWrite;
  }
  bool random_write() const {
    return type == ChannelType::kSeqReadRandWrite || type == ChannelType::kRandReadRandWrite;
  }
};

// A read-only file tree mounted into the guest's file system. `tree` names it (a tree image id);
// whoever runs the manifest resolves it to a FileTree (RunOptions::trees, in mount order).
struct MountSpec {
  std::string mountpoint;  // absolute, normalized guest path: "/" or "/opt/data"
  std::string tree;
};

// A per-run writable in-memory directory, discarded after the run.
struct ScratchSpec {
  std::string path;       // absolute, normalized, not "/"
  int64_t max_bytes = 0;  // bytes held by its files together; EDQUOT past it
  int64_t max_files = 0;  // files, directories and symlinks in it; EDQUOT past it
};

// Hard bounds every manifest is checked against (the server narrows them further).
struct ManifestLimits {
  // ZeroVM's own bound (a 32-bit count of seconds): its manifests use large values for "no limit".
  static constexpr absl::Duration kMaxTimeout = absl::Seconds(2147483647);
  static constexpr int64_t kMaxMemoryBytes = int64_t{64} << 30;
  static constexpr int64_t kMinMemoryBytes = int64_t{1} << 20;
  static constexpr size_t kMaxChannels = 1024;
  static constexpr size_t kMaxAliasBytes = 255;
  static constexpr size_t kMaxArgvEnvBytes = size_t{1} << 20;  // argv + env strings together
  static constexpr size_t kMaxArgs = 4096;
  static constexpr size_t kMaxMounts = 16;
  static constexpr size_t kMaxGuestPathBytes = 4095;  // PATH_MAX without the NUL
  static constexpr int64_t kMaxScratchBytes = int64_t{4} << 30;
  static constexpr int64_t kMaxScratchFiles = 1000000;
  // Processes a run may have at once (Manifest::max_processes).
  static constexpr int64_t kMaxProcesses = 256;
};

// A validated manifest. Construct with ManifestBuilder; never mutated afterwards.
class Manifest {
 public:
  absl::Duration timeout() const { return timeout_; }
  absl::Duration cpu_limit() const { return cpu_limit_; }  // never above timeout()
  int64_t memory_bytes() const { return memory_bytes_; }
  int64_t output_limit_bytes() const { return output_limit_bytes_; }
  // Processes the run may have at once, the first included: a fork past it answers EAGAIN.
  int64_t max_processes() const { return max_processes_; }
  const std::vector<ChannelSpec>& channels() const { return channels_; }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::vector<std::string>& env() const { return env_; }
  absl::Time clock_start() const { return clock_start_; }
  uint64_t random_seed() const { return random_seed_; }
  // ZeroVM's memory etag: the result carries a SHA-256 of the guest's memory at exit.
  bool memory_etag() const { return memory_etag_; }
  // Trees mounted read-only, in order (a later mount covers what is below its mountpoint).
  const std::vector<MountSpec>& mounts() const { return mounts_; }
  // The writable scratch directory; with mounts and none declared, /tmp with the default quotas.
  const std::optional<ScratchSpec>& scratch() const { return scratch_; }
  // The program by its absolute path in the mounted trees (empty: the caller gives an image).
  const std::string& program_path() const { return program_path_; }

  // Indices into channels() in handle (fd) order: stdin, stdout, stderr at fds 0..2 (all three
  // are mandatory, as in ZeroVM), then every other channel in byte order of its alias.
  const std::vector<int>& handle_order() const { return handle_order_; }

 private:
  friend class ManifestBuilder;
  Manifest() = default;

  absl::Duration timeout_;
  absl::Duration cpu_limit_;
  int64_t memory_bytes_ = 0;
  int64_t output_limit_bytes_ = 0;
  int64_t max_processes_ = 1;
  std::vector<ChannelSpec> channels_;
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  absl::Time clock_start_;
  uint64_t random_seed_ = 0;
  bool memory_etag_ = false;
  std::vector<MountSpec> mounts_;
  std::optional<ScratchSpec> scratch_;
  std::string program_path_;
  std::vector<int> handle_order_;
};

// Builds a Manifest; Build() validates every field and names the offending one in its error
// (INVALID_ARGUMENT, e.g. "channels[2].alias: duplicate alias \"/dev/in\"").
class ManifestBuilder {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
  static constexpr int64_t kDefaultMemoryBytes = int64_t{256} << 20;
  static constexpr int64_t kDefaultOutputLimitBytes = int64_t{64} << 20;
  // The scratch a run with mounts gets when it declares none (documented in the README).
  static constexpr std::string_view kDefaultScratchPath = "/tmp";
  static constexpr int64_t kDefaultScratchBytes = int64_t{16} << 20;
  static constexpr int64_t kDefaultScratchFiles = 1024;

  ManifestBuilder& set_timeout(absl::Duration d);          // wall clock, whole run; > 0
  ManifestBuilder& set_cpu_limit(absl::Duration d);        // default: the timeout
  ManifestBuilder& set_memory_bytes(int64_t bytes);        // guest address space bound
  ManifestBuilder& set_output_limit_bytes(int64_t bytes);  // total bytes across writable channels
  ManifestBuilder& set_max_processes(int64_t n);           // 1..kMaxProcesses; default 1
  ManifestBuilder& add_channel(ChannelSpec channel);
  ManifestBuilder& set_argv(
      std::vector<std::string> argv);                      // argv[0] included; default {"program"}
  ManifestBuilder& set_env(std::vector<std::string> env);  // "KEY=VALUE" entries
  ManifestBuilder& set_clock_start(absl::Time t);          // default: the Unix epoch
  ManifestBuilder& set_random_seed(uint64_t seed);         // default 0
  ManifestBuilder& set_memory_etag(bool on);               // default false
  ManifestBuilder& add_mount(MountSpec mount);
  ManifestBuilder& set_scratch(ScratchSpec scratch);
  // A normalized absolute path; needs at least one mount.
  ManifestBuilder& set_program_path(std::string path);

  const std::vector<std::string>& argv() const { return argv_; }

  absl::StatusOr<Manifest> Build() const;

 private:
  absl::Duration timeout_ = kDefaultTimeout;
  absl::Duration cpu_limit_ = absl::ZeroDuration();  // zero: same as timeout
  int64_t memory_bytes_ = kDefaultMemoryBytes;
  int64_t output_limit_bytes_ = kDefaultOutputLimitBytes;
  int64_t max_processes_ = 1;
  std::vector<ChannelSpec> channels_;
  std::vector<std::string> argv_ = {"program"};
  std::vector<std::string> env_;
  absl::Time clock_start_ = absl::UnixEpoch();
  uint64_t random_seed_ = 0;
  bool memory_etag_ = false;
  std::vector<MountSpec> mounts_;
  std::optional<ScratchSpec> scratch_;
  std::string program_path_;
};

// Standard stdin/stdout/stderr channels with generous quotas, for CLI-style runs.
ChannelSpec StdinChannel(std::string data);
ChannelSpec StdoutChannel(int64_t put_size);
ChannelSpec StderrChannel(int64_t put_size);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_MANIFEST_MANIFEST_H_

// zerocelld: the Zerocell gRPC service. Flags describe every bound; SIGTERM/SIGINT drain it.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "base/errno_status.h"
#include "base/status_macros.h"
#include "image/image_cache.h"
#include "image/validator.h"
#include "server/client_identity.h"
#include "server/json_log.h"
#include "server/message_bounds.h"
#include "server/request_budget.h"
#include "server/server.h"
#include "version/version.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC listen address host:port (port 0 picks a free port; 0.0.0.0 for all interfaces)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics HTTP address host:port; empty disables the endpoint");
ABSL_FLAG(std::string, ready_file, "",
          "once serving, write {\"grpc_port\":N,\"metrics_port\":M,\"pid\":P} to this file");
ABSL_FLAG(int, max_concurrency, 0, "sandboxes running at once (0: the number of cores)");
ABSL_FLAG(int, max_queue, 64, "Execute/RegisterImage calls waiting for a free worker");
ABSL_FLAG(int64_t, max_queue_wait_ms, 1000,
          "a call queued longer than this fails with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, grace_period_ms, 10000,
          "on SIGTERM/SIGINT, running calls get this long to finish before they are cancelled");
ABSL_FLAG(int64_t, max_timeout_ms, 60000, "cap on manifest.timeout_ms");
ABSL_FLAG(int64_t, max_memory_bytes, int64_t{4} << 30, "cap on manifest.memory_bytes");
ABSL_FLAG(int64_t, max_channels, 64, "cap on the number of manifest.channels");
ABSL_FLAG(int64_t, max_inline_bytes, int64_t{64} << 20,
          "cap on the sum of channels[].initial_data bytes");
ABSL_FLAG(int64_t, max_output_bytes, int64_t{64} << 20,
          "cap on manifest.output_limit_bytes (the total over all channels) of Execute and "
          "ExecuteBatch, whose outputs the server holds");
ABSL_FLAG(int64_t, max_processes, 16,
          "cap on manifest.max_processes (each process holds 3 descriptors of the server)");
ABSL_FLAG(int64_t, max_stream_output_bytes, int64_t{4} << 30,
          "cap on manifest.output_limit_bytes of ExecuteStream, whose output is sent as written "
          "and never held");
ABSL_FLAG(int64_t, max_args_bytes, int64_t{256} << 10, "cap on argv + env bytes");
ABSL_FLAG(int64_t, max_image_bytes, int64_t{64} << 20,
          "cap on image bytes: an ELF, or a tree image's tar archive");
ABSL_FLAG(int64_t, max_tree_files, 100000,
          "cap on a tree image's entries (directories, files, symlinks)");
ABSL_FLAG(int64_t, max_tree_bytes, int64_t{256} << 20,
          "cap on a tree image's file contents in bytes (sparse files' holes count)");
ABSL_FLAG(int64_t, max_message_bytes, int64_t{160} << 20, "gRPC max message size, both directions");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve TLS (needs --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require client certificates signed by it (mutual TLS)");
ABSL_FLAG(int64_t, cache_bytes, int64_t{1} << 30,
          "image cache bound: image sizes rounded up to pages, plus 4 KiB per image");
ABSL_FLAG(int64_t, cache_max_images, 4096, "image cache bound on the number of images");
ABSL_FLAG(std::string, image_dir, "",
          "persist accepted images here and preload them at startup (empty: memory only)");
ABSL_FLAG(std::string, instruction_policy, "standard",
          "instruction policy for admission: standard or deterministic");
ABSL_FLAG(bool, validate_instructions, true,
          "decode executable segments with Zydis at admission (false: ELF checks only)");
ABSL_FLAG(std::string, loader, "", "path of zerocell-loader (default: beside zerocelld)");
ABSL_FLAG(bool, pool, true,
          "warm start: keep sandboxes pre-started (parked in the loader) for the images in use");
ABSL_FLAG(int, pool_min_per_image, 1, "parked sandboxes kept for an image in use, at least");
ABSL_FLAG(int, pool_max_per_image, 8,
          "parked sandboxes for one image, at most (the pool sizes each image to its demand)");
ABSL_FLAG(int, pool_max_total, 64, "parked sandboxes for all images together, at most");
ABSL_FLAG(int64_t, pool_idle_ms, 60000,
          "an image not executed for this long loses its parked sandboxes");
ABSL_FLAG(int64_t, max_request_memory_bytes, 0,
          "memory for requests in flight, shared: a quarter (at least one largest request) sizes "
          "gRPC's resource quota for messages still arriving (past it streams are reset: "
          "RESOURCE_EXHAUSTED); the rest is charged by each call from receipt to its answer (its "
          "request twice plus its largest response), and a call that would pass it is refused "
          "with RESOURCE_EXHAUSTED at once (0: a quarter of the memory this process may use, by "
          "MemTotal and its cgroup's memory.max, but at least what the largest call needs)");
ABSL_FLAG(int, max_concurrent_streams, 256,
          "HTTP/2 streams (calls) one client connection may have open at once");
ABSL_FLAG(std::string, image_namespace, "none",
          "per-client image namespaces: none (every client sees every image), client_cert (the "
          "verified mTLS certificate's subject; needs --tls_client_ca) or header:<key> (metadata "
          "set by a TLS-terminating proxy that clients cannot reach past)");

ABSL_FLAG(int64_t, image_namespace_max_bytes, 0,
          "with --image_namespace: the cache bytes one client's images may take (charged as "
          "--cache_bytes charges them); a new image past it evicts that client's least recently "
          "used idle images, never another client's (0: a quarter of --cache_bytes, at least one "
          "image of --max_image_bytes)");

namespace zerocell::server {
namespace {

absl::StatusOr<ServerOptions> OptionsFromFlags() {
  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  const int64_t max_message = absl::GetFlag(FLAGS_max_message_bytes);
  if (max_message < 1024 || max_message > (int64_t{2} << 30) - 1) {
    return absl::InvalidArgumentError("--max_message_bytes: must be 1024 .. 2147483647");
  }
  options.max_message_bytes = static_cast<int>(max_message);
  options.tls = TlsFiles{absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                         absl::GetFlag(FLAGS_tls_client_ca)};

  int workers = absl::GetFlag(FLAGS_max_concurrency);
  if (workers < 0 || workers > 4096) {
    return absl::InvalidArgumentError("--max_concurrency: must be 0 .. 4096");
  }
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  options.pool.workers = workers;
  options.pool.max_queue = absl::GetFlag(FLAGS_max_queue);
  if (options.pool.max_queue < 0) return absl::InvalidArgumentError("--max_queue: must be >= 0");
  const int64_t wait_ms = absl::GetFlag(FLAGS_max_queue_wait_ms);
  if (wait_ms < 0) return absl::InvalidArgumentError("--max_queue_wait_ms: must be >= 0");
  options.pool.max_queue_wait = absl::Milliseconds(wait_ms);

  RequestCaps& caps = options.caps;
  caps.max_timeout_ms = absl::GetFlag(FLAGS_max_timeout_ms);
  caps.max_memory_bytes = absl::GetFlag(FLAGS_max_memory_bytes);
  caps.max_channels = absl::GetFlag(FLAGS_max_channels);
  caps.max_inline_bytes = absl::GetFlag(FLAGS_max_inline_bytes);
  caps.max_output_bytes = absl::GetFlag(FLAGS_max_output_bytes);
  caps.max_stream_output_bytes = absl::GetFlag(FLAGS_max_stream_output_bytes);
  caps.max_processes = absl::GetFlag(FLAGS_max_processes);
  caps.max_args_bytes = absl::GetFlag(FLAGS_max_args_bytes);
  caps.max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes);
  for (auto [name, value] : {std::pair{"max_timeout_ms", caps.max_timeout_ms},
                             {"max_memory_bytes", caps.max_memory_bytes},
                             {"max_channels", caps.max_channels},
                             {"max_inline_bytes", caps.max_inline_bytes},
                             {"max_output_bytes", caps.max_output_bytes},
                             {"max_stream_output_bytes", caps.max_stream_output_bytes},
                             {"max_processes", caps.max_processes},
                             {"max_args_bytes", caps.max_args_bytes},
                             {"max_image_bytes", caps.max_image_bytes}}) {
    if (value <= 0) return absl::InvalidArgumentError(absl::StrCat("--", name, ": must be > 0"));
  }

  const int64_t cache_bytes = absl::GetFlag(FLAGS_cache_bytes);
  if (cache_bytes <= 0) return absl::InvalidArgumentError("--cache_bytes: must be > 0");
  options.cache.max_bytes = static_cast<uint64_t>(cache_bytes);
  const int64_t max_images = absl::GetFlag(FLAGS_cache_max_images);
  if (max_images <= 0) return absl::InvalidArgumentError("--cache_max_images: must be > 0");
  options.cache.max_images = static_cast<uint64_t>(max_images);
  options.cache.persist_dir = absl::GetFlag(FLAGS_image_dir);
  options.cache.validator.max_image_bytes = caps.max_image_bytes;
  for (const auto& [name, value] :
       {std::pair<const char*, int64_t>{"max_tree_files", absl::GetFlag(FLAGS_max_tree_files)},
        {"max_tree_bytes", absl::GetFlag(FLAGS_max_tree_bytes)}}) {
    if (value <= 0) return absl::InvalidArgumentError(absl::StrCat("--", name, ": must be > 0"));
  }
  options.cache.tree_limits.max_nodes = static_cast<uint64_t>(absl::GetFlag(FLAGS_max_tree_files));
  options.cache.tree_limits.max_total_bytes =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_tree_bytes));
  options.cache.validator.check_instructions = absl::GetFlag(FLAGS_validate_instructions);
  const std::string policy = absl::GetFlag(FLAGS_instruction_policy);
  if (policy == "standard") {
    options.cache.validator.policy = image::InstructionPolicy::kStandard;
  } else if (policy == "deterministic") {
    options.cache.validator.policy = image::InstructionPolicy::kDeterministic;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--instruction_policy: \"", policy,
                                                   "\" is not one of standard, deterministic"));
  }
  options.engine.loader_path = absl::GetFlag(FLAGS_loader);

  options.warm_pool_enabled = absl::GetFlag(FLAGS_pool);
  sandbox::pool::WarmPoolOptions& warm = options.warm_pool;
  warm.sizing.min_per_image = absl::GetFlag(FLAGS_pool_min_per_image);
  warm.sizing.max_per_image = absl::GetFlag(FLAGS_pool_max_per_image);
  warm.max_total = absl::GetFlag(FLAGS_pool_max_total);
  for (auto [name, value] : {std::pair{"pool_min_per_image", warm.sizing.min_per_image},
                             {"pool_max_per_image", warm.sizing.max_per_image},
                             {"pool_max_total", warm.max_total}}) {
    if (value < 0 || value > 4096) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": must be 0 .. 4096"));
    }
  }
  if (warm.sizing.min_per_image > warm.sizing.max_per_image) {
    return absl::InvalidArgumentError("--pool_min_per_image: must not exceed --pool_max_per_image");
  }
  const int64_t idle_ms = absl::GetFlag(FLAGS_pool_idle_ms);
  if (idle_ms <= 0) return absl::InvalidArgumentError("--pool_idle_ms: must be > 0");
  warm.sizing.idle_retire = absl::Milliseconds(idle_ms);

  // Bounds that cannot work together are refused here, not discovered by a caller later: every
  // valid request and every response it can produce fit in a message (finding 6).
  if (absl::Status fits = CheckMessageLimit(caps, max_message); !fits.ok()) return fits;
  // The least --max_request_memory_bytes that still serves the largest valid call: its
  // charge in the call budget besides one largest request in the transport's share.
  const int64_t largest_charge = LargestCallCharge(caps);
  const int64_t largest_request = WorstCaseMessages(caps).request;
  const int64_t least_memory =
      std::max(largest_charge + largest_request, (4 * largest_charge + 2) / 3);
  const int64_t request_memory = absl::GetFlag(FLAGS_max_request_memory_bytes);
  if (request_memory < 0) {
    return absl::InvalidArgumentError("--max_request_memory_bytes: must be >= 0");
  }
  const int64_t total =
      request_memory == 0 ? DefaultRequestMemoryBytes(least_memory) : request_memory;
  const RequestMemorySplit split = SplitRequestMemory(total, largest_request);
  if (split.call_bytes < largest_charge) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--max_request_memory_bytes (%d) cannot serve the largest call this server accepts: it "
        "needs at least %d bytes (its charge of %d, twice the largest request plus the largest "
        "response, besides the transport's share of max(a quarter, one largest request of %d); "
        "see --max_message_bytes' error for their parts): raise it or lower the caps",
        total, least_memory, largest_charge, largest_request));
  }
  options.transport_memory_bytes = split.transport_bytes;
  options.call_memory_bytes = split.call_bytes;
  options.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  if (options.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError("--max_concurrent_streams: must be >= 1");
  }
  ASSIGN_OR_RETURN(options.image_namespace,
                   ParseNamespaceMode(absl::GetFlag(FLAGS_image_namespace)));
  if (options.image_namespace.kind == NamespaceMode::Kind::kClientCert &&
      options.tls.client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--image_namespace=client_cert needs --tls_client_ca: without mutual TLS a client has no "
        "verified identity");
  }
  const uint64_t one_image = image::ImageCache::ChargeFor(caps.max_image_bytes);
  if (options.cache.max_bytes < one_image) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--cache_bytes (%d) must hold one image of --max_image_bytes (%d, charged %d)",
        options.cache.max_bytes, caps.max_image_bytes, one_image));
  }
  // A quarter by default: four clients can each fill their share before the shared LRU has
  // to evict anyone's images, and one client alone can never take more than that.
  const int64_t namespace_bytes = absl::GetFlag(FLAGS_image_namespace_max_bytes);
  if (namespace_bytes < 0) {
    return absl::InvalidArgumentError("--image_namespace_max_bytes: must be >= 0");
  }
  options.image_namespace_max_bytes = namespace_bytes == 0
                                          ? std::max(options.cache.max_bytes / 4, one_image)
                                          : static_cast<uint64_t>(namespace_bytes);
  if (options.image_namespace_max_bytes < one_image ||
      options.image_namespace_max_bytes > options.cache.max_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--image_namespace_max_bytes (%d) must hold one image of --max_image_bytes (charged %d) "
        "and be at most --cache_bytes (%d)",
        options.image_namespace_max_bytes, one_image, options.cache.max_bytes));
  }
  return options;
}

// Takes the hard RLIMIT_NOFILE and returns how many descriptors cached images may hold under it
// (an ELF holds one memfd, a tree one per distinct file; connections, runs and logs need the
// rest): UINT64_MAX when unlimited; an error when not even a small cache fits.
// `reserved`: descriptors held for other things (four per parked sandbox: pidfd, listener and
// two /proc files; per running sandbox its tree files' descriptions and its own).
absl::StatusOr<uint64_t> ImageDescriptorBudget(uint64_t reserved) {
  const uint64_t kHeadroom = 1024 + reserved;  // connections, metrics, logs, parked, running
  constexpr uint64_t kMinDescriptors = 16;
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return ErrnoStatus(errno, "getrlimit(RLIMIT_NOFILE)");
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  if (limit.rlim_cur < kMinDescriptors + kHeadroom) {
    return absl::FailedPreconditionError(
        absl::StrFormat("RLIMIT_NOFILE is %d: zerocelld needs at least %d file descriptors "
                        "(lower --max_concurrency or --pool_max_total?)",
                        static_cast<uint64_t>(limit.rlim_cur), kMinDescriptors + kHeadroom));
  }
  return static_cast<uint64_t>(limit.rlim_cur) - kHeadroom;
}

// Descriptors one running sandbox holds in the server: its tree files' read-only descriptions
// (supervisor::GuestState's cap), pidfd, listener, pipes and /proc files; and per process beyond
// the first (Manifest.max_processes) its pidfd and two /proc files.
constexpr uint64_t kRunDescriptors = 128 + 16;
constexpr uint64_t kProcessDescriptors = 3;

// Written to a temp file and renamed, so a reader never sees half of it.
absl::Status WriteReadyFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const std::string body = absl::StrFormat("{\"grpc_port\":%d,\"metrics_port\":%d,\"pid\":%d}\n",
                                           grpc_port, metrics_port, getpid());
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat("--ready_file: cannot write ", tmp));
  const bool ok = fwrite(body.data(), 1, body.size(), f) == body.size();
  if (fclose(f) != 0 || !ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("--ready_file: cannot write ", path));
  }
  return absl::OkStatus();
}

int Main() {
  // Blocked before any thread exists (the log's is the first) so that every thread inherits the
  // mask and only sigwait below takes them: a thread that let SIGTERM through would be picked by
  // the kernel now and then, and its default action ends the process without a drain. (The
  // loader resets the mask before a guest runs.)
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  JsonLog log(STDERR_FILENO);
  absl::StatusOr<ServerOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    LogLine(log, "error", "bad_flags")
        .Str("message", std::string(options.status().message()))
        .Emit();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  const uint64_t parked_fds =
      options->warm_pool_enabled ? 4 * static_cast<uint64_t>(options->warm_pool.max_total) : 0;
  const uint64_t running_fds =
      (kRunDescriptors + kProcessDescriptors * static_cast<uint64_t>(options->caps.max_processes)) *
      static_cast<uint64_t>(options->pool.workers);
  absl::StatusOr<uint64_t> images = ImageDescriptorBudget(parked_fds + running_fds);
  if (!images.ok()) {
    LogLine(log, "error", "fd_limit").Str("message", std::string(images.status().message())).Emit();
    return 1;
  }
  options->cache.max_descriptors = *images;
  // Why: a tree's files are memfds opened while its archive is read, before the cache can refuse
  // it; a tree with more entries than the budget could never be cached anyway.
  if (options->cache.tree_limits.max_nodes > *images) {
    LogLine(log, "warning", "max_tree_files_lowered")
        .Int("requested", static_cast<int64_t>(options->cache.tree_limits.max_nodes))
        .Int("used", static_cast<int64_t>(*images))
        .Str("reason", "RLIMIT_NOFILE")
        .Emit();
    options->cache.tree_limits.max_nodes = *images;
  }
  if (*images < options->cache.max_images) {
    LogLine(log, "warning", "cache_max_images_lowered")
        .Int("requested", static_cast<int64_t>(options->cache.max_images))
        .Int("used", static_cast<int64_t>(*images))
        .Str("reason", "RLIMIT_NOFILE")
        .Emit();
    options->cache.max_images = *images;
  }
  const absl::Duration grace = absl::Milliseconds(absl::GetFlag(FLAGS_grace_period_ms));
  const int workers = options->pool.workers;
  const int64_t request_memory_bytes = options->transport_memory_bytes + options->call_memory_bytes;
  absl::StatusOr<std::unique_ptr<ZerocellServer>> server =
      ZerocellServer::Start(*std::move(options), &log);
  if (!server.ok()) {
    LogLine(log, "error", "start_failed")
        .Str("message", std::string(server.status().message()))
        .Emit();
    return 1;
  }
  LogLine(log, "info", "serving")
      .Str("version", std::string(version::Version()))
      .Str("commit", std::string(version::GitCommit()))
      .Int("grpc_port", (*server)->grpc_port())
      .Int("metrics_port", (*server)->metrics_port())
      .Int("workers", workers)
      .Int("max_request_memory_bytes", request_memory_bytes)
      .Int("images_preloaded", static_cast<int64_t>((*server)->cache().List().size()))
      .Emit();
  if (const std::string ready = absl::GetFlag(FLAGS_ready_file); !ready.empty()) {
    if (absl::Status written =
            WriteReadyFile(ready, (*server)->grpc_port(), (*server)->metrics_port());
        !written.ok()) {
      LogLine(log, "error", "ready_file_failed")
          .Str("message", std::string(written.message()))
          .Emit();
      (*server)->Shutdown(absl::ZeroDuration());
      return 1;
    }
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogLine(log, "info", "draining")
      .Str("signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
      .Double("grace_period_ms", absl::ToDoubleMilliseconds(grace))
      .Emit();
  (*server)->Shutdown(grace);
  server->reset();
  LogLine(log, "info", "stopped").Emit();
  return 0;
}

}  // namespace
}  // namespace zerocell::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "zerocelld [--flags]: serve zerocell.v1.Sandbox over gRPC (see --help for every bound)");
  // --version prints the project version and commit (abseil's default is the build mode).
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] { return zerocell::version::VersionLine("zerocelld") + "\n"; };
  absl::SetFlagsUsageConfig(usage_config);
  absl::ParseCommandLine(argc, argv);
  // Debian's abseil keeps the debug-build deadlock detector on: it walks a lock graph on every
  // contended Mutex operation, a measurable cost per call on the request path (a profiling aid,
  // not a safety check).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Channel data and messages of many MiB come and go with every large call. glibc's adaptive
  // threshold would soon serve them from its arenas, which keep freed memory: after one 256 MiB
  // cat the idle server held ~800 MiB. Blocks from 4 MiB up are mmap'd and returned on free
  // (not from 1 MiB: fresh pages for every 1 MiB input tripled a sha256 call's start-up); what
  // smaller blocks leave behind, MemoryTrimmer returns after large calls.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
  return zerocell::server::Main();
}

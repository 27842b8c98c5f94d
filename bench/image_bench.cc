// zerocell-image-bench: validator throughput against a bare Zydis decode loop over the same bytes,
// and cached-lookup latency of ImageCache::Acquire against a bare locked hash-map lookup.
//
// Throughput counts the bytes of the executable PT_LOAD segments (file-backed part), the bytes
// the validator decodes. The bare loop decodes the same ranges with the same decoder mode
// (ZydisDecoderDecodeInstruction, 64-bit, no operands) and the same skip-one-byte-on-failure, but
// with no policy, formatting, ELF checks or report: it is the floor the validator is compared to.
#include <Zydis/Zydis.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "bench/bench_support.h"
#include "image/image_cache.h"
#include "image/validator.h"
#include "sandbox/elf/elf_image.h"
#include "tests/testing/files.h"

ABSL_FLAG(std::string, program, "/bin/busybox", "ELF whose executable bytes are validated");
ABSL_FLAG(int, validate_runs, 5, "measured validations (and bare loops) of --program");
ABSL_FLAG(int, iterations, 200000, "measured Acquire calls per thread");
ABSL_FLAG(int, images, 100, "images in the warm cache for the lookup benchmark");
ABSL_FLAG(std::string, lookup_image, "",
          "small ELF whose variants fill the cache (default: $ZEROCELL_GUEST_DIR/hello, else "
          "build/examples/hello beside this binary's bin/)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");

constexpr char kUsage[] =
    "Benchmarks image validation (MB/s of code, against a bare Zydis decode loop) and cached "
    "image lookup latency.\nUsage: zerocell-image-bench [--program=/bin/busybox] "
    "[--validate_runs=5] [--iterations=200000] [--images=100] [--lookup_image=PATH] [--json]";

namespace zerocell::bench {
namespace {

// The validator's view of the code: file bytes of executable PT_LOAD segments.
absl::StatusOr<std::vector<std::string_view>> ExecutableRanges(std::string_view bytes) {
  ASSIGN_OR_RETURN(sandbox::elf::ElfLayout layout, sandbox::elf::ParseElf(bytes));
  std::vector<std::string_view> ranges;
  for (const sandbox::elf::LoadSegment& s : layout.segments) {
    if (s.exec && s.filesz > 0) ranges.push_back(bytes.substr(s.offset, s.filesz));
  }
  return ranges;
}

// The bare linear sweep; returns the instruction count so the work cannot be optimized away.
int64_t BareDecode(const ZydisDecoder& decoder, const std::vector<std::string_view>& ranges) {
  int64_t instructions = 0;
  ZydisDecoderContext context;
  ZydisDecodedInstruction insn;
  for (std::string_view code : ranges) {
    size_t offset = 0;
    while (offset < code.size()) {
      if (ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, &context, code.data() + offset,
                                                     code.size() - offset, &insn))) {
        offset += insn.length;
        ++instructions;
      } else {
        offset += 1;
      }
    }
  }
  return instructions;
}

struct Throughput {
  int64_t code_bytes = 0;
  int64_t validator_instructions = 0, bare_instructions = 0;
  double validator_ms = 0, bare_ms = 0;  // medians
  double validator_mbps() const {
    return static_cast<double>(code_bytes) / 1e6 / (validator_ms / 1e3);
  }
  double bare_mbps() const { return static_cast<double>(code_bytes) / 1e6 / (bare_ms / 1e3); }
};

absl::StatusOr<Throughput> MeasureThroughput(const std::string& bytes, int runs) {
  ASSIGN_OR_RETURN(std::vector<std::string_view> ranges, ExecutableRanges(bytes));
  ZydisDecoder decoder;
  if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
    return absl::InternalError("ZydisDecoderInit failed");
  }
  const image::ValidatorOptions options;  // standard policy, instructions checked
  Throughput t;
  for (std::string_view r : ranges) t.code_bytes += static_cast<int64_t>(r.size());
  std::vector<int64_t> validator_ns, bare_ns;
  for (int i = -1; i < runs; ++i) {  // run -1 warms both up
    for (const bool validator_turn : AlternatingTurns(i)) {
      const int64_t start = NowNs();
      if (validator_turn) {
        const image::Validation v = image::ValidateImage(bytes, options);
        const int64_t elapsed = NowNs() - start;
        if (!v.status.ok()) {
          return absl::FailedPreconditionError(
              absl::StrCat("the validator rejects the program: ", v.status.message()));
        }
        t.validator_instructions = v.report.instructions;
        if (v.report.executable_bytes != t.code_bytes) {
          std::fprintf(stderr, "note: validator counts %lld executable bytes, bare loop %lld\n",
                       static_cast<long long>(v.report.executable_bytes),
                       static_cast<long long>(t.code_bytes));
        }
        if (i >= 0) validator_ns.push_back(elapsed);
      } else {
        t.bare_instructions = BareDecode(decoder, ranges);
        if (i >= 0) bare_ns.push_back(NowNs() - start);
      }
    }
  }
  t.validator_ms = Summarize(std::move(validator_ns)).p50_us / 1e3;
  t.bare_ms = Summarize(std::move(bare_ns)).p50_us / 1e3;
  return t;
}

struct Latency {
  int threads = 0;
  LatencyStats stats;
};

// Runs `lookup(id)` `iterations` times on each of `threads` threads over random ids, timing
// each call; the handle a lookup returns is released outside the timed span.
template <typename Lookup>
Latency MeasureLookups(int threads, int iterations, const std::vector<std::string>& ids,
                       Lookup lookup) {
  std::vector<std::vector<int64_t>> per_thread(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
      std::vector<int64_t>& ns = per_thread[t];
      ns.reserve(iterations);
      for (int i = -iterations / 10; i < iterations; ++i) {  // first 10% warm up
        const std::string& id = ids[pick(rng)];
        const int64_t start = NowNs();
        auto handle = lookup(id);
        const int64_t elapsed = NowNs() - start;
        if (i >= 0) ns.push_back(elapsed);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  std::vector<int64_t> all;
  for (const auto& ns : per_thread) all.insert(all.end(), ns.begin(), ns.end());
  return Latency{threads, Summarize(std::move(all))};
}

absl::Status Main() {
  const int runs = absl::GetFlag(FLAGS_validate_runs);
  const int iterations = absl::GetFlag(FLAGS_iterations);
  const int image_count = absl::GetFlag(FLAGS_images);
  if (runs < 1 || iterations < 1 || image_count < 1) {
    return absl::InvalidArgumentError("--validate_runs, --iterations and --images must be >= 1");
  }
  const std::string program = absl::GetFlag(FLAGS_program);
  ASSIGN_OR_RETURN(const std::string program_bytes, testing::ReadFile(program));
  ASSIGN_OR_RETURN(const Throughput tp, MeasureThroughput(program_bytes, runs));

  std::string lookup_path = absl::GetFlag(FLAGS_lookup_image);
  if (lookup_path.empty()) lookup_path = DefaultHelloGuest();
  ASSIGN_OR_RETURN(const std::string small, testing::ReadFile(lookup_path));
  ASSIGN_OR_RETURN(std::unique_ptr<image::ImageCache> cache,
                   image::ImageCache::Create(image::CacheOptions{}));
  std::vector<std::string> ids;
  // The bare baseline: the same ids in a mutex-guarded hash map of shared_ptrs.
  absl::Mutex bare_mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const image::CachedImage>> bare;
  for (int i = 0; i < image_count; ++i) {
    // Junk after the end of the file: distinct content, same code.
    ASSIGN_OR_RETURN(image::RegisterResult r,
                     cache->Register(small + std::string(static_cast<size_t>(i), '\0'), "bench"));
    ids.push_back(r.image->id);
    bare[r.image->id] = r.image;
  }
  std::vector<Latency> acquire, baseline;
  for (int threads : {1, 2}) {
    acquire.push_back(MeasureLookups(threads, iterations, ids,
                                     [&](const std::string& id) { return cache->Acquire(id); }));
    baseline.push_back(MeasureLookups(threads, iterations, ids, [&](const std::string& id) {
      absl::MutexLock lock(&bare_mu);
      return bare.find(id)->second;
    }));
  }

  if (absl::GetFlag(FLAGS_json)) {
    std::string lat;
    for (size_t i = 0; i < acquire.size(); ++i) {
      absl::StrAppend(&lat, i ? "," : "", "{\"threads\":", acquire[i].threads,
                      ",\"acquire_us\":{\"p50\":", acquire[i].stats.p50_us,
                      ",\"p99\":", acquire[i].stats.p99_us, ",\"max\":", acquire[i].stats.max_us,
                      "},\"bare_us\":{\"p50\":", baseline[i].stats.p50_us,
                      ",\"p99\":", baseline[i].stats.p99_us, ",\"max\":", baseline[i].stats.max_us,
                      "}}");
    }
    std::printf(
        "{\"bench\":\"image\",\"program\":\"%s\",\"code_bytes\":%lld,\"validate_runs\":%d,"
        "\"validator\":{\"ms\":%.3f,\"mb_per_s\":%.1f,\"instructions\":%lld},"
        "\"bare_zydis\":{\"ms\":%.3f,\"mb_per_s\":%.1f,\"instructions\":%lld},"
        "\"validator_over_bare_time\":%.3f,\"images\":%d,\"iterations\":%d,\"lookup\":[%s]}\n",
        program.c_str(), static_cast<long long>(tp.code_bytes), runs, tp.validator_ms,
        tp.validator_mbps(), static_cast<long long>(tp.validator_instructions), tp.bare_ms,
        tp.bare_mbps(), static_cast<long long>(tp.bare_instructions), tp.validator_ms / tp.bare_ms,
        image_count, iterations, lat.c_str());
    return absl::OkStatus();
  }
  std::printf("zerocell-image-bench: %s, %lld bytes of executable segments, median of %d runs\n",
              program.c_str(), static_cast<long long>(tp.code_bytes), runs);
  std::printf("%-22s %10s %10s %14s\n", "", "ms", "MB/s", "instructions");
  std::printf("%-22s %10.2f %10.1f %14lld\n", "ValidateImage", tp.validator_ms, tp.validator_mbps(),
              static_cast<long long>(tp.validator_instructions));
  std::printf("%-22s %10.2f %10.1f %14lld\n", "bare Zydis decode", tp.bare_ms, tp.bare_mbps(),
              static_cast<long long>(tp.bare_instructions));
  std::printf("%-22s %10.2f  (validator time / bare decode time)\n\n", "ratio",
              tp.validator_ms / tp.bare_ms);
  std::printf("cached lookup: %d images of %s, %d Acquire calls per thread (microseconds)\n",
              image_count, lookup_path.c_str(), iterations);
  std::printf("%-8s %-22s %9s %9s %9s\n", "threads", "", "p50", "p99", "max");
  for (size_t i = 0; i < acquire.size(); ++i) {
    const Latency& a = acquire[i];
    const Latency& b = baseline[i];
    std::printf("%-8d %-22s %9.3f %9.3f %9.1f\n", a.threads, "ImageCache::Acquire", a.stats.p50_us,
                a.stats.p99_us, a.stats.max_us);
    std::printf("%-8d %-22s %9.3f %9.3f %9.1f\n", b.threads, "bare mutex+map lookup",
                b.stats.p50_us, b.stats.p99_us, b.stats.max_us);
    std::printf("%-8d %-22s %9.2f %9.2f\n", a.threads, "ratio", a.stats.p50_us / b.stats.p50_us,
                a.stats.p99_us / b.stats.p99_us);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace zerocell::bench

int main(int argc, char** argv) {
  return zerocell::bench::RunBenchMain(argc, argv, "zerocell-image-bench", kUsage,
                                       zerocell::bench::Main);
}

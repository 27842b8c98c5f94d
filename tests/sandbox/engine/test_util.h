// Shared helpers for the engine integration tests: find the loader and guests, build manifests
// with standard channels, run guests, and inspect host state (fds, children) for leaks.
#ifndef ZEROCELL_TESTS_SANDBOX_ENGINE_TEST_UTIL_H_
#define ZEROCELL_TESTS_SANDBOX_ENGINE_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "image/validator.h"
#include "sandbox/engine.h"
#include "sandbox/host/host_capabilities.h"
#include "sandbox/image.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/result.h"
#include "tests/testing/status_matchers.h"

// Binds the Result of `expr` (a StatusOr<Result>) to `var`; a non-OK status fails the test.
#define ZC_ASSERT_RUN(var, expr)                                         \
  absl::StatusOr<::zerocell::sandbox::Result> var##_status_or_ = (expr); \
  ASSERT_THAT(var##_status_or_, ::zerocell::testing::IsOk());            \
  const ::zerocell::sandbox::Result& var = *var##_status_or_

namespace zerocell::sandbox::testing {

inline constexpr int64_t kBigQuota = int64_t{1} << 40;
inline constexpr int64_t kStdOutputBytes = int64_t{1} << 20;
inline constexpr absl::Duration kTestTimeout = absl::Seconds(2);
inline constexpr std::string_view kSha256OfEmpty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// One Engine per test process, created on first use (the error, if any, is returned each time).
absl::StatusOr<const Engine*> SharedEngine();

// What the shared engine's host probe found (tests assert host-dependent behaviour against it).
// Fails the calling test when the shared engine could not be created.
const host::HostCapabilities& Host();

// Image::FromFile of a guest built under $ZEROCELL_GUEST_DIR. The image's instruction use is
// unknown (as for an engine caller that skips admission).
absl::StatusOr<std::shared_ptr<const Image>> LoadGuest(std::string_view name);
// The same guest after admission under `policy`, carrying what the decoder found in it;
// INVALID_ARGUMENT when the policy refuses it.
absl::StatusOr<std::shared_ptr<const Image>> LoadAdmittedGuest(
    std::string_view name, image::InstructionPolicy policy = image::InstructionPolicy::kStandard);

// A builder with /dev/stdin (holding `stdin_data`), /dev/stdout and /dev/stderr (1 MiB each),
// the given argv and a 2 s timeout. Tests add channels and limits on top.
ManifestBuilder StdManifest(std::vector<std::string> argv, std::string stdin_data = "");

// Channel specs for extra channels: readable with `data`, or writable up to `put_size` bytes.
ChannelSpec ReadChannel(std::string alias, std::string data,
                        ChannelType type = ChannelType::kSeqReadSeqWrite);
ChannelSpec WriteChannel(std::string alias, int64_t put_size = kStdOutputBytes,
                         ChannelType type = ChannelType::kSeqReadSeqWrite);

// Builds the manifest, loads the guest and runs it on the shared engine.
absl::StatusOr<Result> RunGuest(std::string_view name, const ManifestBuilder& builder,
                                const CancelToken* cancel = nullptr);
absl::StatusOr<Result> RunImage(const Image& image, const ManifestBuilder& builder,
                                const CancelToken* cancel = nullptr);
// RunGuest with run options (mounted trees, inputs).
absl::StatusOr<Result> RunGuestWith(std::string_view name, const ManifestBuilder& builder,
                                    const RunOptions& options);

// True when the run lists `source` ("rdtsc", "addresses", ...) in its nondeterminism.
bool ReportsNondeterminism(const Result& result, std::string_view source);

// `output` of the determinism guest with the values of its heap=, heap_big=, mmap= and brk=
// lines replaced by "(varies)": where the kernel places memory, which differs between runs on a
// host that refuses fixed addresses (and every run there reports "addresses").
std::string WithoutKernelPlacedAddresses(std::string_view output);

// The channel with `alias`, or nullptr.
const ChannelResult* FindChannel(const Result& result, std::string_view alias);
std::string StdoutOf(const Result& result);
std::string StderrOf(const Result& result);

// One line for assertion messages: outcome, code, signal, violation, detail, stdout, stderr.
std::string Describe(const Result& result);

// Lowercase hex SHA-256 (OpenSSL), computed independently of the engine.
std::string Sha256Hex(std::string_view bytes);

// Splits on '\n' (a trailing newline does not make an empty last line).
std::vector<std::string> Lines(std::string_view text);
// "key=value" lines into a map (the first '=' splits; other lines are ignored).
std::map<std::string, std::string> KeyValues(std::string_view text);

// Number of entries in /proc/self/fd (the count includes the directory fd used to list it).
int CountOpenFds();
// True when this process has a child (running or zombie): waitpid(-1, WNOHANG) != -1/ECHILD.
bool HasChildProcess();

// Writes `bytes` to a fresh temporary file and returns its path (the caller unlinks it).
std::string WriteTempFile(std::string_view bytes);
// Runs `command` through /bin/sh with stdin from `input` and returns its stdout.
absl::StatusOr<std::string> RunHostCommand(const std::string& command, std::string_view input);

// The bytes bigout/quota_probe write: byte i is `first` + i % 26.
std::string Pattern(int64_t n, char first = 'a');

}  // namespace zerocell::sandbox::testing

#endif  // ZEROCELL_TESTS_SANDBOX_ENGINE_TEST_UTIL_H_

// Shared helpers for the engine integration tests (see test_util.h).
#include "tests/sandbox/engine/test_util.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace zerocell::sandbox::testing {
namespace {

// Debian's abseil has its own string_view type, distinct from std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 300;
  std::string out = absl::CHexEscape(ToAbsl(text.substr(0, kMax)));
  if (text.size() > kMax) absl::StrAppend(&out, "...(", text.size(), " bytes)");
  return out;
}

}  // namespace

absl::StatusOr<const Engine*> SharedEngine() {
  // Created once and never destroyed: tests on several threads share it.
  static const auto* const engine = new absl::StatusOr<std::unique_ptr<Engine>>(
      Engine::Create({.loader_path = zerocell::testing::BinPath("zerocell-loader")}));
  if (!engine->ok()) return engine->status();
  return engine->value().get();
}

const host::HostCapabilities& Host() {
  static const host::HostCapabilities kNone;
  absl::StatusOr<const Engine*> engine = SharedEngine();
  if (!engine.ok()) {
    ADD_FAILURE() << engine.status();
    return kNone;
  }
  return (*engine)->host();
}

absl::StatusOr<std::shared_ptr<const Image>> LoadGuest(std::string_view name) {
  return Image::FromFile(zerocell::testing::GuestPath(name));
}

absl::StatusOr<std::shared_ptr<const Image>> LoadAdmittedGuest(std::string_view name,
                                                               image::InstructionPolicy policy) {
  const std::string path = zerocell::testing::GuestPath(name);
  ASSIGN_OR_RETURN(std::string bytes, ReadImageFile(path));
  const image::Validation validation = image::ValidateImage(bytes, {.policy = policy});
  RETURN_IF_ERROR(validation.status);
  return Image::FromBytes(bytes, {},
                          host::InstructionUse::Decoded(validation.report.host_instructions));
}

ManifestBuilder StdManifest(std::vector<std::string> argv, std::string stdin_data) {
  ManifestBuilder builder;
  builder.add_channel(StdinChannel(std::move(stdin_data)))
      .add_channel(StdoutChannel(kStdOutputBytes))
      .add_channel(StderrChannel(kStdOutputBytes))
      .set_argv(std::move(argv))
      .set_timeout(kTestTimeout);
  return builder;
}

ChannelSpec ReadChannel(std::string alias, std::string data, ChannelType type) {
  ChannelSpec ch;
  ch.alias = std::move(alias);
  ch.type = type;
  ch.gets = kBigQuota;
  ch.get_size = kBigQuota;
  ch.initial_bytes = std::move(data);
  return ch;
}

ChannelSpec WriteChannel(std::string alias, int64_t put_size, ChannelType type) {
  ChannelSpec ch;
  ch.alias = std::move(alias);
  ch.type = type;
  ch.puts = kBigQuota;
  ch.put_size = put_size;
  return ch;
}

absl::StatusOr<Result> RunImage(const Image& image, const ManifestBuilder& builder,
                                const CancelToken* cancel) {
  absl::StatusOr<const Engine*> engine = SharedEngine();
  if (!engine.ok()) return engine.status();
  absl::StatusOr<Manifest> manifest = builder.Build();
  if (!manifest.ok()) return manifest.status();
  return (*engine)->Run(image, *manifest, cancel);
}

absl::StatusOr<Result> RunGuest(std::string_view name, const ManifestBuilder& builder,
                                const CancelToken* cancel) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(name);
  if (!image.ok()) return image.status();
  return RunImage(**image, builder, cancel);
}

absl::StatusOr<Result> RunGuestWith(std::string_view name, const ManifestBuilder& builder,
                                    const RunOptions& options) {
  absl::StatusOr<std::shared_ptr<const Image>> image = LoadGuest(name);
  if (!image.ok()) return image.status();
  absl::StatusOr<const Engine*> engine = SharedEngine();
  if (!engine.ok()) return engine.status();
  absl::StatusOr<Manifest> manifest = builder.Build();
  if (!manifest.ok()) return manifest.status();
  return (*engine)->Run(**image, *manifest, options);
}

bool ReportsNondeterminism(const Result& result, std::string_view source) {
  for (const std::string& item : result.nondeterminism) {
    if (absl::StartsWith(item, absl::StrCat(ToAbsl(source), ":"))) return true;
  }
  return false;
}

std::string WithoutKernelPlacedAddresses(std::string_view output) {
  std::string out;
  for (const std::string& line : Lines(output)) {
    bool placed = false;
    for (const char* key : {"heap=", "heap_big=", "mmap=", "brk="}) {
      if (absl::StartsWith(line, key)) {
        absl::StrAppend(&out, key, "(varies)\n");
        placed = true;
      }
    }
    if (!placed) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

const ChannelResult* FindChannel(const Result& result, std::string_view alias) {
  for (const ChannelResult& ch : result.channels) {
    if (ch.alias == alias) return &ch;
  }
  return nullptr;
}

std::string StdoutOf(const Result& result) {
  const ChannelResult* ch = FindChannel(result, kStdoutAlias);
  return ch == nullptr ? "" : ch->output;
}

std::string StderrOf(const Result& result) {
  const ChannelResult* ch = FindChannel(result, kStderrAlias);
  return ch == nullptr ? "" : ch->output;
}

std::string Describe(const Result& result) {
  std::string out =
      absl::StrCat("outcome=", ToAbsl(OutcomeName(result.outcome)), " exit_code=", result.exit_code,
                   " term_signal=", result.term_signal);
  if (!result.violation.syscall.empty() || result.violation.number != -1) {
    absl::StrAppend(&out, " violation=", result.violation.syscall, "(", result.violation.number,
                    "): ", result.violation.detail);
  }
  absl::StrAppend(&out, " detail=\"", result.detail, "\" stdout=\"", Excerpt(StdoutOf(result)),
                  "\" stderr=\"", Excerpt(StderrOf(result)), "\"");
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(len)));
}

std::vector<std::string> Lines(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return {};
  return absl::StrSplit(ToAbsl(text), '\n');
}

std::map<std::string, std::string> KeyValues(std::string_view text) {
  std::map<std::string, std::string> out;
  for (const std::string& line : Lines(text)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

bool HasChildProcess() {
  int status = 0;
  pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
  return !(pid == -1 && errno == ECHILD);
}

std::string WriteTempFile(std::string_view bytes) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/zerocell_engine_test_XXXXXX");
  int fd = mkstemp(path.data());
  if (fd < 0) return "";
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  return path;
}

absl::StatusOr<std::string> RunHostCommand(const std::string& command, std::string_view input) {
  std::string in_path = WriteTempFile(input);
  if (in_path.empty()) return absl::InternalError("cannot create a temporary file");
  std::string full = absl::StrCat(command, " < ", in_path);
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    unlink(in_path.c_str());
    return absl::InternalError(absl::StrCat("popen failed: ", full));
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  unlink(in_path.c_str());
  if (status != 0) {
    return absl::InternalError(absl::StrCat("host command failed (", status, "): ", full));
  }
  return out;
}

std::string Pattern(int64_t n, char first) {
  std::string out(static_cast<size_t>(n), '\0');
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<char>(first + i % 26);
  return out;
}

}  // namespace zerocell::sandbox::testing

// libFuzzer target: the classic ZeroVM manifest parser and ZRT's nvram parser, alone and together
// (ToManifestBuilder applies a /dev/nvram channel's bytes to the manifest and resolves its [fstab]
// records to channels). The first byte picks:
//   0: the rest is nvram text (ParseNvram, UnescapeNvram)
//   1: the rest is manifest text (ParseClassicManifest, then ToManifest without inputs)
//   2: manifest text, '\0', nvram text: ToManifestBuilder with the nvram as /dev/nvram's bytes
// Contract beyond "no crash": every error is INVALID_ARGUMENT with a message; what ToManifest
// builds is a valid Manifest (its own Build() checks passed) carrying the parsed limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/manifest/classic_parser.h"
#include "sandbox/manifest/nvram.h"

namespace {

namespace zs = ::zerocell::sandbox;

void CheckError(const absl::Status& status) {
  if (!absl::IsInvalidArgument(status) || status.message().empty()) abort();
}

void Nvram(std::string_view text) {
  const absl::StatusOr<zs::NvramSettings> settings = zs::ParseNvram(text);
  if (!settings.ok()) return CheckError(settings.status());
  for (const std::string& var : settings->env) {
    if (var.empty() || var[0] == '=' || var.find('=') == std::string::npos) abort();
  }
  for (size_t i = 0; i < settings->mounts.size(); ++i) {
    const zs::NvramMount& m = settings->mounts[i];
    if (m.mountpoint.empty() || m.mountpoint[0] != '/' || m.line <= 0) abort();
    if ((m.mountpoint.size() > 1 && m.mountpoint.back() == '/') ||
        m.mountpoint.find("//") != std::string::npos) {
      abort();
    }
    for (size_t j = 0; j < i; ++j) {
      if (settings->mounts[j].mountpoint == m.mountpoint) abort();
    }
  }
  (void)zs::UnescapeNvram(text);
}

void Manifest(std::string_view text, const std::string* nvram) {
  const absl::StatusOr<zs::ClassicManifest> classic = zs::ParseClassicManifest(text);
  if (!classic.ok()) return CheckError(classic.status());
  if (classic->channels.empty() || classic->memory_bytes <= 0 ||
      classic->memory_bytes > zs::kClassicMaxMemoryBytes) {
    abort();
  }
  std::vector<std::string> inputs;
  if (nvram != nullptr) {
    for (const zs::ClassicChannel& c : classic->channels) {
      const bool readable = c.spec.gets > 0 && c.spec.get_size > 0;
      inputs.push_back(readable && c.spec.alias == zs::kNvramAlias ? *nvram : std::string());
    }
  }
  // [fstab] records resolve to readable channels of the manifest other than the nvram.
  std::vector<zs::ClassicMount> mounts;
  absl::StatusOr<zs::ManifestBuilder> builder =
      zs::ToManifestBuilder(*classic, std::move(inputs), &mounts);
  if (!builder.ok()) return CheckError(builder.status());
  for (const zs::ClassicMount& m : mounts) {
    if (m.channel >= classic->channels.size() || m.mountpoint.empty() || m.mountpoint[0] != '/') {
      abort();
    }
    const zs::ChannelSpec& spec = classic->channels[m.channel].spec;
    if (!spec.readable() || spec.alias == zs::kNvramAlias) abort();
  }
  const absl::StatusOr<zs::Manifest> manifest = builder->Build();
  if (!manifest.ok()) return CheckError(manifest.status());
  if (manifest->memory_bytes() != classic->memory_bytes) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      Nvram(rest);
      break;
    case 1:
      Manifest(rest, nullptr);
      break;
    default: {
      const size_t split = rest.find('\0');
      const std::string nvram(split == std::string_view::npos ? "" : rest.substr(split + 1));
      Manifest(rest.substr(0, split), &nvram);
      break;
    }
  }
  return 0;
}

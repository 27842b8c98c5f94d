// Image ids: content addresses of ELF bytes.
#include "image/image_id.h"

#include "absl/strings/str_cat.h"
#include "base/sha256.h"

namespace zerocell::image {

std::string ImageIdOf(std::string_view bytes) { return ImageIdFromHex(base::Sha256Hex(bytes)); }

std::string ImageIdFromHex(std::string_view sha256_hex) {
  return absl::StrCat(absl::string_view(kImageIdPrefix.data(), kImageIdPrefix.size()),
                      absl::string_view(sha256_hex.data(), sha256_hex.size()));
}

absl::Status CheckImageId(std::string_view id, std::string_view field) {
  bool ok = id.size() == kImageIdPrefix.size() + 64 && id.starts_with(kImageIdPrefix);
  for (size_t i = kImageIdPrefix.size(); ok && i < id.size(); ++i) {
    const char c = id[i];
    ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(absl::string_view(field.data(), field.size()),
                   ": expected \"sha256:\" and 64 lowercase hex characters"));
}

}  // namespace zerocell::image

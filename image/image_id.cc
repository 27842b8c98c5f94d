// Image ids: content addresses of ELF bytes.
#include "image/image_id.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace zerocell::image {

std::string ImageIdOf(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest over in-memory bytes with a built-in digest cannot fail short of memory corruption.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    abort();
  }
  return ImageIdFromHex(
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length)));
}

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

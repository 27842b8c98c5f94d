// Image ids: "sha256:" followed by the lowercase hex SHA-256 of the ELF (or tar) bytes; kinds.
#ifndef ZEROCELL_IMAGE_IMAGE_ID_H_
#define ZEROCELL_IMAGE_IMAGE_ID_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace zerocell::image {

inline constexpr std::string_view kImageIdPrefix = "sha256:";

// What an image is: a program (a static ELF) or a file tree (a tar archive, see tree_image.h).
// Its id is the hash of the bytes registered either way.
enum class ImageKind { kElf, kTree };

// "sha256:" + lowercase hex of SHA-256(bytes).
std::string ImageIdOf(std::string_view bytes);

// "sha256:" + `sha256_hex` (as sandbox::Image::sha256_hex() gives it).
std::string ImageIdFromHex(std::string_view sha256_hex);

// OK when `id` is "sha256:" + 64 lowercase hex characters; otherwise INVALID_ARGUMENT naming
// `field`, e.g. "image_id: expected \"sha256:\" and 64 lowercase hex characters".
absl::Status CheckImageId(std::string_view id, std::string_view field);

}  // namespace zerocell::image

#endif  // ZEROCELL_IMAGE_IMAGE_ID_H_

// SHA-256 (OpenSSL): one-shot hex digests, an incremental hasher, and seeded deterministic bytes.
#ifndef ZEROCELL_BASE_SHA256_H_
#define ZEROCELL_BASE_SHA256_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace zerocell::base {

// Lowercase hex SHA-256 of `bytes` (64 characters): image ids, etags.
std::string Sha256Hex(std::string_view bytes);

// Incremental SHA-256. Not copyable; movable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  void Update(const void* data, size_t len) {
    Update(std::string_view(static_cast<const char*>(data), len));
  }
  // Lowercase hex of everything updated so far; the hasher is finished afterwards (a later
  // Update or HexDigest starts nothing new: call it once).
  std::string HexDigest();

 private:
  evp_md_ctx_st* ctx_;
};

// `len` deterministic bytes for (`seed`, `label`, `stream`): SHA-256(label || seed || stream ||
// counter) blocks for counter = 0, 1, ... (little-endian 64-bit integers). Reproducible on every
// host, independent per label and stream: the guest's getrandom stream and AT_RANDOM.
std::string SeededBytes(uint64_t seed, std::string_view label, uint64_t stream, size_t len);

}  // namespace zerocell::base

#endif  // ZEROCELL_BASE_SHA256_H_

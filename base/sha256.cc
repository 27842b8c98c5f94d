// SHA-256 helpers over OpenSSL's EVP interface; see sha256.h.
#include "base/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace zerocell::base {
namespace {

std::string Hex(const unsigned char* digest, unsigned int len) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // A built-in digest over memory we own fails only on memory corruption.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) abort();
  return Hex(digest, length);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::Update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest, &length);
  return Hex(digest, length);
}

std::string SeededBytes(uint64_t seed, std::string_view label, uint64_t stream, size_t len) {
  std::string out;
  out.reserve(len + SHA256_DIGEST_LENGTH);
  for (uint64_t counter = 0; out.size() < len; ++counter) {
    std::string block(label);
    block.append(reinterpret_cast<const char*>(&seed), sizeof(seed));
    block.append(reinterpret_cast<const char*>(&stream), sizeof(stream));
    block.append(reinterpret_cast<const char*>(&counter), sizeof(counter));
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(block.data()), block.size(), digest);
    out.append(reinterpret_cast<const char*>(digest), sizeof(digest));
  }
  out.resize(len);
  return out;
}

}  // namespace zerocell::base

// Shared helpers for the Channel unit tests: channel specs and a guest read/write driver.
#ifndef ZEROCELL_TESTS_SANDBOX_SUPERVISOR_CHANNEL_TEST_UTIL_H_
#define ZEROCELL_TESTS_SANDBOX_SUPERVISOR_CHANNEL_TEST_UTIL_H_

#include <openssl/evp.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "sandbox/supervisor/channel.h"

namespace zerocell::sandbox::supervisor::testing {

inline constexpr int64_t kBig = int64_t{1} << 40;
inline constexpr uint64_t kNoCap = std::numeric_limits<uint64_t>::max();

inline std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr), 1);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

inline ChannelSpec Spec(ChannelType type, int64_t gets, int64_t get_size, int64_t puts,
                        int64_t put_size, std::string data = "", bool etag = false) {
  ChannelSpec s;
  s.alias = "/dev/test";
  s.type = type;
  s.etag = etag;
  s.gets = gets;
  s.get_size = get_size;
  s.puts = puts;
  s.put_size = put_size;
  s.initial_bytes = std::move(data);
  return s;
}

inline ChannelSpec Reader(std::string data, ChannelType type = ChannelType::kSeqReadSeqWrite,
                          int64_t gets = kBig, int64_t get_size = kBig, bool etag = false) {
  return Spec(type, gets, get_size, 0, 0, std::move(data), etag);
}

inline ChannelSpec Writer(ChannelType type = ChannelType::kSeqReadSeqWrite, int64_t puts = kBig,
                          int64_t put_size = kBig, bool etag = false) {
  return Spec(type, 0, 0, puts, put_size, "", etag);
}

// What one guest read returned: the errno, or the bytes.
struct ReadOut {
  int error = 0;
  std::string bytes;
};

// A read() (no offset, moves the position) or pread() (offset, never moves a random position),
// with the guest copy succeeding in full.
inline ReadOut DoRead(Channel& ch, uint64_t len, std::optional<int64_t> offset = std::nullopt) {
  std::string bytes;
  const ReadResult r = ch.Read(len, offset, [&](uint64_t done, std::string_view piece) {
    EXPECT_EQ(done, bytes.size());
    bytes.append(piece);
    return 0;
  });
  EXPECT_FALSE(r.wait);
  if (r.error != 0) return {r.error, ""};
  EXPECT_EQ(r.moved, bytes.size());
  return {0, bytes};
}

struct WriteOut {
  int error = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool over_capacity = false;
};

// A write() or pwrite() of `bytes`, storing what the grant allows.
inline WriteOut DoWrite(Channel& ch, std::string_view bytes,
                        std::optional<int64_t> offset = std::nullopt, uint64_t capacity = kNoCap) {
  WriteOut out;
  const WriteGrant g = ch.PlanWrite(bytes.size(), offset, capacity, &out.over_capacity);
  out.error = g.error;
  out.offset = g.offset;
  out.length = g.length;
  if (g.error == 0) {
    EXPECT_LE(g.length, bytes.size());
    ch.CommitWrite(g, bytes.substr(0, g.length), !offset.has_value());
  }
  return out;
}

}  // namespace zerocell::sandbox::supervisor::testing

#endif  // ZEROCELL_TESTS_SANDBOX_SUPERVISOR_CHANNEL_TEST_UTIL_H_

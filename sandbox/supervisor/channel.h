// One channel's state during a run: its bytes, positions, quota counters and etag.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_

#include <openssl/evp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sandbox/manifest/manifest.h"
#include "sandbox/result.h"

namespace zerocell::sandbox::supervisor {

// The part of a read the guest gets: [offset, offset + length) of data().
struct ReadGrant {
  int error = 0;  // errno to return instead (EBADF, EDQUOT, EINVAL, ESPIPE)
  uint64_t offset = 0;
  uint64_t length = 0;  // 0 with error == 0 means end of data
};

// A write the guest may make: how many of its bytes, at which offset.
struct WriteGrant {
  int error = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// ZeroVM channel semantics with EOF winning over quota. Not thread-safe (one supervisor owns it).
// Reads and writes are two-phase: Plan* checks quotas and decides the range, Commit* records
// what really moved (the guest copy may fail with EFAULT, which moves nothing).
class Channel {
 public:
  explicit Channel(const ChannelSpec& spec);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const ChannelSpec& spec() const { return spec_; }
  const std::string& data() const { return data_; }

  // `offset` is the pread/pwrite offset; nullopt for read/write (use the channel position).
  ReadGrant PlanRead(uint64_t length, std::optional<int64_t> offset);
  void CommitRead(const ReadGrant& grant, uint64_t moved, bool use_position);

  // `capacity` bounds how far the channel may grow (the output limit's remaining bytes);
  // *over_capacity reports a write cut short or refused by it.
  WriteGrant PlanWrite(uint64_t length, std::optional<int64_t> offset, uint64_t capacity,
                       bool* over_capacity);
  // Stores `bytes` (already copied from the guest) at grant.offset.
  void CommitWrite(const WriteGrant& grant, std::string_view bytes, bool use_position);
  // For a grant at the end of the data (an append, the common case): `copy` moves the guest's
  // bytes straight into the channel's buffer (no intermediate copy). On copy's error nothing is
  // stored and the error is returned. The stored bytes are then data().substr(grant.offset).
  int CommitAppend(const WriteGrant& grant, bool use_position,
                   const std::function<int(char* dst, uint64_t len)>& copy);

  // lseek; returns the new position or -errno.
  int64_t Seek(int64_t offset, int whence);

  ChannelResult TakeResult();

 private:
  void Hash(std::string_view bytes);

  ChannelSpec spec_;
  std::string data_;
  uint64_t read_pos_ = 0;
  uint64_t write_pos_ = 0;
  ChannelResult counters_;
  EVP_MD_CTX* sha_ = nullptr;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_

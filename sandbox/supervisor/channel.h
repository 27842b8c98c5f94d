// One channel's state during a run: its bytes, positions, quota counters and etag.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/sha256.h"
#include "sandbox/input_source.h"
#include "sandbox/manifest/manifest.h"
#include "sandbox/result.h"
#include "sandbox/supervisor/channel_input.h"

namespace zerocell::sandbox::supervisor {

// What a read did.
struct ReadResult {
  int error = 0;       // errno to return instead (EBADF, EDQUOT, EINVAL, EFAULT, EIO)
  uint64_t moved = 0;  // bytes the guest got; 0 with error == 0 means end of data
  bool wait = false;   // a stream has nothing yet: nothing happened, ask again when ready_fd()
                       // polls readable
};

// Gets the bytes of a read piece by piece, `done` bytes into it, and copies them to the guest;
// returns 0 or an errno (EFAULT), in which case nothing of that piece reached the guest.
using Deliver = std::function<int(uint64_t done, std::string_view bytes)>;

// A write the guest may make: how many of its bytes, at which offset.
struct WriteGrant {
  int error = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// ZeroVM channel semantics with EOF winning over quota. Not thread-safe (one supervisor owns it).
// A read-only channel reads its input through a ChannelInput, in pieces, so that it never holds
// more than a piece of a file or a chunk of a stream. A channel that is both readable and
// writable holds its whole contents (input, then what the guest writes) because they are its
// output; its input must then be sized (bytes or a regular file), as ZeroVM required a file.
// Writes are two-phase: PlanWrite checks quotas and decides the range, Commit* records what
// really moved (the guest copy may fail with EFAULT, which moves nothing).
class Channel {
 public:
  // `source`: where a readable channel's bytes come from; it must outlive the channel. nullptr:
  // the spec's initial_bytes (copied). FAILED_PRECONDITION from Open for a readable and writable
  // channel whose source is a stream.
  static absl::StatusOr<std::unique_ptr<Channel>> Open(const ChannelSpec& spec,
                                                       InputSource* source);
  explicit Channel(const ChannelSpec& spec);  // Open(spec, nullptr), which cannot fail
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const ChannelSpec& spec() const { return spec_; }
  // The contents of a writable channel (for a readable one too: its input first).
  const std::string& data() const { return data_; }
  // What stat reports and SEEK_END starts from (for a writable channel: every byte written, also
  // those DropOutput released).
  uint64_t size() const;
  // A write-only sequential channel forgets what it holds (an observer took it); later writes
  // append after it as before.
  void DropOutput();
  // While a read waits (ReadResult::wait): the descriptor to poll.
  int ready_fd() const { return input_ ? input_->ready_fd() : -1; }

  // A read (`offset` nullopt: at the channel position, which it moves) or pread.
  ReadResult Read(uint64_t length, std::optional<int64_t> offset, const Deliver& deliver);

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
  Channel(const ChannelSpec& spec, bool);  // everything but the input
  void Hash(std::string_view bytes);
  // The bytes at `pos` available now (see ChannelInput::At), from data_ or the input.
  absl::StatusOr<ChannelInput::Avail> InputAt(uint64_t pos, uint64_t max, std::string_view* out);

  ChannelSpec spec_;
  std::string data_;
  uint64_t dropped_ = 0;                     // bytes before data_[0] that DropOutput released
  std::string owned_input_;                  // initial_bytes when no source was given
  std::unique_ptr<InputSource> own_source_;  // over owned_input_
  std::unique_ptr<ChannelInput> input_;      // read-only channels
  uint64_t read_pos_ = 0;
  uint64_t write_pos_ = 0;
  ChannelResult counters_;
  std::optional<base::Sha256> sha_;  // with etag
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_H_

// The read side of a read-only channel: its InputSource, and what a stream needs buffered.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_INPUT_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_INPUT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/input_source.h"

namespace zerocell::sandbox::supervisor {

// Bytes pulled from a stream at a time, and the most a piece of a read copies at once.
inline constexpr uint64_t kInputChunk = 256 << 10;
// A random-read channel over a stream keeps what it pulled (a stream cannot be read twice), at
// most this much: its contents are the stream's first min(get_size, kMaxSpoolBytes) bytes.
inline constexpr uint64_t kMaxSpoolBytes = 64 << 20;

// Memory held, whatever the input's length: a sized source nothing but one piece of a read; a
// stream read sequentially one pulled chunk; a stream read at random its spool.
class ChannelInput {
 public:
  enum class Avail { kData, kEnd, kWait };

  // `source` outlives this. `random`: the channel honours read offsets. `quota`: its get_size.
  ChannelInput(InputSource* source, bool random, uint64_t quota);

  // The bytes at `pos` there are now: 1..max of them in *out (valid until the next call), or
  // kEnd (none at or after pos, ever), or kWait (a stream has none yet: poll ready_fd()).
  // Sequential channels must ask for non-decreasing positions.
  absl::StatusOr<Avail> At(uint64_t pos, uint64_t max, std::string_view* out);

  // The size stat and SEEK_END see: a sized source's size; for a stream, the bytes pulled so far.
  uint64_t size() const;
  int ready_fd() const { return source_->ready_fd(); }

 private:
  InputSource* source_;
  const bool sized_;
  const bool random_;
  const uint64_t spool_limit_;
  std::string scratch_;        // a sized source's ReadAt storage
  std::string buffer_;         // a stream's pulled bytes: one chunk, or the spool
  uint64_t buffer_start_ = 0;  // stream offset of buffer_[0]
  bool ended_ = false;         // the stream said kEnd
  std::string pulled_;
};

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_CHANNEL_INPUT_H_

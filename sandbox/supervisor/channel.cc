// Channel quotas, positions and etags; see channel.h and docs/architecture.md "Channels".
#include "sandbox/supervisor/channel.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace zerocell::sandbox::supervisor {

namespace {
// The spec without its initial bytes: inputs can be large, and data_ holds the one copy.
ChannelSpec WithoutData(const ChannelSpec& spec) {
  ChannelSpec out;
  out.alias = spec.alias;
  out.type = spec.type;
  out.etag = spec.etag;
  out.gets = spec.gets;
  out.get_size = spec.get_size;
  out.puts = spec.puts;
  out.put_size = spec.put_size;
  return out;
}
}  // namespace

Channel::Channel(const ChannelSpec& spec, bool) : spec_(WithoutData(spec)) {
  counters_.alias = spec_.alias;
  counters_.writable = spec_.writable();
  if (spec_.etag) sha_.emplace();
}

Channel::Channel(const ChannelSpec& spec) : Channel(spec, true) {
  if (!spec_.readable()) return;
  if (spec_.writable()) {
    data_ = spec.initial_bytes;
    // Appending writers start after the input, like ZeroVM's type-1 channels on a non-empty file.
    if (!spec_.random_write()) write_pos_ = data_.size();
    return;
  }
  owned_input_ = spec.initial_bytes;
  own_source_ = BytesInput(owned_input_);
  input_ = std::make_unique<ChannelInput>(own_source_.get(), spec_.random_read(),
                                          static_cast<uint64_t>(spec_.get_size));
}

absl::StatusOr<std::unique_ptr<Channel>> Channel::Open(const ChannelSpec& spec,
                                                       InputSource* source) {
  if (source == nullptr) return std::make_unique<Channel>(spec);
  std::unique_ptr<Channel> c(new Channel(spec, true));
  if (!c->spec_.readable()) return c;
  if (!c->spec_.writable()) {
    c->input_ = std::make_unique<ChannelInput>(source, c->spec_.random_read(),
                                               static_cast<uint64_t>(c->spec_.get_size));
    return c;
  }
  // Readable and writable: the input becomes the start of the channel's contents.
  if (!source->size().has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("channel ", c->spec_.alias,
                     " is readable and writable, so its input must be a file or bytes, not a "
                     "stream (its contents are its output)"));
  }
  std::string scratch;
  for (uint64_t pos = 0; pos < *source->size();) {
    absl::StatusOr<std::string_view> bytes = source->ReadAt(pos, kInputChunk, &scratch);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty()) break;
    c->data_.append(*bytes);
    pos += bytes->size();
  }
  // Appending writers start after the input, like ZeroVM's type-1 channels on a non-empty file.
  if (!c->spec_.random_write()) c->write_pos_ = c->data_.size();
  return c;
}

Channel::~Channel() = default;

void Channel::Hash(std::string_view bytes) {
  if (sha_) sha_->Update(bytes);
}

uint64_t Channel::size() const { return input_ ? input_->size() : dropped_ + data_.size(); }

void Channel::DropOutput() {
  if (spec_.readable() || spec_.random_write()) return;  // their contents are still read or patched
  dropped_ += data_.size();
  data_.clear();
}

absl::StatusOr<ChannelInput::Avail> Channel::InputAt(uint64_t pos, uint64_t max,
                                                     std::string_view* out) {
  if (input_) return input_->At(pos, max, out);
  if (pos >= data_.size()) return ChannelInput::Avail::kEnd;
  *out = std::string_view(data_).substr(pos, std::min(max, kInputChunk));
  return ChannelInput::Avail::kData;
}

ReadResult Channel::Read(uint64_t length, std::optional<int64_t> offset, const Deliver& deliver) {
  if (!spec_.readable()) return {EBADF, 0, false};
  const bool use_position = !offset.has_value();
  uint64_t pos = read_pos_;
  if (offset.has_value() && spec_.random_read()) {
    if (*offset < 0) return {EINVAL, 0, false};
    pos = static_cast<uint64_t>(*offset);
  }
  if (length == 0) return {};
  // End of data wins over quota and is free, so a stream is asked first (it may have to wait).
  std::string_view piece;
  absl::StatusOr<ChannelInput::Avail> avail = InputAt(pos, length, &piece);
  if (!avail.ok()) return {EIO, 0, false};  // a host read failed: the guest sees EIO
  if (*avail == ChannelInput::Avail::kWait) return {0, 0, true};
  if (*avail == ChannelInput::Avail::kEnd) return {};
  if (counters_.reads >= spec_.gets || counters_.read_bytes >= spec_.get_size) {
    counters_.get_quota_exceeded = true;
    return {EDQUOT, 0, false};
  }
  uint64_t want = length;
  const uint64_t quota_left = static_cast<uint64_t>(spec_.get_size - counters_.read_bytes);
  if (want > quota_left) want = quota_left;
  uint64_t moved = 0;
  int error = 0;
  // Piece by piece; the read ends early at the end of data, or where a stream has nothing more
  // yet (a short read, as from a pipe), or where the guest's buffer is bad.
  while (true) {
    piece = piece.substr(0, want - moved);
    if (int err = deliver(moved, piece); err != 0) {
      error = err;
      break;
    }
    Hash(piece);
    moved += piece.size();
    if (moved == want) break;
    avail = InputAt(pos + moved, want - moved, &piece);
    if (!avail.ok() || *avail != ChannelInput::Avail::kData) break;
  }
  if (moved == 0) return {error, 0, false};
  if (error == 0 && moved < length && moved == quota_left) {
    // Cut short by get_size, unless the data ended there anyway (a stream that has nothing yet
    // is not flagged now; its next read will be).
    std::string_view next;
    absl::StatusOr<ChannelInput::Avail> more = InputAt(pos + moved, 1, &next);
    if (more.ok() && *more == ChannelInput::Avail::kData) counters_.get_quota_exceeded = true;
  }
  counters_.reads += 1;
  counters_.read_bytes += static_cast<int64_t>(moved);
  if (use_position || !spec_.random_read()) read_pos_ = pos + moved;
  // A file-like (type 3) channel has one position: reading moves where the next write goes.
  if (spec_.random_write() && spec_.random_read() && use_position) write_pos_ = read_pos_;
  return {0, moved, false};
}

WriteGrant Channel::PlanWrite(uint64_t length, std::optional<int64_t> offset, uint64_t capacity,
                              bool* over_capacity) {
  *over_capacity = false;
  if (!spec_.writable()) return {EBADF, 0, 0};
  uint64_t pos = write_pos_;
  if (spec_.random_write()) {
    if (offset.has_value()) {
      if (*offset < 0) return {EINVAL, 0, 0};
      pos = static_cast<uint64_t>(*offset);
    }
  } else {
    pos = size();  // sequential writes append; the offset is ignored
  }
  if (length == 0) return {0, pos, 0};
  if (counters_.writes >= spec_.puts || counters_.write_bytes >= spec_.put_size) {
    counters_.put_quota_exceeded = true;
    return {EDQUOT, pos, 0};
  }
  // A write far past the end would zero-fill more than the quota allows: refuse like ZeroVM.
  const uint64_t quota_left = static_cast<uint64_t>(spec_.put_size - counters_.write_bytes);
  if (pos > size() && pos - size() > quota_left) return {EINVAL, pos, 0};
  uint64_t n = length;
  if (n > quota_left) {
    n = quota_left;
    counters_.put_quota_exceeded = true;
  }
  // Growth beyond the current size counts against the output capacity.
  const uint64_t end = pos + n;
  const uint64_t growth = end > size() ? end - size() : 0;
  if (growth > capacity) {
    *over_capacity = true;
    const uint64_t allowed_end = size() + capacity;
    n = allowed_end > pos ? allowed_end - pos : 0;
  }
  return {0, pos, n};
}

void Channel::CommitWrite(const WriteGrant& grant, std::string_view bytes, bool use_position) {
  if (bytes.empty()) return;
  const uint64_t end = grant.offset + bytes.size();
  if (end > data_.size()) data_.resize(end, '\0');
  data_.replace(grant.offset, bytes.size(), bytes);
  counters_.writes += 1;
  counters_.write_bytes += static_cast<int64_t>(bytes.size());
  Hash(bytes);
  if (use_position || !spec_.random_write()) write_pos_ = end;
  // ZeroVM: after a positioned write on a random-write channel, reads continue from there.
  if (spec_.random_write() && use_position) read_pos_ = write_pos_;
}

int Channel::CommitAppend(const WriteGrant& grant, bool use_position,
                          const std::function<int(char* dst, uint64_t len)>& copy) {
  if (grant.length == 0) return 0;
  const size_t before = data_.size();
  // Geometric growth, so that many small appends stay amortized O(1) per byte.
  if (data_.capacity() < before + grant.length) {
    data_.reserve(std::max<size_t>(before + grant.length, 2 * data_.capacity()));
  }
  data_.resize(before + grant.length);
  if (int err = copy(data_.data() + before, grant.length); err != 0) {
    data_.resize(before);
    return err;
  }
  counters_.writes += 1;
  counters_.write_bytes += static_cast<int64_t>(grant.length);
  Hash(std::string_view(data_).substr(before));
  if (use_position || !spec_.random_write()) write_pos_ = dropped_ + before + grant.length;
  if (spec_.random_write() && use_position) read_pos_ = write_pos_;
  return 0;
}

int64_t Channel::Seek(int64_t offset, int whence) {
  if (!spec_.random_read() && !spec_.random_write()) return -ESPIPE;
  const int64_t current = static_cast<int64_t>(spec_.random_read() ? read_pos_ : write_pos_);
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = current;
      break;
    case SEEK_END:
      base = static_cast<int64_t>(size());
      break;
    default:
      return -EINVAL;
  }
  if (__builtin_add_overflow(base, offset, &base) || base < 0) return -EINVAL;
  if (spec_.random_read()) read_pos_ = static_cast<uint64_t>(base);
  if (spec_.random_write()) write_pos_ = static_cast<uint64_t>(base);
  return base;
}

ChannelResult Channel::TakeResult() {
  ChannelResult out = counters_;
  if (sha_) out.etag = sha_->HexDigest();
  if (spec_.writable()) out.output = std::move(data_);
  return out;
}

}  // namespace zerocell::sandbox::supervisor

// Channel quotas, positions and etags; see channel.h and ARCHITECTURE.md "Channels".
#include "sandbox/supervisor/channel.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/escaping.h"

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

Channel::Channel(const ChannelSpec& spec) : spec_(WithoutData(spec)) {
  if (spec_.readable()) data_ = spec.initial_bytes;
  counters_.alias = spec_.alias;
  counters_.writable = spec_.writable();
  // Appending writers start after the input, like ZeroVM's type-1 channels on a non-empty file.
  if (spec_.writable() && !spec_.random_write()) write_pos_ = data_.size();
  if (spec_.etag) {
    sha_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
  }
}

Channel::~Channel() { EVP_MD_CTX_free(sha_); }

void Channel::Hash(std::string_view bytes) {
  if (sha_ && !bytes.empty()) EVP_DigestUpdate(sha_, bytes.data(), bytes.size());
}

ReadGrant Channel::PlanRead(uint64_t length, std::optional<int64_t> offset) {
  ReadGrant grant;
  if (!spec_.readable()) return {EBADF, 0, 0};
  uint64_t pos = read_pos_;
  if (offset.has_value() && spec_.random_read()) {
    if (*offset < 0) return {EINVAL, 0, 0};
    pos = static_cast<uint64_t>(*offset);
  }
  grant.offset = pos;
  if (length == 0) return grant;
  if (pos >= data_.size()) return grant;  // end of data wins over quota, and is free
  if (counters_.reads >= spec_.gets || counters_.read_bytes >= spec_.get_size) {
    counters_.get_quota_exceeded = true;
    return {EDQUOT, pos, 0};
  }
  uint64_t quota_left = static_cast<uint64_t>(spec_.get_size - counters_.read_bytes);
  uint64_t n = std::min<uint64_t>(length, data_.size() - pos);
  if (n > quota_left) {
    n = quota_left;
    counters_.get_quota_exceeded = true;  // a partial read cut by the quota
  }
  grant.length = n;
  return grant;
}

void Channel::CommitRead(const ReadGrant& grant, uint64_t moved, bool use_position) {
  if (moved == 0) return;
  counters_.reads += 1;
  counters_.read_bytes += static_cast<int64_t>(moved);
  Hash(std::string_view(data_).substr(grant.offset, moved));
  if (use_position || !spec_.random_read()) read_pos_ = grant.offset + moved;
  // A file-like (type 3) channel has one position: reading moves where the next write goes.
  if (spec_.random_write() && spec_.random_read() && use_position) write_pos_ = read_pos_;
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
    pos = data_.size();  // sequential writes append; the offset is ignored
  }
  if (length == 0) return {0, pos, 0};
  if (counters_.writes >= spec_.puts || counters_.write_bytes >= spec_.put_size) {
    counters_.put_quota_exceeded = true;
    return {EDQUOT, pos, 0};
  }
  // A write far past the end would zero-fill more than the quota allows: refuse like ZeroVM.
  const uint64_t quota_left = static_cast<uint64_t>(spec_.put_size - counters_.write_bytes);
  if (pos > data_.size() && pos - data_.size() > quota_left) return {EINVAL, pos, 0};
  uint64_t n = length;
  if (n > quota_left) {
    n = quota_left;
    counters_.put_quota_exceeded = true;
  }
  // Growth beyond the current size counts against the output capacity.
  const uint64_t end = pos + n;
  const uint64_t growth = end > data_.size() ? end - data_.size() : 0;
  if (growth > capacity) {
    *over_capacity = true;
    const uint64_t allowed_end = data_.size() + capacity;
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
  if (use_position || !spec_.random_write()) write_pos_ = before + grant.length;
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
      base = static_cast<int64_t>(data_.size());
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
  if (sha_) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_, digest, &len);
    out.etag =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
  }
  if (spec_.writable()) out.output = std::move(data_);
  return out;
}

}  // namespace zerocell::sandbox::supervisor

// Structured JSON log lines: escaping, timestamps, request ids, atomic line writes.
#include "server/json_log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerocell::server {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one (overlong
// forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else if (c >= 0x80) {
          const size_t n = Utf8SequenceLength(s.substr(i));
          if (n == 0) {
            out += "\\ufffd";  // one replacement per invalid byte
          } else {
            out.append(s.substr(i, n));
            i += n;
            continue;
          }
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace

JsonLog::JsonLog(int fd) : fd_(fd), writer_([this] { WriterLoop(); }) {}

JsonLog::~JsonLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    give_up_ = absl::Now() + absl::Seconds(1);
  }
  writer_.join();
}

void JsonLog::WriteLine(std::string_view line) const {
  std::string out;
  out.reserve(line.size() + 1);
  out.append(line);
  out.push_back('\n');
  absl::MutexLock lock(&mu_);
  if (pending_bytes_ + out.size() > kMaxPendingBytes) {
    ++dropped_;
    return;
  }
  pending_bytes_ += out.size();
  pending_.push_back(std::move(out));
}

int64_t JsonLog::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

// How long the writer waits for more lines once one is pending.
constexpr absl::Duration kLinger = absl::Milliseconds(5);

void JsonLog::WriterLoop() {
  pthread_setname_np(pthread_self(), "zc-log");
  int64_t reported = 0;
  for (;;) {
    std::deque<std::string> batch;
    int64_t dropped = 0;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](JsonLog* log)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return log->stopping_ || !log->pending_.empty(); },
          this));
      if (pending_.empty() && stopping_) return;
      // Lines arriving within a short linger go out in one write: at thousands of calls a
      // second, one wake-up and one write per line would cost each call a context switch.
      if (!stopping_) mu_.AwaitWithTimeout(absl::Condition(&stopping_), kLinger);
      batch.swap(pending_);
      pending_bytes_ = 0;
      dropped = dropped_;
    }
    std::string joined;
    for (const std::string& line : batch) joined += line;
    if (!WriteAll(joined)) return;
    if (dropped > reported) {
      const std::string note =
          LogLine(*this, "warning", "log_lines_dropped").Int("lines", dropped - reported).Text() +
          "\n";
      if (!WriteAll(note)) return;
      reported = dropped;
    }
  }
}

bool JsonLog::WriteAll(std::string_view data) {
  // At most a pipe buffer's page per write, after poll says there is room, so that a write
  // never blocks for long and stopping can give up on a sink that nobody drains.
  constexpr size_t kChunk = 4096;
  if (fd_ < 0) return true;
  while (!data.empty()) {
    pollfd pfd{fd_, POLLOUT, 0};
    const int ready = poll(&pfd, 1, 100);
    if (ready < 0 && errno != EINTR) return true;  // not pollable: nothing sensible to do
    if (ready <= 0) {
      absl::MutexLock lock(&mu_);
      if (stopping_ && absl::Now() >= give_up_) return false;
      continue;
    }
    if ((pfd.revents & (POLLERR | POLLNVAL | POLLHUP)) != 0) return true;  // broken sink: drop
    const ssize_t n = write(fd_, data.data(), std::min(data.size(), kChunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;  // a broken log sink must not fail or stall the server
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  AppendQuoted(out, s);
  return out;
}

std::string Rfc3339Micros(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string NewRequestId() {
  // One generator per thread: seeded from the OS on first use, no lock on the request path.
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

LogLine::LogLine(const JsonLog& log, std::string_view level, std::string_view event)
    : LogLine(log, level, event, absl::Now()) {}

LogLine::LogLine(const JsonLog& log, std::string_view level, std::string_view event, absl::Time now)
    : log_(log) {
  buf_.reserve(256);
  buf_ = "{\"ts\":";
  AppendQuoted(buf_, Rfc3339Micros(now));
  Str("level", level);
  Str("event", event);
}

void LogLine::Key(std::string_view key) {
  buf_.push_back(',');
  AppendQuoted(buf_, key);
  buf_.push_back(':');
}

LogLine& LogLine::Str(std::string_view key, std::string_view value) {
  Key(key);
  AppendQuoted(buf_, value);
  return *this;
}

LogLine& LogLine::Int(std::string_view key, int64_t value) {
  Key(key);
  absl::StrAppend(&buf_, value);
  return *this;
}

LogLine& LogLine::Double(std::string_view key, double value) {
  Key(key);
  if (!std::isfinite(value)) {
    buf_ += "null";
    return *this;
  }
  char tmp[64];
  // Shortest text that reads back as the same double.
  auto [end, ec] = std::to_chars(tmp, tmp + sizeof(tmp), value);
  if (ec == std::errc()) {
    buf_.append(tmp, end);
  } else {
    buf_ += "null";
  }
  return *this;
}

LogLine& LogLine::Bool(std::string_view key, bool value) {
  Key(key);
  buf_ += value ? "true" : "false";
  return *this;
}

LogLine& LogLine::Ms(std::string_view key, absl::Duration value) {
  return Double(key, absl::ToDoubleMilliseconds(value));
}

std::string LogLine::Text() const { return absl::StrCat(buf_, "}"); }

void LogLine::Emit() {
  if (emitted_) return;
  emitted_ = true;
  log_.WriteLine(Text());
}

}  // namespace zerocell::server

// Structured logging: one JSON object per line, written with a single write(2).
//
// Contract for every caller: log lines carry only server-side facts (request ids, image ids,
// outcomes, sizes, timings, status codes, error messages of the server's own making). Never put
// guest data in a log line: no channel data or outputs, no argv, no env, no guest-chosen names.
// Why: logs go to operators and log pipelines that are not cleared for tenants' data.
#ifndef ZEROCELL_SERVER_JSON_LOG_H_
#define ZEROCELL_SERVER_JSON_LOG_H_

#include <unistd.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace zerocell::server {

// A log sink on a file descriptor it does not own (default stderr). Thread-safe. WriteLine never
// waits for the sink: lines are queued and one writer thread writes them in order, so lines
// never interleave and a stalled reader (a full pipe nobody drains) cannot stall requests. Past
// kMaxPendingBytes queued, lines are dropped and counted; a "log_lines_dropped" line reports them
// once the sink drains. Write errors are ignored: logging never fails a request.
class JsonLog {
 public:
  static constexpr size_t kMaxPendingBytes = size_t{8} << 20;

  explicit JsonLog(int fd = STDERR_FILENO);
  // Writes what is queued, giving a stalled sink at most about one second, then stops.
  ~JsonLog();

  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  // Queues `line` plus '\n'. `line` must be one complete JSON object without a newline.
  void WriteLine(std::string_view line) const;

  int fd() const { return fd_; }
  // Lines dropped so far because the queue was full.
  int64_t dropped() const;

 private:
  void WriterLoop();
  // Writes all of `data` unless the sink stays blocked while stopping; false when it gave up.
  bool WriteAll(std::string_view data);

  const int fd_;
  mutable absl::Mutex mu_;
  mutable std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  mutable size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time give_up_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread writer_;
};

// Builder of one line: {"ts":"2024-05-01T12:00:00.123456Z","level":"info","event":"...",...}
// followed by the fields in call order. Keys are the caller's constants; string values may be
// anything (escaped: quotes, backslashes, control characters; invalid UTF-8 becomes U+FFFD).
// Nothing is written until Emit(); a line that is never emitted is dropped.
//
//   LogLine(log, "info", "execute_done").Str("request_id", id).Int("exit_code", 3).Emit();
class LogLine {
 public:
  // level: "debug", "info", "warning" or "error" by convention.
  LogLine(const JsonLog& log, std::string_view level, std::string_view event);
  // Same with an explicit timestamp (tests).
  LogLine(const JsonLog& log, std::string_view level, std::string_view event, absl::Time now);

  LogLine& Str(std::string_view key, std::string_view value);
  LogLine& Int(std::string_view key, int64_t value);
  LogLine& Double(std::string_view key, double value);  // NaN and infinities become null
  LogLine& Bool(std::string_view key, bool value);
  // Duration as fractional milliseconds under `key` (name it "..._ms").
  LogLine& Ms(std::string_view key, absl::Duration value);

  // The line so far, closed (without the newline). For tests.
  std::string Text() const;

  // Writes the line. A second Emit() writes nothing.
  void Emit();

 private:
  void Key(std::string_view key);

  const JsonLog& log_;
  std::string buf_;
  bool emitted_ = false;
};

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

// "2024-05-01T12:00:00.123456Z": RFC 3339, UTC, microseconds.
std::string Rfc3339Micros(absl::Time t);

// A fresh request id: 16 lowercase hex characters from a generator seeded per thread from the
// OS. Unpredictable to guests and clients; it never reaches the guest.
std::string NewRequestId();

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_JSON_LOG_H_

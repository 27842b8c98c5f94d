// Unit tests of the JSON log: escaping, line shape, parse-back, concurrent writers, request ids.
#include "server/json_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A value of a flat JSON object: string, number (as its text), bool or null.
struct Json {
  enum Kind { kString, kNumber, kBool, kNull } kind;
  std::string text;  // decoded string, number text, "true"/"false"
};

// Strict parser for one flat JSON object (no nesting: all the log writes). Returns false on any
// syntax error, including raw control characters inside strings.
class FlatParser {
 public:
  explicit FlatParser(std::string_view s) : s_(s) {}

  bool Parse(std::vector<std::pair<std::string, Json>>* out) {
    if (!Eat('{')) return false;
    if (Eat('}')) return i_ == s_.size();
    do {
      std::string key;
      if (!String(&key) || !Eat(':')) return false;
      Json v;
      if (Peek() == '"') {
        v.kind = Json::kString;
        if (!String(&v.text)) return false;
      } else if (Word("true") || Word("false")) {
        v.kind = Json::kBool;
        v.text = std::string(s_.substr(start_, i_ - start_));
      } else if (Word("null")) {
        v.kind = Json::kNull;
      } else {
        v.kind = Json::kNumber;
        const size_t b = i_;
        while (i_ < s_.size() &&
               std::string_view("+-0123456789.eE").find(s_[i_]) != std::string_view::npos) {
          ++i_;
        }
        if (i_ == b) return false;
        v.text = std::string(s_.substr(b, i_ - b));
      }
      out->emplace_back(std::move(key), std::move(v));
    } while (Eat(','));
    return Eat('}') && i_ == s_.size();
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    start_ = i_;
    i_ += w.size();
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      const char e = Peek();
      ++i_;
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (i_ + 4 > s_.size() ||
              !absl::SimpleHexAtoi(absl::string_view(s_.data() + i_, 4), &cp)) {
            return false;
          }
          i_ += 4;
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t start_ = 0;
};

std::vector<std::pair<std::string, Json>> MustParse(std::string_view line) {
  std::vector<std::pair<std::string, Json>> fields;
  EXPECT_TRUE(FlatParser(line).Parse(&fields)) << line;
  return fields;
}

// Reads everything from a pipe's read end (writer must be closed).
std::string Drain(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(JsonLogTest, QuotesEscapesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain text"), "\"plain text\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonQuote("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(JsonQuote(std::string("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(JsonQuote("</script>"), "\"</script>\"");
}

TEST(JsonLogTest, Utf8KeptInvalidBytesReplaced) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82\"");
  EXPECT_EQ(JsonQuote("a\xff"
                      "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(JsonQuote("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate half
  EXPECT_EQ(JsonQuote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(JsonQuote("\xe2\x82"), R"("\ufffd\ufffd")");  // truncated at the end
}

TEST(JsonLogTest, LineShapeIsExact) {
  JsonLog log(-1);
  const absl::Time t = absl::FromUnixMicros(1714564800123456);  // 2024-05-01T12:00:00.123456Z
  LogLine line(log, "info", "execute_done", t);
  line.Str("request_id", "00ff00ff00ff00ff")
      .Int("exit_code", -3)
      .Double("ratio", 0.1)
      .Double("nan", std::nan(""))
      .Double("inf", std::numeric_limits<double>::infinity())
      .Bool("ok", true)
      .Bool("bad", false)
      .Ms("run_ms", absl::Microseconds(1500));
  EXPECT_EQ(line.Text(),
            R"({"ts":"2024-05-01T12:00:00.123456Z","level":"info","event":"execute_done",)"
            R"("request_id":"00ff00ff00ff00ff","exit_code":-3,"ratio":0.1,"nan":null,)"
            R"("inf":null,"ok":true,"bad":false,"run_ms":1.5})");
  EXPECT_EQ(Rfc3339Micros(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00.000000Z");
}

TEST(JsonLogTest, EmitWritesOneParsableLineAndRoundTripsStrings) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::string every_byte;
  for (int c = 0; c < 0x80; ++c) every_byte.push_back(static_cast<char>(c));
  const std::string tricky = "quote\" back\\slash \xce\xbb \xf0\x9f\x99\x82 {\"x\":1}\n";
  {
    JsonLog log(fds[1]);
    LogLine line(log, "warning", "odd\"event");
    line.Str("ascii", every_byte).Str("tricky", tricky).Int("min", INT64_MIN).Double("d", 1e300);
    line.Emit();
    line.Emit();                      // no second line
    LogLine(log, "info", "dropped");  // never emitted: nothing written
  }
  close(fds[1]);
  const std::string out = Drain(fds[0]);
  close(fds[0]);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "exactly one line expected: " << out;
  std::vector<std::pair<std::string, Json>> fields = MustParse(out.substr(0, out.size() - 1));
  ASSERT_EQ(fields.size(), 7u);
  EXPECT_EQ(fields[0].first, "ts");
  EXPECT_THAT(fields[0].second.text,
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z"));
  EXPECT_EQ(fields[1].second.text, "warning");
  EXPECT_EQ(fields[2].second.text, "odd\"event");
  EXPECT_EQ(fields[3].first, "ascii");
  EXPECT_EQ(fields[3].second.text, every_byte);
  EXPECT_EQ(fields[4].second.text, tricky);
  EXPECT_EQ(fields[5].second.kind, Json::kNumber);
  EXPECT_EQ(fields[5].second.text, "-9223372036854775808");
  EXPECT_EQ(std::stod(fields[6].second.text), 1e300);
}

TEST(JsonLogTest, ConcurrentWritersNeverInterleave) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  constexpr int kThreads = 8;
  constexpr int kLines = 100;  // 4.8 MB: below JsonLog::kMaxPendingBytes, nothing is dropped
  // Lines longer than PIPE_BUF (4096) would interleave if two threads wrote them.
  const std::string filler(6000, 'x');
  std::string out;
  std::thread reader([&] { out = Drain(fds[0]); });
  {
    JsonLog log(fds[1]);
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kLines; ++i) {
          LogLine(log, "info", "tick").Int("thread", t).Int("i", i).Str("pad", filler).Emit();
        }
      });
    }
    for (std::thread& w : writers) w.join();
  }
  close(fds[1]);
  reader.join();
  close(fds[0]);
  std::map<int64_t, int64_t> next;  // thread -> next expected i (order per thread is kept)
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::pair<std::string, Json>> f =
        MustParse(std::string_view(line.data(), line.size()));
    ASSERT_EQ(f.size(), 6u) << line.substr(0, 200);
    const int64_t t = std::stoll(f[3].second.text);
    const int64_t i = std::stoll(f[4].second.text);
    EXPECT_EQ(i, next[t]++);
    EXPECT_EQ(f[5].second.text, filler);
    ++lines;
  }
  EXPECT_EQ(lines, kThreads * kLines);
}

// A sink nobody reads never stalls the logging threads: lines past the queue bound are dropped,
// counted, and reported once the sink drains.
TEST(JsonLogTest, StalledSinkDropsAndReportsInsteadOfBlocking) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  const std::string filler(10000, 'y');
  int64_t dropped = 0;
  std::string out;
  std::thread reader;
  {
    JsonLog log(fds[1]);
    // About 20 MB into a 64 KiB pipe that nobody reads yet: returns without blocking.
    for (int i = 0; i < 2000; ++i) LogLine(log, "info", "tick").Str("pad", filler).Emit();
    dropped = log.dropped();
    EXPECT_GT(dropped, 0);
    reader = std::thread([&] { out = Drain(fds[0]); });
  }  // the destructor writes what was queued, then the drop report
  close(fds[1]);
  reader.join();
  close(fds[0]);
  EXPECT_THAT(out, HasSubstr(absl::StrCat("\"event\":\"log_lines_dropped\",\"lines\":", dropped)));
}

TEST(JsonLogTest, RequestIdsAreSixteenHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = NewRequestId();
    ASSERT_THAT(id, MatchesRegex("[0-9a-f]{16}"));
    seen.insert(std::move(id));
  }
  EXPECT_EQ(seen.size(), 2000u);
  // Other threads draw from their own generators: still distinct.
  std::string other;
  std::thread([&] { other = NewRequestId(); }).join();
  EXPECT_FALSE(seen.contains(other));
}

}  // namespace
}  // namespace zerocell::server

// Helpers for end-to-end tests that call zerocell.v1.Sandbox: guest bytes, manifests, scrapes.
#ifndef ZEROCELL_TESTS_SERVER_SANDBOX_REQUESTS_H_
#define ZEROCELL_TESTS_SERVER_SANDBOX_REQUESTS_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "zerocell/v1/sandbox.grpc.pb.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server::testing {

// RegisterImage of a file tree (tree_tar); its id ("" and a test failure when refused).
inline std::string RegisterTree(zerocell::v1::Sandbox::Stub& stub, const std::string& tar) {
  grpc::ClientContext ctx;
  zerocell::v1::RegisterImageRequest request;
  request.set_tree_tar(tar);
  zerocell::v1::RegisterImageResponse response;
  grpc::Status s = stub.RegisterImage(&ctx, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.image().image_id();
}

inline zerocell::v1::Channel* AddChannel(zerocell::v1::Manifest* m, const std::string& alias,
                                         bool read, bool write) {
  zerocell::v1::Channel* c = m->add_channels();
  c->set_alias(alias);
  if (read) {
    c->set_gets(1 << 20);
    c->set_get_size(1 << 30);
  }
  if (write) {
    c->set_puts(1 << 20);
    c->set_put_size(1 << 20);
  }
  return c;
}

// stdin (readable), stdout and stderr (writable), the given argv.
inline zerocell::v1::Manifest StdManifest(std::vector<std::string> argv,
                                          int64_t timeout_ms = 10000) {
  zerocell::v1::Manifest m;
  m.set_timeout_ms(timeout_ms);
  for (std::string& a : argv) m.add_argv(std::move(a));
  AddChannel(&m, "/dev/stdin", true, false);
  AddChannel(&m, "/dev/stdout", false, true);
  AddChannel(&m, "/dev/stderr", false, true);
  return m;
}

// Samples of a Prometheus text exposition keyed by name and sorted labels, e.g.
// "zerocell_requests_total{code=\"OK\",method=\"Execute\"}". Label values must not hold ','.
inline std::map<std::string, double> PrometheusSamples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    const absl::string_view series = line.substr(0, space);
    std::string key(series);
    if (size_t brace = series.find('{'); brace != absl::string_view::npos) {
      std::vector<std::string> labels =
          absl::StrSplit(series.substr(brace + 1, series.size() - brace - 2), ',');
      std::sort(labels.begin(), labels.end());
      key = absl::StrCat(series.substr(0, brace), "{", absl::StrJoin(labels, ","), "}");
    }
    out[key] = std::stod(std::string(line.substr(space + 1)));
  }
  return out;
}

// The key PrometheusSamples uses for `name` with `labels`.
inline std::string SampleKey(const std::string& name,
                             std::vector<std::pair<std::string, std::string>> labels = {}) {
  if (labels.empty()) return name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(absl::StrCat(k, "=\"", v, "\""));
  std::sort(parts.begin(), parts.end());
  return absl::StrCat(name, "{", absl::StrJoin(parts, ","), "}");
}

}  // namespace zerocell::server::testing

#endif  // ZEROCELL_TESTS_SERVER_SANDBOX_REQUESTS_H_

// RemoteClient end to end against a real zerocelld on 127.0.0.1 port 0: execute by id with upload
// only on NOT_FOUND, registration, refused images' reports, deadlines, cancellation, TLS.
#include "client/remote_client.h"

#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/rpc_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/processes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"

using ::zerocell::testing::IsOk;

namespace zerocell::client {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::BinPath;
using ::zerocell::testing::DescendantPids;
using ::zerocell::testing::ZerocelldProcess;

// Channel quotas of the test manifests: ample for the guests, below every server cap.
constexpr int64_t kQuota = int64_t{1} << 20;

std::string Guest(const std::string& name) { return zerocell::testing::GuestBytes(name); }

// stdin serving `input`, stdout and stderr writable.
v1::Manifest StandardManifest(std::vector<std::string> argv, const std::string& input = "",
                              int64_t timeout_ms = 5000) {
  v1::Manifest m;
  m.set_timeout_ms(timeout_ms);
  for (std::string& arg : argv) m.add_argv(std::move(arg));
  v1::Channel* in = m.add_channels();
  in->set_alias("/dev/stdin");
  in->set_gets(kQuota);
  in->set_get_size(kQuota);
  in->set_initial_data(input);
  for (const char* alias : {"/dev/stdout", "/dev/stderr"}) {
    v1::Channel* out = m.add_channels();
    out->set_alias(alias);
    out->set_puts(kQuota);
    out->set_put_size(kQuota);
  }
  return m;
}

const v1::ChannelResult& Stdout(const v1::ExecuteResponse& r) { return r.channels(1); }

// The server's count of finished Execute RPCs with gRPC status `code` (e.g. "NOT_FOUND"), read
// from its Prometheus endpoint: the server's own view of what the client sent.
double ExecuteRequestsWithCode(const ZerocelldProcess& server, const std::string& code) {
  absl::StatusOr<std::string> text = server::testing::HttpGet(server.metrics_port(), "/metrics");
  EXPECT_THAT(text, IsOk());
  for (absl::string_view line : absl::StrSplit(text.value_or(""), '\n')) {
    if (absl::StartsWith(line, "zerocell_requests_total{") &&
        absl::StrContains(line, "method=\"Execute\"") &&
        absl::StrContains(line, absl::StrCat("code=\"", code, "\""))) {
      double value = 0;
      EXPECT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) << line;
      return value;
    }
  }
  return 0;
}

class RemoteClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Parked sandboxes retire soon after the last call, so that "none left" can be checked.
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({"--pool_idle_ms=300"});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    absl::StatusOr<std::unique_ptr<RemoteClient>> client =
        RemoteClient::Create({.address = server_->grpc_address()});
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }

  // Waits (bounded) until the server has no sandbox processes left.
  void ExpectNoSandboxesLeft() {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!DescendantPids(server_->pid()).empty() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_THAT(DescendantPids(server_->pid()), ::testing::IsEmpty()) << server_->Logs();
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<RemoteClient> client_;
};

TEST_F(RemoteClientTest, UploadsOnlyOnNotFoundThenRunsById) {
  const std::string elf = Guest("echo_args");
  const std::string id = image::ImageIdOf(elf);
  EXPECT_EQ(client_->GetImage(id).status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<v1::ExecuteResponse> first =
      client_->Execute(elf, StandardManifest({"echo_args", "a b"}));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(Stdout(*first).output(), "argc=2\nargv[0]=echo_args\nargv[1]=a b\n");
  EXPECT_EQ(first->image_id(), id);
  EXPECT_EQ(client_->stats().executes_by_id, 1);
  EXPECT_EQ(client_->stats().image_uploads, 1);

  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::ExecuteResponse> again = client_->Execute(elf, StandardManifest({"e"}));
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(Stdout(*again).output(), "argc=1\nargv[0]=e\n");
  }
  EXPECT_EQ(client_->stats().executes_by_id, 4);
  EXPECT_EQ(client_->stats().image_uploads, 1) << "later runs must not send the image again";
  // The server saw exactly one NOT_FOUND (the first, by-id attempt) and four successful runs.
  EXPECT_EQ(ExecuteRequestsWithCode(*server_, "NOT_FOUND"), 1);
  EXPECT_EQ(ExecuteRequestsWithCode(*server_, "OK"), 4);

  // The server agrees: one cached image that ran four times.
  absl::StatusOr<v1::Image> image = client_->GetImage(id);
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->executions(), 4);
  EXPECT_EQ(image->size_bytes(), static_cast<int64_t>(elf.size()));
  absl::StatusOr<v1::ListImagesResponse> list = client_->ListImages();
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->images_size(), 1);
  EXPECT_EQ(list->images(0).image_id(), id);
}

TEST_F(RemoteClientTest, RegisteredImageRunsWithoutUpload) {
  const std::string elf = Guest("cat");
  absl::StatusOr<v1::RegisterImageResponse> reg = client_->Register(elf, "cat");
  ASSERT_THAT(reg, IsOk());
  EXPECT_EQ(reg->image().image_id(), image::ImageIdOf(elf));
  EXPECT_EQ(reg->image().name(), "cat");
  EXPECT_FALSE(reg->already_registered());
  EXPECT_TRUE(reg->image().validation().accepted());
  absl::StatusOr<v1::RegisterImageResponse> again = client_->Register(elf);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->already_registered());

  absl::StatusOr<v1::ExecuteResponse> run =
      client_->Execute(elf, StandardManifest({"cat"}, "piped input\n"));
  ASSERT_THAT(run, IsOk());
  EXPECT_EQ(Stdout(*run).output(), "piped input\n");
  EXPECT_EQ(client_->stats().image_uploads, 0);

  absl::StatusOr<v1::ExecuteResponse> by_id =
      client_->ExecuteById(reg->image().image_id(), StandardManifest({"cat"}, "x"));
  ASSERT_THAT(by_id, IsOk());
  EXPECT_EQ(Stdout(*by_id).output(), "x");
}

TEST_F(RemoteClientTest, UnknownIdIsNotFoundWithoutRetry) {
  absl::StatusOr<v1::ExecuteResponse> r =
      client_->ExecuteById(image::ImageIdOf("never sent"), StandardManifest({"x"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(client_->stats().image_uploads, 0);
  EXPECT_EQ(client_->GetImage(image::ImageIdOf("never sent")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RemoteClientTest, RefusedImageCarriesItsValidationReport) {
  const std::string elf = Guest("pol_int80");
  absl::StatusOr<v1::RegisterImageResponse> reg = client_->Register(elf, "int80");
  ASSERT_EQ(reg.status().code(), absl::StatusCode::kInvalidArgument) << reg.status();
  std::optional<v1::ValidationReport> report = api::RejectionReportOf(reg.status());
  ASSERT_TRUE(report.has_value()) << reg.status();
  EXPECT_FALSE(report->accepted());
  ASSERT_GT(report->rejections_size(), 0);
  EXPECT_THAT(report->rejections(0).instruction(), HasSubstr("int"));
  EXPECT_GT(report->rejections(0).vaddr(), 0u);
  EXPECT_THAT(std::string(reg.status().message()), HasSubstr("int"));

  // Execute: NOT_FOUND by id (refused images are not cached), then inline: refused the same way.
  absl::StatusOr<v1::ExecuteResponse> run = client_->Execute(elf, StandardManifest({"x"}));
  ASSERT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument) << run.status();
  EXPECT_TRUE(api::RejectionReportOf(run.status()).has_value());
  EXPECT_EQ(client_->stats().image_uploads, 1);
  EXPECT_EQ(client_->GetImage(image::ImageIdOf(elf)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RemoteClientTest, BadManifestIsInvalidArgumentNamingTheField) {
  v1::Manifest manifest = StandardManifest({"hello"});
  manifest.set_memory_bytes(-1);
  absl::StatusOr<v1::ExecuteResponse> r = client_->Execute(Guest("hello"), manifest);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("manifest.memory_bytes"));
  EXPECT_FALSE(api::RejectionReportOf(r.status()).has_value());
}

TEST_F(RemoteClientTest, GuestOutcomesAreData) {
  absl::StatusOr<v1::ExecuteResponse> exited =
      client_->Execute(Guest("exit_code"), StandardManifest({"exit_code", "42"}));
  ASSERT_THAT(exited, IsOk());
  EXPECT_EQ(exited->outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(exited->exit_code(), 42);
  absl::StatusOr<v1::ExecuteResponse> timeout =
      client_->Execute(Guest("spin"), StandardManifest({"spin"}, "", /*timeout_ms=*/200));
  ASSERT_THAT(timeout, IsOk());
  EXPECT_EQ(timeout->outcome(), v1::OUTCOME_TIMEOUT);
}

// A default zerocelld may answer with a full default output limit (64 MiB) plus proto overhead;
// a client with default options must take that response whole.
TEST_F(RemoteClientTest, DefaultClientReceivesAFullDefaultOutputLimit) {
  constexpr int64_t kOutput = int64_t{64} << 20;
  v1::Manifest manifest = StandardManifest({"bigout", absl::StrCat(kOutput), "1048576"});
  manifest.mutable_channels(1)->set_put_size(kOutput);
  absl::StatusOr<v1::ExecuteResponse> r = client_->Execute(Guest("bigout"), manifest);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome(), v1::OUTCOME_EXITED);
  EXPECT_EQ(r->exit_code(), 0);
  const std::string& out = Stdout(*r).output();
  ASSERT_EQ(out.size(), static_cast<size_t>(kOutput));
  // bigout writes byte i as 'a' + i % 26: the bytes arrived in order, none lost or repeated.
  size_t bad = 0;
  for (size_t i = 0; i < out.size(); ++i) bad += out[i] != static_cast<char>('a' + i % 26);
  EXPECT_EQ(bad, 0u);
}

TEST_F(RemoteClientTest, CallDeadlineEndsTheRunAndKillsTheSandbox) {
  absl::StatusOr<v1::ExecuteResponse> r =
      client_->Execute(Guest("spin"), StandardManifest({"spin"}, "", /*timeout_ms=*/60'000),
                       ExecuteOptions{.deadline = absl::Milliseconds(500)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  ExpectNoSandboxesLeft();
}

TEST_F(RemoteClientTest, CancelFromAnotherThreadEndsTheRun) {
  CallCanceller canceller;
  std::thread cancel([&] {
    absl::SleepFor(absl::Milliseconds(300));
    canceller.Cancel();
  });
  absl::StatusOr<v1::ExecuteResponse> r =
      client_->Execute(Guest("spin"), StandardManifest({"spin"}, "", /*timeout_ms=*/60'000),
                       ExecuteOptions{.canceller = &canceller});
  cancel.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(canceller.cancelled());
  ExpectNoSandboxesLeft();

  // A cancelled handle refuses later calls at once.
  absl::StatusOr<v1::ExecuteResponse> later = client_->Execute(
      Guest("hello"), StandardManifest({"hello"}), ExecuteOptions{.canceller = &canceller});
  EXPECT_EQ(later.status().code(), absl::StatusCode::kCancelled);
}

TEST(RemoteClientOptionsTest, DefaultDeadlineIsTimeoutPlusMargin) {
  v1::Manifest manifest;
  EXPECT_EQ(DefaultExecuteDeadline(manifest), absl::Seconds(10) + kDeadlineMargin);
  manifest.set_timeout_ms(2500);
  EXPECT_EQ(DefaultExecuteDeadline(manifest), absl::Milliseconds(2500) + kDeadlineMargin);
}

TEST(RemoteClientOptionsTest, BadOptionsNameTheOption) {
  EXPECT_EQ(RemoteClient::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status missing_ca =
      RemoteClient::Create({.address = "127.0.0.1:1", .tls_ca_file = "/nonexistent/ca.pem"})
          .status();
  EXPECT_EQ(missing_ca.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(missing_ca.message()),
            "tls_ca: /nonexistent/ca.pem: No such file or directory");
  absl::Status missing_key = RemoteClient::Create({.address = "127.0.0.1:1",
                                                   .tls_ca_file = "/etc/hostname",
                                                   .tls_cert_file = "/etc/hostname",
                                                   .tls_key_file = "/nonexistent/key.pem"})
                                 .status();
  EXPECT_EQ(missing_key.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(missing_key.message()),
            "tls_key: /nonexistent/key.pem: No such file or directory");
  // Read errors are reported as for every CLI input file, not as an empty file.
  absl::Status directory =
      RemoteClient::Create({.address = "127.0.0.1:1", .tls_ca_file = "/"}).status();
  EXPECT_EQ(directory.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(directory.message()), "tls_ca: /: Is a directory");
  absl::Status empty =
      RemoteClient::Create({.address = "127.0.0.1:1", .tls_ca_file = "/dev/null"}).status();
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(empty.message()), "tls_ca: /dev/null: empty");
  absl::Status half = RemoteClient::Create({.address = "127.0.0.1:1",
                                            .tls_ca_file = "/etc/hostname",
                                            .tls_cert_file = "/etc/hostname"})
                          .status();
  EXPECT_EQ(half.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(half.message()), HasSubstr("tls_key"));
}

TEST(RemoteClientOptionsTest, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: privileged, nothing listens there in the test environment.
  absl::StatusOr<std::unique_ptr<RemoteClient>> client =
      RemoteClient::Create({.address = "127.0.0.1:1"});
  ASSERT_THAT(client, IsOk());
  absl::StatusOr<v1::ExecuteResponse> r = (*client)->Execute(
      "\x7f"
      "ELF",
      StandardManifest({"x"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

// TLS and mutual TLS: the client's CA / certificate options against a server requiring them.
class RemoteClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<server::testing::TestCertificates> certs =
        server::testing::MakeTestCertificates(dir_.path());
    ASSERT_THAT(certs, IsOk());
    certs_ = *certs;
  }

  absl::StatusOr<v1::ExecuteResponse> RunHello(const ClientOptions& options) {
    absl::StatusOr<std::unique_ptr<RemoteClient>> client = RemoteClient::Create(options);
    if (!client.ok()) return client.status();
    return (*client)->Execute(Guest("hello"), StandardManifest({"hello"}));
  }

  zerocell::testing::TempDir dir_;
  server::testing::TestCertificates certs_;
};

TEST_F(RemoteClientTlsTest, TlsNeedsTheCaAndMutualTlsTheClientCertificate) {
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
      ZerocelldProcess::Start({absl::StrCat("--tls_cert=", certs_.server_cert),
                               absl::StrCat("--tls_key=", certs_.server_key),
                               absl::StrCat("--tls_client_ca=", certs_.ca_cert)});
  ASSERT_THAT(server, IsOk());
  const std::string address = (*server)->grpc_address();

  absl::StatusOr<v1::ExecuteResponse> mutual = RunHello({.address = address,
                                                         .tls_ca_file = certs_.ca_cert,
                                                         .tls_cert_file = certs_.client_cert,
                                                         .tls_key_file = certs_.client_key});
  ASSERT_THAT(mutual, IsOk()) << (*server)->Logs();
  EXPECT_EQ(Stdout(*mutual).output(), "hello, world\n");

  EXPECT_THAT(RunHello({.address = address}), ::testing::Not(IsOk()))
      << "plaintext to a TLS server";
  EXPECT_THAT(RunHello({.address = address, .tls_ca_file = certs_.ca_cert}), ::testing::Not(IsOk()))
      << "no client certificate";
  EXPECT_THAT(RunHello({.address = address,
                        .tls_ca_file = certs_.ca_cert,
                        .tls_cert_file = certs_.rogue_cert,
                        .tls_key_file = certs_.rogue_key}),
              ::testing::Not(IsOk()))
      << "a client certificate the CA did not sign";
}

TEST_F(RemoteClientTlsTest, ServerCertificateMustChainToTheGivenCa) {
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
      ZerocelldProcess::Start({absl::StrCat("--tls_cert=", certs_.server_cert),
                               absl::StrCat("--tls_key=", certs_.server_key)});
  ASSERT_THAT(server, IsOk());
  const std::string address = (*server)->grpc_address();
  absl::StatusOr<v1::ExecuteResponse> ok =
      RunHello({.address = address, .tls_ca_file = certs_.ca_cert});
  ASSERT_THAT(ok, IsOk());
  // The rogue certificate is self-signed: trusting it instead of the CA must fail the handshake.
  EXPECT_THAT(RunHello({.address = address, .tls_ca_file = certs_.rogue_cert}),
              ::testing::Not(IsOk()));
}

// An address list over TLS: the channel's authority is the first entry (127.0.0.1:PORT, in the
// test certificate's SAN), not the whole list, so every replica's certificate checks out.
TEST_F(RemoteClientTlsTest, AddressListOverTlsChecksTheFirstEntrysName) {
  std::vector<std::unique_ptr<ZerocelldProcess>> servers;
  std::vector<std::string> addresses;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server =
        ZerocelldProcess::Start({absl::StrCat("--tls_cert=", certs_.server_cert),
                                 absl::StrCat("--tls_key=", certs_.server_key)});
    ASSERT_THAT(server, IsOk());
    addresses.push_back((*server)->grpc_address());
    servers.push_back(*std::move(server));
  }
  absl::StatusOr<std::unique_ptr<RemoteClient>> client = RemoteClient::Create(
      {.address = absl::StrJoin(addresses, ","), .tls_ca_file = certs_.ca_cert});
  ASSERT_THAT(client, IsOk());
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<v1::ExecuteResponse> r =
        (*client)->Execute(Guest("hello"), StandardManifest({"hello"}));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(Stdout(*r).output(), "hello, world\n");
  }
}

}  // namespace
}  // namespace zerocell::client

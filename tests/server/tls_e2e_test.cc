// End-to-end: zerocelld over TLS and mutual TLS with certificates made at test time by the
// openssl CLI; clients without the right CA or certificate are refused.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/sandbox_requests.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using testing::TestCertificates;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

std::string Pem(const std::string& path) {
  absl::StatusOr<std::string> pem = zerocell::testing::ReadFile(path);
  EXPECT_THAT(pem, IsOk());
  return pem.value_or("");
}

class TlsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<zerocell::testing::TempDir> dir = zerocell::testing::TempDir::Create("zc-certs");
    ASSERT_THAT(dir, IsOk());
    cert_dir_ = new zerocell::testing::TempDir(*std::move(dir));
    absl::StatusOr<TestCertificates> certs = testing::MakeTestCertificates(cert_dir_->path());
    ASSERT_THAT(certs, IsOk());
    certs_ = new TestCertificates(*certs);
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
    delete cert_dir_;
    cert_dir_ = nullptr;
  }

  void StartServer(bool mutual) {
    ASSERT_NE(certs_, nullptr);
    std::vector<std::string> flags = {absl::StrCat("--tls_cert=", certs_->server_cert),
                                      absl::StrCat("--tls_key=", certs_->server_key)};
    if (mutual) flags.push_back(absl::StrCat("--tls_client_ca=", certs_->ca_cert));
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start(flags);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
  }

  // A TLS client trusting `root_pem`, presenting (cert, key) when given.
  static std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& root_pem,
                                                       const std::string& cert_path = "",
                                                       const std::string& key_path = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = root_pem;
    if (!cert_path.empty()) {
      options.pem_cert_chain = Pem(cert_path);
      options.pem_private_key = Pem(key_path);
    }
    return grpc::SslCredentials(options);
  }

  // A ListImages call over a fresh channel (no connection reuse between cases).
  grpc::Status Call(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub =
        v1::Sandbox::NewStub(grpc::CreateCustomChannel(server_->grpc_address(), creds, args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListImagesResponse resp;
    return stub->ListImages(&ctx, v1::ListImagesRequest(), &resp);
  }

  // A hello run over `creds`; the full Execute path works through the TLS transport.
  void ExpectHelloRuns(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    auto stub = v1::Sandbox::NewStub(grpc::CreateChannel(server_->grpc_address(), creds));
    v1::ExecuteRequest req;
    req.set_image(zerocell::testing::GuestBytes("hello"));
    *req.mutable_manifest() = testing::StdManifest({"hello"});
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ExecuteResponse resp;
    grpc::Status s = stub->Execute(&ctx, req, &resp);
    ASSERT_THAT(s, IsOk());
    EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
    EXPECT_THAT(resp.channels(1).output(), HasSubstr("ello"));
  }

  static zerocell::testing::TempDir* cert_dir_;
  static TestCertificates* certs_;
  std::unique_ptr<ZerocelldProcess> server_;
};

zerocell::testing::TempDir* TlsE2eTest::cert_dir_ = nullptr;
TestCertificates* TlsE2eTest::certs_ = nullptr;

TEST_F(TlsE2eTest, TlsClientTrustingTheCaIsServed) {
  StartServer(/*mutual=*/false);
  ExpectHelloRuns(Tls(Pem(certs_->ca_cert)));
  // Without mutual TLS a client certificate is not needed, and presenting one does no harm.
  EXPECT_THAT(Call(Tls(Pem(certs_->ca_cert), certs_->client_cert, certs_->client_key)), IsOk());
}

TEST_F(TlsE2eTest, TlsRefusesPlaintextAndUntrustedServerCertificates) {
  StartServer(/*mutual=*/false);
  grpc::Status plain = Call(grpc::InsecureChannelCredentials());
  EXPECT_THAT(plain, ::testing::Not(IsOk()));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
  // A client trusting another root rejects the server's certificate.
  grpc::Status wrong_root = Call(Tls(Pem(certs_->rogue_cert)));
  EXPECT_EQ(wrong_root.error_code(), grpc::StatusCode::UNAVAILABLE) << wrong_root.error_message();
}

TEST_F(TlsE2eTest, MutualTlsServesAClientWithACertificateSignedByTheCa) {
  StartServer(/*mutual=*/true);
  ExpectHelloRuns(Tls(Pem(certs_->ca_cert), certs_->client_cert, certs_->client_key));
}

TEST_F(TlsE2eTest, MutualTlsRefusesClientsWithoutAValidCertificate) {
  StartServer(/*mutual=*/true);
  grpc::Status no_cert = Call(Tls(Pem(certs_->ca_cert)));
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();
  grpc::Status rogue = Call(Tls(Pem(certs_->ca_cert), certs_->rogue_cert, certs_->rogue_key));
  EXPECT_EQ(rogue.error_code(), grpc::StatusCode::UNAVAILABLE) << rogue.error_message();
  grpc::Status plain = Call(grpc::InsecureChannelCredentials());
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
  // The refusals did not disturb the server: a proper client is still served.
  EXPECT_THAT(Call(Tls(Pem(certs_->ca_cert), certs_->client_cert, certs_->client_key)), IsOk());
}

// --image_namespace=client_cert (issue 14, finding 7): each mTLS client (certificate subject)
// sees, looks up and runs only the images it registered; another client's id is NOT_FOUND, as if
// never registered.
TEST_F(TlsE2eTest, ClientCertNamespacesIsolateMutualTlsClients) {
  ASSERT_NE(certs_, nullptr);
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start(
      {absl::StrCat("--tls_cert=", certs_->server_cert),
       absl::StrCat("--tls_key=", certs_->server_key),
       absl::StrCat("--tls_client_ca=", certs_->ca_cert), "--image_namespace=client_cert"});
  ASSERT_THAT(server, IsOk());
  server_ = *std::move(server);
  const auto stub_of = [&](const std::string& cert, const std::string& key) {
    return v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), Tls(Pem(certs_->ca_cert), cert, key)));
  };
  std::unique_ptr<v1::Sandbox::Stub> a = stub_of(certs_->client_cert, certs_->client_key);
  std::unique_ptr<v1::Sandbox::Stub> b = stub_of(certs_->client_b_cert, certs_->client_b_key);
  const auto context = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  };
  const auto register_image = [&](v1::Sandbox::Stub* stub, const std::string& guest) {
    grpc::ClientContext ctx;
    context(&ctx);
    v1::RegisterImageRequest req;
    req.set_elf(zerocell::testing::GuestBytes(guest));
    req.set_name(guest);
    v1::RegisterImageResponse resp;
    EXPECT_THAT(stub->RegisterImage(&ctx, req, &resp), IsOk());
    return resp.image().image_id();
  };
  const auto list = [&](v1::Sandbox::Stub* stub) {
    grpc::ClientContext ctx;
    context(&ctx);
    v1::ListImagesResponse resp;
    EXPECT_THAT(stub->ListImages(&ctx, v1::ListImagesRequest(), &resp), IsOk());
    std::vector<std::string> ids;
    for (const v1::Image& image : resp.images()) ids.push_back(image.image_id());
    return ids;
  };
  const auto get = [&](v1::Sandbox::Stub* stub, const std::string& id) {
    grpc::ClientContext ctx;
    context(&ctx);
    v1::GetImageRequest req;
    req.set_image_id(id);
    v1::Image image;
    return stub->GetImage(&ctx, req, &image);
  };
  const auto run = [&](v1::Sandbox::Stub* stub, const std::string& id, const std::string& guest,
                       v1::ExecuteResponse* resp) {
    grpc::ClientContext ctx;
    context(&ctx);
    v1::ExecuteRequest req;
    req.set_image_id(id);
    *req.mutable_manifest() = testing::StdManifest({guest});
    return stub->Execute(&ctx, req, resp);
  };

  const std::string hello = register_image(a.get(), "hello");
  const std::string echo = register_image(b.get(), "echo_args");
  ASSERT_FALSE(hello.empty());
  ASSERT_FALSE(echo.empty());
  EXPECT_THAT(list(a.get()), ::testing::ElementsAre(hello));
  EXPECT_THAT(list(b.get()), ::testing::ElementsAre(echo));
  EXPECT_EQ(get(a.get(), echo).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get(b.get(), hello).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(get(a.get(), hello), IsOk());
  v1::ExecuteResponse resp;
  EXPECT_EQ(run(a.get(), echo, "echo_args", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(run(b.get(), hello, "hello", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_THAT(run(a.get(), hello, "hello", &resp), IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
  EXPECT_THAT(resp.channels(1).output(), HasSubstr("ello"));
  resp.Clear();
  ASSERT_THAT(run(b.get(), echo, "echo_args", &resp), IsOk());
  EXPECT_EQ(resp.outcome(), v1::OUTCOME_EXITED);
}

TEST_F(TlsE2eTest, UnreadableCertificateStopsStartupNamingTheFlag) {
  absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start(
      {"--tls_cert=/nonexistent/zerocell.pem", absl::StrCat("--tls_key=", certs_->server_key)});
  ASSERT_THAT(server, ::testing::Not(IsOk()));
  EXPECT_THAT(server.status().message(), HasSubstr("--tls_cert"));
}

}  // namespace
}  // namespace zerocell::server

// End-to-end: zerocelld answers grpc.health.v1 Check and grpc.reflection.v1alpha requests.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zerocelld_process.h"

using ::zerocell::testing::IsOk;

namespace zerocell::server {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;
using ::zerocell::testing::ZerocelldProcess;

class HealthReflectionE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ZerocelldProcess>> server = ZerocelldProcess::Start({});
    ASSERT_THAT(server, IsOk());
    server_ = server->release();
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    channel_ = nullptr;
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  // Sends each request on one reflection stream and returns the responses in order.
  static std::vector<ServerReflectionResponse> Reflect(
      const std::vector<ServerReflectionRequest>& requests) {
    auto stub = ServerReflection::NewStub(*channel_);
    auto ctx = Context();
    auto stream = stub->ServerReflectionInfo(ctx.get());
    std::vector<ServerReflectionResponse> out;
    for (const ServerReflectionRequest& req : requests) {
      EXPECT_TRUE(stream->Write(req));
      ServerReflectionResponse resp;
      EXPECT_TRUE(stream->Read(&resp));
      out.push_back(std::move(resp));
    }
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_THAT(s, IsOk());
    return out;
  }

  static ZerocelldProcess* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

ZerocelldProcess* HealthReflectionE2eTest::server_ = nullptr;
std::shared_ptr<grpc::Channel>* HealthReflectionE2eTest::channel_ = nullptr;

TEST_F(HealthReflectionE2eTest, HealthCheckIsServingForServerAndSandboxService) {
  auto stub = Health::NewStub(*channel_);
  for (const char* service : {"", "zerocell.v1.Sandbox"}) {
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    auto ctx = Context();
    grpc::Status s = stub->Check(ctx.get(), req, &resp);
    ASSERT_THAT(s, IsOk()) << "\"" << service << "\"";
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING) << "\"" << service << "\"";
  }
  HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  HealthCheckResponse resp;
  auto ctx = Context();
  EXPECT_EQ(stub->Check(ctx.get(), unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthReflectionE2eTest, ReflectionListsTheSandboxService) {
  ServerReflectionRequest list;
  list.set_list_services("*");
  std::vector<ServerReflectionResponse> r = Reflect({list});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].has_list_services_response()) << r[0].ShortDebugString();
  std::vector<std::string> names;
  for (const auto& s : r[0].list_services_response().service()) names.push_back(s.name());
  EXPECT_THAT(names, Contains("zerocell.v1.Sandbox"));
  EXPECT_THAT(names, Contains("grpc.reflection.v1alpha.ServerReflection"));
}

TEST_F(HealthReflectionE2eTest, FileContainingSymbolDescribesTheApi) {
  ServerReflectionRequest by_service, by_message, by_file, missing;
  by_service.set_file_containing_symbol("zerocell.v1.Sandbox");
  by_message.set_file_containing_symbol("zerocell.v1.ExecuteRequest");
  by_file.set_file_by_filename("zerocell/v1/sandbox.proto");
  missing.set_file_containing_symbol("zerocell.v1.NoSuchThing");
  std::vector<ServerReflectionResponse> r = Reflect({by_service, by_message, by_file, missing});
  ASSERT_EQ(r.size(), 4u);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r[i].has_file_descriptor_response()) << i << ": " << r[i].ShortDebugString();
    // Build the returned files into a fresh pool: the API must be usable from them alone.
    google::protobuf::DescriptorPool pool;
    const google::protobuf::FileDescriptor* sandbox_file = nullptr;
    std::vector<google::protobuf::FileDescriptorProto> files;
    for (const std::string& bytes : r[i].file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto fdp;
      ASSERT_TRUE(fdp.ParseFromString(bytes));
      files.push_back(std::move(fdp));
    }
    // Dependencies may come in any order: build until nothing more can be built.
    for (size_t built = 0, round = 0; built < files.size() && round < files.size(); ++round) {
      for (const auto& fdp : files) {
        if (pool.FindFileByName(fdp.name()) != nullptr) continue;
        bool deps_ready = true;
        for (const std::string& dep : fdp.dependency()) {
          deps_ready &= pool.FindFileByName(dep) != nullptr;
        }
        if (!deps_ready) continue;
        const google::protobuf::FileDescriptor* f = pool.BuildFile(fdp);
        ASSERT_NE(f, nullptr) << fdp.name();
        ++built;
        if (fdp.name() == "zerocell/v1/sandbox.proto") sandbox_file = f;
      }
    }
    ASSERT_NE(sandbox_file, nullptr) << i;
    const google::protobuf::MethodDescriptor* execute =
        pool.FindMethodByName("zerocell.v1.Sandbox.Execute");
    ASSERT_NE(execute, nullptr);
    EXPECT_EQ(execute->input_type()->full_name(), "zerocell.v1.ExecuteRequest");
    EXPECT_EQ(execute->output_type()->full_name(), "zerocell.v1.ExecuteResponse");
    EXPECT_NE(pool.FindMethodByName("zerocell.v1.Sandbox.RegisterImage"), nullptr);
  }
  ASSERT_TRUE(r[3].has_error_response()) << r[3].ShortDebugString();
  EXPECT_EQ(r[3].error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace zerocell::server

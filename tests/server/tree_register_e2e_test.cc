// Tree images over real gRPC: RegisterImage with tree_tar, GetImage/ListImages, refusals with the
// refused file's report, Execute refusing a tree id, persistence across a restart.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "api/rpc_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "tests/image/tar_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::TarBuilder;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

std::unique_ptr<v1::Sandbox::Stub> StubFor(const ZerocelldProcess& server) {
  return v1::Sandbox::NewStub(
      grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials()));
}

std::string Lib(const char* path) {
  absl::StatusOr<std::string> bytes = testing::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

grpc::Status Register(v1::Sandbox::Stub& stub, const std::string& tar,
                      v1::RegisterImageResponse* response) {
  grpc::ClientContext ctx;
  v1::RegisterImageRequest request;
  request.set_tree_tar(tar);
  request.set_name("tree");
  return stub.RegisterImage(&ctx, request, response);
}

TEST(TreeRegisterE2eTest, RegistersDescribesPersistsAndRefusesTrees) {
  testing::TempDir dir;
  TarBuilder tar;
  tar.File("usr/lib/libgood.so", Lib(ZEROCELL_TREE_GOOD_LIB))
      .File("bin/hello", testing::GuestBytes("hello"), 0755)
      .Symlink("lib", "usr/lib")
      .File("etc/motd", "hi\n");
  const std::string bytes = tar.bytes();
  const std::string id = image::ImageIdOf(bytes);
  {
    auto server = ZerocelldProcess::Start({"--image_dir=" + dir.path(), "--max_tree_files=20"});
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = StubFor(**server);
    v1::RegisterImageResponse response;
    grpc::Status s = Register(*stub, bytes, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.image().image_id(), id);
    EXPECT_EQ(response.image().kind(), v1::IMAGE_KIND_TREE);
    EXPECT_EQ(response.image().size_bytes(), static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(response.image().tree().file_count(), 3);
    EXPECT_EQ(response.image().tree().elf_count(), 2);
    ASSERT_EQ(response.image().tree().elves_size(), 2);
    EXPECT_EQ(response.image().tree().elves(0).path(), "bin/hello");
    EXPECT_TRUE(response.image().tree().elves(1).shared_object());
    EXPECT_TRUE(response.image().tree().elves(1).validation().accepted());

    // ListImages shows the kind and counts, not every ELF's report.
    grpc::ClientContext list_ctx;
    v1::ListImagesResponse list;
    ASSERT_TRUE(stub->ListImages(&list_ctx, v1::ListImagesRequest(), &list).ok());
    ASSERT_EQ(list.images_size(), 1);
    EXPECT_EQ(list.images(0).kind(), v1::IMAGE_KIND_TREE);
    EXPECT_EQ(list.images(0).tree().elf_count(), 2);
    EXPECT_EQ(list.images(0).tree().elves_size(), 0);

    // A tree is not a program.
    grpc::ClientContext exec_ctx;
    v1::ExecuteRequest exec;
    exec.set_image_id(id);
    exec.mutable_manifest()->add_argv("x");
    v1::ExecuteResponse exec_response;
    s = stub->Execute(&exec_ctx, exec, &exec_response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("file tree image"));

    // A refused ELF: named with its instruction, its report in the details.
    TarBuilder bad;
    bad.File("lib/libsys.so", Lib(ZEROCELL_TREE_INT80_LIB));
    s = Register(*stub, bad.bytes(), &response);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("tree file \"lib/libsys.so\": instruction at file"));
    std::optional<v1::ValidationReport> report = api::RejectionReportOf(s);
    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->tree_path(), "lib/libsys.so");
    EXPECT_EQ(report->rejected_instructions(), 1);

    // --max_tree_files, and exactly one of elf / tree_tar.
    TarBuilder many;
    for (int i = 0; i < 25; ++i) many.File("f" + std::to_string(i), "x");
    s = Register(*stub, many.bytes(), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("tree entry"));
    grpc::ClientContext both_ctx;
    v1::RegisterImageRequest both;
    both.set_elf("x");
    both.set_tree_tar("y");
    s = stub->RegisterImage(&both_ctx, both, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("exactly one"));
  }
  // Preloaded (re-validated) after a restart.
  auto server = ZerocelldProcess::Start({"--image_dir=" + dir.path()});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubFor(**server);
  grpc::ClientContext ctx;
  v1::GetImageRequest get;
  get.set_image_id(id);
  v1::Image image;
  grpc::Status s = stub->GetImage(&ctx, get, &image);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(image.kind(), v1::IMAGE_KIND_TREE);
  EXPECT_EQ(image.tree().elves_size(), 2);
}

}  // namespace
}  // namespace zerocell::server

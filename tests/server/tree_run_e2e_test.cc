// Programs run from mounted file trees over real gRPC: manifest.program_path (static, and
// dynamically linked with the tree's ld.so and libc), a host image with a data tree mounted, the
// batch and its refusals, each naming the field.
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/image_id.h"
#include "tests/image/tar_builder.h"
#include "tests/server/sandbox_requests.h"
#include "tests/testing/files.h"
#include "tests/testing/zerocelld_process.h"
#include "zerocell/v1/sandbox.grpc.pb.h"

namespace zerocell::server {
namespace {

using ::testing::HasSubstr;
using ::zerocell::testing::TarBuilder;
using ::zerocell::testing::ZerocelldProcess;
namespace v1 = ::zerocell::v1;

std::string HostFile(const char* path) {
  absl::StatusOr<std::string> bytes = zerocell::testing::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

class TreeRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = ZerocelldProcess::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
    TarBuilder tar;
    tar.File("bin/hello", zerocell::testing::GuestBytes("hello"), 0755)
        .File("bin/fs_probe", zerocell::testing::GuestBytes("fs_probe"), 0755)
        .Symlink("bin/greet", "hello")
        .File("usr/bin/hello_dyn", zerocell::testing::GuestBytes("elf_hello_dynamic"), 0755)
        .File("lib64/ld-linux-x86-64.so.2", HostFile("/lib64/ld-linux-x86-64.so.2"), 0755)
        .File("lib/x86_64-linux-gnu/libc.so.6", HostFile("/lib/x86_64-linux-gnu/libc.so.6"), 0755)
        .File("etc/motd", "hi\n");
    tree_id_ = Register(tar.bytes());
    TarBuilder data;
    data.File("numbers.txt", "3\n1\n2\n");
    data_id_ = Register(data.bytes());
  }

  std::string Register(const std::string& tar) { return testing::RegisterTree(*stub_, tar); }

  v1::Manifest ByPath(const std::string& path, std::vector<std::string> args = {}) {
    v1::Manifest m = testing::StdManifest({});
    m.clear_argv();
    m.set_program_path(path);
    for (std::string& a : args) m.add_argv(std::move(a));
    v1::Mount* root = m.add_mounts();
    root->set_mountpoint("/");
    root->set_tree_id(tree_id_);
    return m;
  }

  grpc::Status Execute(v1::ExecuteRequest request, v1::ExecuteResponse* response) {
    grpc::ClientContext ctx;
    return stub_->Execute(&ctx, request, response);
  }

  static std::string Stdout(const v1::ExecuteResponse& r) {
    for (const v1::ChannelResult& c : r.channels()) {
      if (c.alias() == "/dev/stdout") return c.output();
    }
    return "<no stdout>";
  }

  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
  std::string tree_id_, data_id_;
};

TEST_F(TreeRunTest, StaticProgramByPathRunsWithArgv0ThePathAndADefaultScratch) {
  v1::ExecuteRequest request;
  *request.mutable_manifest() = ByPath("/bin/greet");  // a symlink to /bin/hello
  v1::ExecuteResponse response;
  ASSERT_TRUE(Execute(request, &response).ok());
  EXPECT_EQ(response.outcome(), v1::OUTCOME_EXITED) << response.detail();
  EXPECT_EQ(Stdout(response), "hello, world\n");
  EXPECT_EQ(response.image_id(), tree_id_);  // the tree holding the program
  EXPECT_EQ(response.scratch().path(), "/tmp");
}

TEST_F(TreeRunTest, DynamicProgramStartsWithTheTreesLoaderAndLibcWarmOrCold) {
  for (int i = 0; i < 3; ++i) {
    v1::ExecuteRequest request;
    *request.mutable_manifest() = ByPath("/usr/bin/hello_dyn");
    v1::ExecuteResponse response;
    ASSERT_TRUE(Execute(request, &response).ok());
    EXPECT_EQ(response.outcome(), v1::OUTCOME_EXITED) << i << ": " << response.detail();
    EXPECT_EQ(Stdout(response), "hello from a static ELF\n") << i;
  }
}

TEST_F(TreeRunTest, HostImageReadsADataTreeMountedAtASubPath) {
  v1::ExecuteRequest request;
  request.set_image(zerocell::testing::GuestBytes("fs_probe"));
  v1::Manifest m = testing::StdManifest({"fs_probe", "read", "/data/numbers.txt"});
  v1::Mount* data = m.add_mounts();
  data->set_mountpoint("/data");
  data->set_tree_id(data_id_);
  *request.mutable_manifest() = m;
  v1::ExecuteResponse response;
  grpc::Status s = Execute(request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.outcome(), v1::OUTCOME_EXITED) << response.detail();
  EXPECT_THAT(Stdout(response), HasSubstr("bytes=6"));
}

TEST_F(TreeRunTest, RefusalsNameTheField) {
  struct Case {
    std::string what;
    v1::ExecuteRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    Case c{"missing path", {}, grpc::NOT_FOUND, "manifest.program_path: \"/bin/nope\""};
    *c.request.mutable_manifest() = ByPath("/bin/nope");
    cases.push_back(std::move(c));
  }
  {
    Case c{"not an ELF", {}, grpc::INVALID_ARGUMENT, "is not an ELF program"};
    *c.request.mutable_manifest() = ByPath("/etc/motd");
    cases.push_back(std::move(c));
  }
  {
    Case c{"both ways", {}, grpc::INVALID_ARGUMENT, "name the program one way"};
    *c.request.mutable_manifest() = ByPath("/bin/hello");
    c.request.set_image_id(tree_id_);
    cases.push_back(std::move(c));
  }
  {
    Case c{"no program", {}, grpc::INVALID_ARGUMENT, "program: set image_id or image"};
    *c.request.mutable_manifest() = testing::StdManifest({"x"});
    cases.push_back(std::move(c));
  }
  {
    Case c{"unknown tree", {}, grpc::NOT_FOUND, "manifest.mounts[0].tree_id"};
    *c.request.mutable_manifest() = ByPath("/bin/hello");
    c.request.mutable_manifest()->mutable_mounts(0)->set_tree_id(
        image::ImageIdOf("never registered"));
    cases.push_back(std::move(c));
  }
  {
    Case c{
        "a program as a tree", {}, grpc::INVALID_ARGUMENT, "is a program image, not a file tree"};
    grpc::ClientContext ctx;
    v1::RegisterImageRequest reg;
    reg.set_elf(zerocell::testing::GuestBytes("hello"));
    v1::RegisterImageResponse registered;
    ASSERT_TRUE(stub_->RegisterImage(&ctx, reg, &registered).ok());
    *c.request.mutable_manifest() = ByPath("/bin/hello");
    c.request.mutable_manifest()->mutable_mounts(0)->set_tree_id(registered.image().image_id());
    cases.push_back(std::move(c));
  }
  {
    Case c{"path without mounts", {}, grpc::INVALID_ARGUMENT, "needs a mounted tree"};
    *c.request.mutable_manifest() = ByPath("/bin/hello");
    c.request.mutable_manifest()->clear_mounts();
    cases.push_back(std::move(c));
  }
  for (const Case& c : cases) {
    v1::ExecuteResponse response;
    grpc::Status s = Execute(c.request, &response);
    EXPECT_EQ(s.error_code(), c.code) << c.what << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.what;
  }
}

TEST_F(TreeRunTest, BatchWithoutAnImageRunsEachRunsProgramPath) {
  grpc::ClientContext ctx;
  v1::ExecuteBatchRequest request;
  *request.add_runs() = ByPath("/bin/hello");
  *request.add_runs() = ByPath("/usr/bin/hello_dyn");
  *request.add_runs() = ByPath("/bin/nope");
  auto reader = stub_->ExecuteBatch(&ctx, request);
  std::map<int, v1::ExecuteBatchResult> results;
  v1::ExecuteBatchResult result;
  while (reader->Read(&result)) results[result.index()] = result;
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(Stdout(results[0].response()), "hello, world\n");
  EXPECT_EQ(Stdout(results[1].response()), "hello from a static ELF\n");
  EXPECT_EQ(results[2].error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(results[2].error_message(), HasSubstr("manifest.program_path"));
}

}  // namespace
}  // namespace zerocell::server

// Debian's python3 from a tree (scripts/make-tree.sh) over real gRPC: the README's json one-liner
// on stdin, a script in a second tree reading stdin and a named channel, and the same output over
// 20 runs with the same seed (hash() of a str, random.random()), another with another seed.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

constexpr char kApp[] = R"(import sys
words = sys.stdin.read().split()
with open("/dev/extra") as f:
    extra = f.read().split()
print(" ".join(sorted(words + extra)))
)";

class PythonTreeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new zerocell::testing::TempDir();
    const char* source = std::getenv("ZEROCELL_SOURCE_DIR");
    const std::string out = dir_->File("python3.tar");
    const std::string command = std::string("bash ") + (source ? source : ".") +
                                "/scripts/make-tree.sh python3 " + out + " >/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    absl::StatusOr<std::string> bytes = zerocell::testing::ReadFile(out);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    tar_ = new std::string(*std::move(bytes));
  }
  static void TearDownTestSuite() {
    delete tar_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(tar_, nullptr) << "scripts/make-tree.sh python3 failed (see above)";
    auto server = ZerocelldProcess::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Sandbox::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
    python_id_ = Register(*tar_);
  }

  std::string Register(const std::string& tar) { return testing::RegisterTree(*stub_, tar); }

  // python3 ARGS... with the python tree at /, stdin holding `input`.
  v1::ExecuteResponse Python(std::vector<std::string> args, const std::string& input,
                             uint64_t seed = 0, v1::Manifest m = {}) {
    m.set_program_path("/usr/bin/python3");
    m.set_timeout_ms(30000);
    m.set_random_seed(seed);
    m.add_argv("/usr/bin/python3");
    for (std::string& a : args) m.add_argv(std::move(a));
    v1::Mount* root = m.add_mounts();
    root->set_mountpoint("/");
    root->set_tree_id(python_id_);
    v1::Channel* in = m.add_channels();
    in->set_alias("/dev/stdin");
    in->set_gets(1000);
    in->set_get_size(1 << 20);
    in->set_initial_data(input);
    v1::ExecuteRequest request;
    *request.mutable_manifest() = std::move(m);
    grpc::ClientContext ctx;
    v1::ExecuteResponse response;
    grpc::Status s = stub_->Execute(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  static std::string Output(const v1::ExecuteResponse& r, const std::string& alias) {
    for (const v1::ChannelResult& c : r.channels()) {
      if (c.alias() == alias) return c.output();
    }
    return "<none>";
  }

  static zerocell::testing::TempDir* dir_;
  static std::string* tar_;
  std::unique_ptr<ZerocelldProcess> server_;
  std::unique_ptr<v1::Sandbox::Stub> stub_;
  std::string python_id_;
};

zerocell::testing::TempDir* PythonTreeTest::dir_ = nullptr;
std::string* PythonTreeTest::tar_ = nullptr;

TEST_F(PythonTreeTest, JsonOneLinerReadsStdin) {
  v1::ExecuteResponse r =
      Python({"-c", "import json,sys; print(json.dumps(sorted(sys.stdin.read().split())))"},
             "pear apple fig\n");
  EXPECT_EQ(r.outcome(), v1::OUTCOME_EXITED) << r.detail() << Output(r, "/dev/stderr");
  EXPECT_EQ(r.exit_code(), 0) << Output(r, "/dev/stderr");
  EXPECT_EQ(Output(r, "/dev/stdout"), "[\"apple\", \"fig\", \"pear\"]\n");
}

TEST_F(PythonTreeTest, ScriptInASecondTreeReadsStdinAndANamedChannel) {
  TarBuilder app;
  app.File("main.py", kApp);
  const std::string app_id = Register(app.bytes());
  v1::Manifest m;
  v1::Mount* mount = m.add_mounts();
  mount->set_mountpoint("/app");
  mount->set_tree_id(app_id);
  v1::Channel* extra = m.add_channels();
  extra->set_alias("/dev/extra");
  extra->set_gets(100);
  extra->set_get_size(4096);
  extra->set_initial_data("kiwi banana");
  v1::ExecuteResponse r = Python({"/app/main.py"}, "pear apple", 0, m);
  EXPECT_EQ(r.exit_code(), 0) << r.detail() << Output(r, "/dev/stderr");
  EXPECT_EQ(Output(r, "/dev/stdout"), "apple banana kiwi pear\n");
}

TEST_F(PythonTreeTest, SameSeedSameHashAndRandomOverTwentyRuns) {
  const std::vector<std::string> program = {
      "-c", "import random; print(hash('zerocell'), random.random(), random.getrandbits(64))"};
  std::set<std::string> outputs;
  for (int i = 0; i < 20; ++i) {
    v1::ExecuteResponse r = Python(program, "", 42);
    ASSERT_EQ(r.exit_code(), 0) << r.detail() << Output(r, "/dev/stderr");
    outputs.insert(Output(r, "/dev/stdout"));
  }
  EXPECT_EQ(outputs.size(), 1u) << "outputs differ across runs with one seed";
  v1::ExecuteResponse other = Python(program, "", 43);
  EXPECT_EQ(outputs.count(Output(other, "/dev/stdout")), 0u) << "the seed changes nothing";
}

}  // namespace
}  // namespace zerocell::server

// Integration tests with real programs: musl, glibc static and musl static-pie hello worlds,
// argv/env passing, and busybox applets compared with the same busybox run on the host.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::ElementsAre;
using testing::FindChannel;
using testing::Lines;
using testing::RunGuest;
using testing::RunHostCommand;
using testing::RunImage;
using testing::StdManifest;
using testing::StdoutOf;

constexpr char kBusybox[] = "/bin/busybox";

class EngineHelloTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineHelloTest, PrintsHelloWorld) {
  ZC_ASSERT_RUN(r, RunGuest(GetParam(), StdManifest({"hello"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(StdoutOf(r), "hello, world\n");
  EXPECT_EQ(testing::StderrOf(r), "");
  const ChannelResult* out = FindChannel(r, "/dev/stdout");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->write_bytes, 13);
  EXPECT_GE(out->writes, 1);
}

// hello: musl static (ET_EXEC); glibc_hello: gcc -static; hello_pie: musl static-pie (ET_DYN);
// glibc_hello_pie: gcc -static-pie.
INSTANTIATE_TEST_SUITE_P(Toolchains, EngineHelloTest,
                         ::testing::Values("hello", "glibc_hello", "hello_pie", "glibc_hello_pie"));

TEST(EngineProgramsTest, ArgvAndEnvArrivePrecisely) {
  ManifestBuilder b = StdManifest({"echo_args", "two words", "", "\xc3\xbcnicode", "--flag=x"});
  b.set_env({"A=1", "B=two words", "EMPTY="});
  ZC_ASSERT_RUN(r, RunGuest("echo_args", b));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_THAT(Lines(StdoutOf(r)),
              ElementsAre("argc=5", "argv[0]=echo_args", "argv[1]=two words",
                          "argv[2]=", "argv[3]=\xc3\xbcnicode", "argv[4]=--flag=x", "env=A=1",
                          "env=B=two words", "env=EMPTY="));
}

TEST(EngineProgramsTest, EmptyEnvironmentByDefault) {
  ZC_ASSERT_RUN(r, RunGuest("echo_args", StdManifest({"prog"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(StdoutOf(r), "argc=1\nargv[0]=prog\n");
}

class EngineBusyboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kBusybox, X_OK) != 0) GTEST_SKIP() << kBusybox << " is not installed";
    absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromFile(kBusybox);
    ASSERT_THAT(image, IsOk());
    image_ = *image;
    for (int i = 0; i < 500; ++i) {
      absl::StrAppend(&input_, (i * 7919) % 1000, " banana", i % 7, " alpha\tbeta ",
                      std::string(static_cast<size_t>(i % 5), 'a'), "\n");
    }
  }

  // Runs the applet `argv[0]` on `input` in the sandbox; expects a clean exit.
  std::string RunApplet(std::vector<std::string> argv, const std::string& input) {
    ManifestBuilder b = StdManifest(std::move(argv), input);
    b.set_timeout(absl::Seconds(5));
    absl::StatusOr<Result> r = RunImage(*image_, b);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return "";
    }
    EXPECT_EQ(r->outcome, Outcome::kExited) << Describe(*r);
    EXPECT_EQ(r->exit_code, 0) << Describe(*r);
    return StdoutOf(*r);
  }

  // Runs the same applet with the host's busybox.
  std::string RunOnHost(const std::string& args, const std::string& input) {
    absl::StatusOr<std::string> out = RunHostCommand(absl::StrCat(kBusybox, " ", args), input);
    EXPECT_THAT(out, IsOk());
    return out.ok() ? *out : "";
  }

  std::shared_ptr<const Image> image_;
  std::string input_;
};

TEST_F(EngineBusyboxTest, Sort) {
  std::string got = RunApplet({"sort"}, input_);
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(got, RunOnHost("sort", input_));
}

TEST_F(EngineBusyboxTest, Wc) {
  std::string got = RunApplet({"wc"}, input_);
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(got, RunOnHost("wc", input_));
}

TEST_F(EngineBusyboxTest, Sha256sum) {
  EXPECT_EQ(RunApplet({"sha256sum"}, input_), testing::Sha256Hex(input_) + "  -\n");
}

TEST_F(EngineBusyboxTest, AwkPrintsFirstFields) {
  std::string got = RunApplet({"awk", "{print $1}"}, input_);
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(got, RunOnHost("awk '{print $1}'", input_));
}

TEST_F(EngineBusyboxTest, SedSubstitutes) {
  std::string got = RunApplet({"sed", "s/a/x/"}, input_);
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(got, RunOnHost("sed s/a/x/", input_));
}

TEST_F(EngineBusyboxTest, GzipRoundTripsThroughHostGunzip) {
  std::string gz = RunApplet({"gzip", "-c"}, input_);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(gz.substr(0, 2), "\x1f\x8b");
  EXPECT_LT(gz.size(), input_.size());
  EXPECT_EQ(RunOnHost("gunzip -c", gz), input_);
  EXPECT_EQ(RunApplet({"gzip", "-c"}, input_), gz) << "gzip output must be reproducible";
}

}  // namespace
}  // namespace zerocell::sandbox

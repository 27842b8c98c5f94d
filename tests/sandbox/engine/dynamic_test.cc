// Dynamically linked programs: the loader maps the program and its interpreter (ld.so) at fixed
// addresses and starts the interpreter, which relocates the program and jumps to its entry.
#include <unistd.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/engine.h"
#include "sandbox/image.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/result.h"
#include "tests/sandbox/engine/test_util.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox {
namespace {

using testing::Describe;
using ::testing::HasSubstr;
using testing::StdManifest;
using testing::StdoutOf;
using zerocell::testing::IsOk;
using zerocell::testing::StatusIs;

// The toolchain's interpreter, the one dyn_nolibc names in its PT_INTERP. Only its bytes are
// used: the engine reads it as an image, the guest never sees a host path.
constexpr char kInterpreter[] = "/lib64/ld-linux-x86-64.so.2";

class DynamicProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(interp_, Image::FromFile(kInterpreter));
    ASSERT_OK_AND_ASSIGN(program_bytes_, ReadImageFile(zerocell::testing::GuestPath("dyn_nolibc")));
  }
  std::shared_ptr<const Image> interp_;
  std::string program_bytes_;
};

TEST_F(DynamicProgramTest, InterpreterRelocatesAndStartsTheProgram) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Image> image,
                       Image::DynamicFromBytes(program_bytes_, interp_));
  EXPECT_EQ(image->layout().interpreter, "/lib64/ld-linux-x86-64.so.2");
  ZC_ASSERT_RUN(r, testing::RunImage(*image, StdManifest({"dyn"})));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  // AT_BASE is the fixed interpreter base on every run and host; AT_ENTRY is the program's own.
  EXPECT_EQ(StdoutOf(r),
            "hello from a dynamically linked program\nAT_BASE=0x0000600000000000 "
            "AT_ENTRY_IS_START=yes\n");
  static_assert(launch::kInterpBase == 0x600000000000);
}

TEST_F(DynamicProgramTest, WarmAndColdRunsAgree) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Image> image,
                       Image::DynamicFromBytes(program_bytes_, interp_));
  ASSERT_OK_AND_ASSIGN(const Engine* engine, testing::SharedEngine());
  ASSERT_OK_AND_ASSIGN(Manifest manifest, StdManifest({"dyn"}).Build());
  ASSERT_OK_AND_ASSIGN(Result cold, engine->Run(*image, manifest));
  ASSERT_OK_AND_ASSIGN(auto parked, engine->Prestart(*image, absl::Now() + absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(Result warm, engine->RunParked(std::move(parked), *image, manifest, {}));
  ASSERT_EQ(warm.outcome, Outcome::kExited) << Describe(warm);
  EXPECT_EQ(StdoutOf(warm), StdoutOf(cold));
}

TEST_F(DynamicProgramTest, ProgramImagesOnTheirOwnStayStatic) {
  EXPECT_THAT(Image::FromBytes(program_bytes_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("PT_INTERP requests /lib64/ld-linux-x86-64.so.2")));
}

TEST_F(DynamicProgramTest, RefusesBadPairs) {
  EXPECT_THAT(Image::DynamicFromBytes(program_bytes_, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("interpreter")));
  ASSERT_OK_AND_ASSIGN(std::string static_bytes,
                       ReadImageFile(zerocell::testing::GuestPath("glibc_hello")));
  EXPECT_THAT(Image::DynamicFromBytes(static_bytes, interp_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no PT_INTERP")));
  // A fixed-address executable cannot be the interpreter: it would sit on the program.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Image> not_pie, Image::FromBytes(static_bytes));
  EXPECT_THAT(Image::DynamicFromBytes(program_bytes_, not_pie),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a self-contained position-independent ELF")));
}

}  // namespace
}  // namespace zerocell::sandbox

// Dynamically linked programs: the loader maps the program and its interpreter (ld.so) at fixed
// addresses and starts the interpreter, which relocates the program and jumps to its entry.
#include <unistd.h>

#include <memory>
#include <string>

#include "base/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/engine.h"
#include "sandbox/fs/executable_files.h"
#include "sandbox/fs/file_tree.h"
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

// A glibc program linked the usual way: ld.so (mapped by the loader) finds libc.so.6 in the
// mounted tree (opened through the guest file system, injected as a sealed memfd) and maps its
// code, which the run allows only inside the pages admission recorded for that file.
class GlibcFromTreeTest : public DynamicProgramTest {
 protected:
  void SetUp() override {
    DynamicProgramTest::SetUp();
    ASSERT_OK_AND_ASSIGN(std::string ld, ReadImageFile(kInterpreter));
    ASSERT_OK_AND_ASSIGN(libc_, ReadImageFile("/lib/x86_64-linux-gnu/libc.so.6"));
    ASSERT_OK_AND_ASSIGN(hello_, ReadImageFile(zerocell::testing::GuestPath("elf_hello_dynamic")));
    fs::FileTreeBuilder b;
    ASSERT_THAT(b.AddFile("lib64/ld-linux-x86-64.so.2", 0755, ld), IsOk());
    ASSERT_THAT(b.AddFile("lib/x86_64-linux-gnu/libc.so.6", 0755, libc_), IsOk());
    ASSERT_OK_AND_ASSIGN(tree_, std::move(b).Build());
  }

  // What admission records for libc.so.6: its executable segments' pages.
  std::shared_ptr<const fs::ExecutableFiles> LibcCode() {
    auto code = std::make_shared<fs::ExecutableFiles>();
    absl::StatusOr<elf::ElfLayout> layout = elf::ParseElf(libc_, elf::ElfRole::kTreeMember);
    EXPECT_THAT(layout, IsOk());
    const fs::FileTree::NodeId node = *tree_->Find("lib/x86_64-linux-gnu/libc.so.6");
    for (const elf::LoadSegment& seg : layout->segments) {
      if (!seg.exec) continue;
      code->Add(node, seg.offset & ~uint64_t{4095},
                (seg.offset + seg.filesz + 4095) & ~uint64_t{4095});
    }
    EXPECT_EQ(code->size(), 1u);
    return code;
  }

  absl::StatusOr<Result> Run(std::shared_ptr<const fs::ExecutableFiles> code) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Image> image, Image::DynamicFromBytes(hello_, interp_));
    ASSIGN_OR_RETURN(const Engine* engine, testing::SharedEngine());
    ASSIGN_OR_RETURN(Manifest manifest, StdManifest({"hello"}).add_mount({"/", "tree"}).Build());
    RunOptions options;
    options.trees = {tree_};
    options.executable = {std::move(code)};
    return engine->Run(*image, manifest, options);
  }

  std::string libc_, hello_;
  std::shared_ptr<const fs::FileTree> tree_;
};

TEST_F(GlibcFromTreeTest, LoadsLibcFromTheTreeAndRuns) {
  ASSERT_OK_AND_ASSIGN(Result r, Run(LibcCode()));
  ASSERT_EQ(r.outcome, Outcome::kExited) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(StdoutOf(r), "hello from a static ELF\n");
}

TEST_F(GlibcFromTreeTest, CodeAdmissionDidNotRecordIsNeverMappedExecutable) {
  ASSERT_OK_AND_ASSIGN(Result r, Run(std::make_shared<fs::ExecutableFiles>()));
  EXPECT_EQ(r.outcome, Outcome::kPolicyViolation) << Describe(r);
  EXPECT_EQ(r.violation.syscall, "mmap");
  EXPECT_EQ(StdoutOf(r), "");
}

}  // namespace
}  // namespace zerocell::sandbox

// Tests Image: the sealed memfd, its hash, and the errors of FromFile.
#include "sandbox/image.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/elf/elf_builder.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::zerocell::testing::TempDir;

// sha256sum of ElfBuilder().Build(), computed outside this code base.
constexpr char kMinimalElfSha256[] =
    "fd106459ac93578c6dfed8ded028db259027fa58000391f137e4c372b7242d90";

std::string ReadFd(int fd, size_t size) {
  std::string out(size + 1, '\0');
  const ssize_t n = pread(fd, out.data(), out.size(), 0);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

TEST(ImageTest, FromBytesHashesAndCopiesTheBytes) {
  const std::string elf = elf::testing::ElfBuilder().Build();
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromBytes(elf);
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ((*image)->sha256_hex(), kMinimalElfSha256);
  EXPECT_EQ((*image)->size_bytes(), elf.size());
  EXPECT_EQ((*image)->layout().entry, elf::testing::kEntry);
  EXPECT_EQ(ReadFd((*image)->memfd(), elf.size()), elf);
  struct stat st {};
  ASSERT_EQ(fstat((*image)->memfd(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), elf.size());
}

TEST(ImageTest, DifferentBytesHashDifferently) {
  elf::testing::ElfBuilder b;
  b.Put(0x1f00, "x");
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromBytes(b.Build());
  ASSERT_THAT(image, IsOk());
  EXPECT_NE((*image)->sha256_hex(), kMinimalElfSha256);
  EXPECT_EQ((*image)->sha256_hex().size(), 64u);
}

TEST(ImageTest, MemfdIsSealedAndCloseOnExec) {
  absl::StatusOr<std::shared_ptr<const Image>> image =
      Image::FromBytes(elf::testing::ElfBuilder().Build());
  ASSERT_THAT(image, IsOk());
  const int fd = (*image)->memfd();
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  // The seals hold: no write, no resize, no removing them.
  EXPECT_EQ(pwrite(fd, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(ftruncate(fd, 1), -1);
  EXPECT_EQ(ftruncate(fd, 1 << 20), -1);
  EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1);
  EXPECT_EQ(ReadFd(fd, 0x2000), elf::testing::ElfBuilder().Build());
}

TEST(ImageTest, PartialCodePagesAreCleanedAfterTheBytes) {
  // The executable segment ends mid-page: its last page, with the bytes after it zeroed, follows
  // the ELF bytes in the memfd, where clean_pages() says; the ELF bytes are unchanged.
  elf::testing::ElfBuilder b;
  b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = 0x1009;
  b.Put(0x1800, "hidden");
  const std::string elf = b.Build();
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromBytes(elf);
  ASSERT_THAT(image, IsOk());
  ASSERT_EQ((*image)->clean_pages().size(), 1u);
  EXPECT_EQ((*image)->clean_pages()[0].head, 0u);
  EXPECT_EQ((*image)->clean_pages()[0].tail, 0x2000u);
  EXPECT_EQ((*image)->size_bytes(), elf.size());
  const std::string all = ReadFd((*image)->memfd(), 0x3000);
  ASSERT_EQ(all.size(), 0x3000u);
  EXPECT_EQ(all.substr(0, elf.size()), elf);
  EXPECT_EQ(all.substr(0x2000, 9), elf.substr(0x1000, 9));
  EXPECT_EQ(all.substr(0x2009), std::string(0x1000 - 9, '\0'));
}

TEST(ImageTest, FromBytesRefusesBadElf) {
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromBytes("plain text");
  ASSERT_THAT(image, ::testing::Not(IsOk()));
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(image.status().message()), StartsWith("not an ELF file"));
}

TEST(ImageTest, FromFileReadsTheWholeFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.Write("prog", elf::testing::ElfBuilder().Build());
  absl::StatusOr<std::shared_ptr<const Image>> image = Image::FromFile(path);
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ((*image)->sha256_hex(), kMinimalElfSha256);
  EXPECT_EQ((*image)->size_bytes(), elf::testing::kFileSize);
}

TEST(ImageTest, FromFileOfARealBinaryMatchesFromBytes) {
  const std::string path = "/bin/busybox";
  std::ifstream in(path, std::ios::binary);
  if (!in) GTEST_SKIP() << "busybox-static missing";
  std::ostringstream bytes;
  bytes << in.rdbuf();
  absl::StatusOr<std::shared_ptr<const Image>> from_file = Image::FromFile(path);
  absl::StatusOr<std::shared_ptr<const Image>> from_bytes = Image::FromBytes(bytes.str());
  ASSERT_THAT(from_file, IsOk());
  ASSERT_THAT(from_bytes, IsOk());
  EXPECT_EQ((*from_file)->sha256_hex(), (*from_bytes)->sha256_hex());
  EXPECT_EQ((*from_file)->size_bytes(), bytes.str().size());
  // The memfd starts with the file's bytes (cleaned code pages may follow them).
  EXPECT_EQ(ReadFd((*from_file)->memfd(), bytes.str().size()).substr(0, bytes.str().size()),
            bytes.str());
}

TEST(ImageTest, FromFileErrorsNameThePath) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());

  const std::string missing = dir.path() + "/missing";
  absl::Status status = Image::FromFile(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(missing + ": "));

  const std::string text = dir.Write("notes.txt", "just some text\n");
  status = Image::FromFile(text + "/below").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;

  status = Image::FromFile(dir.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.message(), dir.path() + ": is a directory, not an image file");

  status = Image::FromFile(text).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), text + ": not an ELF file: it does not start with \\x7fELF");

  elf::testing::ElfBuilder b;
  b.eh.e_machine = 3;
  status = Image::FromFile(dir.Write("i386", b.Build())).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("/i386: e_machine 3 (i386)"));
}

TEST(ImageTest, FromFileRefusesOversizedFilesBeforeReading) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.Write("huge", elf::testing::ElfBuilder().Build());
  ASSERT_EQ(truncate(path.c_str(), elf::kMaxImageBytes + 1), 0);  // sparse: costs no disk
  absl::Status status = Image::FromFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(),
            path + ": image is 536870913 bytes, above the limit of 536870912 bytes");
}

TEST(ImageTest, FromFileRefusesFifosWithoutBlocking) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  absl::Status status = Image::FromFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.message(), path + ": not a regular file, cannot be an image");
}

TEST(ImageTest, FromFileReportsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root bypasses file permissions";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.Write("secret", elf::testing::ElfBuilder().Build());
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  absl::Status status = Image::FromFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(path + ": "));
}

}  // namespace
}  // namespace zerocell::sandbox

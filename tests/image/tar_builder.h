// Test archives written with libarchive's write API: ustar, pax and GNU tar, any entry type.
#ifndef ZEROCELL_TESTS_IMAGE_TAR_BUILDER_H_
#define ZEROCELL_TESTS_IMAGE_TAR_BUILDER_H_

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace zerocell::testing {

// Entries are added in call order; bytes() closes the archive and returns it.
class TarBuilder {
 public:
  enum class Format { kUstar, kPax, kGnu };

  explicit TarBuilder(Format format = Format::kPax) : a_(archive_write_new()) {
    switch (format) {
      case Format::kUstar:
        archive_write_set_format_ustar(a_);
        break;
      case Format::kPax:
        archive_write_set_format_pax_restricted(a_);
        break;
      case Format::kGnu:
        archive_write_set_format_gnutar(a_);
        break;
    }
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, this, nullptr, &TarBuilder::Append, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  TarBuilder& File(std::string_view path, std::string_view content, int mode = 0644,
                   int64_t mtime = 1700000000) {
    archive_entry* e = Entry(path, AE_IFREG | mode, mtime);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    Write(e, content);
    return *this;
  }
  TarBuilder& Dir(std::string_view path, int mode = 0755, int64_t mtime = 1700000000) {
    Write(Entry(path, AE_IFDIR | mode, mtime), "");
    return *this;
  }
  TarBuilder& Symlink(std::string_view path, std::string_view target) {
    archive_entry* e = Entry(path, AE_IFLNK | 0777, 1700000000);
    archive_entry_set_symlink(e, std::string(target).c_str());
    Write(e, "");
    return *this;
  }
  TarBuilder& HardLink(std::string_view path, std::string_view existing) {
    archive_entry* e = Entry(path, AE_IFREG | 0644, 1700000000);
    archive_entry_set_hardlink(e, std::string(existing).c_str());
    archive_entry_set_size(e, 0);
    Write(e, "");
    return *this;
  }
  // A FIFO, device or socket (type: AE_IFIFO, AE_IFCHR, ...).
  TarBuilder& Special(std::string_view path, unsigned type) {
    archive_entry* e = Entry(path, type | 0644, 1700000000);
    Write(e, "");
    return *this;
  }

  std::string bytes() {
    archive_write_close(a_);
    return out_;
  }

 private:
  archive_entry* Entry(std::string_view path, unsigned mode, int64_t mtime) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, std::string(path).c_str());
    archive_entry_set_mode(e, mode);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    return e;
  }
  void Write(archive_entry* e, std::string_view content) {
    EXPECT_EQ(archive_write_header(a_, e), ARCHIVE_OK) << archive_error_string(a_);
    if (!content.empty()) {
      EXPECT_EQ(archive_write_data(a_, content.data(), content.size()),
                static_cast<la_ssize_t>(content.size()));
    }
    archive_entry_free(e);
  }
  static la_ssize_t Append(archive*, void* self, const void* buf, size_t len) {
    static_cast<TarBuilder*>(self)->out_.append(static_cast<const char*>(buf), len);
    return static_cast<la_ssize_t>(len);
  }

  archive* a_;
  std::string out_;
};

}  // namespace zerocell::testing

#endif  // ZEROCELL_TESTS_IMAGE_TAR_BUILDER_H_

// Mapped reads survive a file that shrinks underneath them (issue "Fail closed": Kill).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "io/mapped_file.hpp"

namespace picklewall::detail {
namespace {

std::string temporary_file(std::size_t bytes) {
  char path[] = "/tmp/picklewall-mapped-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  const std::string block(4096, 'x');
  for (std::size_t written = 0; written < bytes; written += block.size())
    EXPECT_EQ(::write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
  ::close(fd);
  return path;
}

TEST(MappedFile, ReadingPastAFileTruncatedUnderneathSeesZerosAndIsNoticed) {
  const std::string path = temporary_file(1 << 20);
  auto mapped = MappedFile::open(path);
  ASSERT_TRUE(mapped.ok());
  const auto bytes = mapped.value().bytes();
  ASSERT_EQ(bytes.size(), 1u << 20);
  EXPECT_FALSE(mapped.value().changed());
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  // Without the handler this read is SIGBUS and the test binary dies.
  std::uint64_t sum = 0;
  for (std::size_t at = 0; at < bytes.size(); at += 4096) sum += bytes[at];
  EXPECT_EQ(sum, static_cast<std::uint64_t>('x'));  // the first page is still the file; the rest reads as zeros
  EXPECT_TRUE(mapped.value().changed());
  ::unlink(path.c_str());
}

TEST(MappedFile, ARewriteOfTheSameSizeIsNoticed) {
  const std::string path = temporary_file(8192);
  auto mapped = MappedFile::open(path);
  ASSERT_TRUE(mapped.ok());
  ::usleep(10'000);  // a later mtime
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "y", 1, 0), 1);
  ::close(fd);
  EXPECT_TRUE(mapped.value().changed());
  ::unlink(path.c_str());
}

TEST(MappedFile, AFifoIsRefusedWithoutBlocking) {
  const std::string path = "/tmp/picklewall-fifo-" + std::to_string(::getpid());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto mapped = MappedFile::open(path);  // an open without O_NONBLOCK would wait here for a writer, forever
  EXPECT_FALSE(mapped.ok());
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace picklewall::detail

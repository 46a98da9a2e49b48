#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

namespace picklewall::detail {
namespace {

std::string directory_of(const std::string& path) {
  const std::filesystem::path target(path);
  return target.has_parent_path() ? target.parent_path().string() : std::string(".");
}

}  // namespace

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  const std::filesystem::path target(path);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    return Error{ErrorCode::invalid_argument, "cannot write to " + path + ": not a file name"};
  const int directory = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory < 0)
    return Error{ErrorCode::io, "cannot create " + path + ": its directory cannot be opened (" + std::strerror(errno) + ")"};
  std::random_device random;
  const std::string temporary = "." + name + ".picklewall-" + std::to_string(random()) + ".tmp";
  const int fd = ::openat(directory, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    ::close(directory);
    return Error{ErrorCode::io, "cannot create " + (std::filesystem::path(directory_of(path)) / temporary).string() +
                                    ": " + std::strerror(err)};
  }
  return AtomicFile(path, directory, temporary, name, fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), directory_(other.directory_), temporary_(std::move(other.temporary_)),
      name_(std::move(other.name_)), fd_(other.fd_), writer_(other.writer_), committed_(other.committed_) {
  other.fd_ = -1;
  other.directory_ = -1;
  other.committed_ = true;  // the moved-from object owns nothing to clean up
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && directory_ >= 0) ::unlinkat(directory_, temporary_.c_str(), 0);
  if (directory_ >= 0) ::close(directory_);
}

Status AtomicFile::fail(const char* what) {
  const int err = errno;
  return Error{ErrorCode::io, std::string(what) + " " + path_ + ": " + std::strerror(err)};
}

Status AtomicFile::write(std::span<const std::uint8_t> bytes) { return writer_.write(bytes); }

Status AtomicFile::write_at(std::span<const std::uint8_t> bytes, std::uint64_t at) {
  return writer_.write_at(bytes, at);
}

Status AtomicFile::copy_from(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t at) {
  return writer_.copy_from(fd, offset, length, at);
}

Status AtomicFile::commit() {
  if (::fsync(fd_) != 0) return fail("cannot sync");
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) return fail("cannot close");
  if (::renameat(directory_, temporary_.c_str(), directory_, name_.c_str()) != 0) return fail("cannot rename into");
  committed_ = true;
  ::fsync(directory_);  // make the rename itself durable
  return Ok{};
}

}  // namespace picklewall::detail

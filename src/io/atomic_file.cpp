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

constexpr std::size_t fallback_chunk = 8u << 20;

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
      name_(std::move(other.name_)), fd_(other.fd_), size_(other.size_), committed_(other.committed_) {
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

Status AtomicFile::write(std::span<const std::uint8_t> bytes) { return write_at(bytes, size_); }

Status AtomicFile::write_at(std::span<const std::uint8_t> bytes, std::uint64_t at) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::pwrite(fd_, bytes.data() + written, bytes.size() - written, static_cast<off_t>(at + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  size_ = std::max(size_, at + bytes.size());
  return Ok{};
}

Status AtomicFile::copy_from(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t at) {
  auto in_offset = static_cast<off_t>(offset);
  auto out_offset = static_cast<off_t>(at);
  std::uint64_t left = length;
  while (left > 0) {
    const ssize_t n = ::copy_file_range(fd, &in_offset, fd_, &out_offset, left, 0);
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return Error{ErrorCode::io, "the source ended early while writing " + path_};
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) return fail("cannot copy into");
    // Where the kernel cannot copy between these files, a bounded buffer does it.
    std::vector<std::uint8_t> buffer(std::min<std::uint64_t>(left, fallback_chunk));
    while (left > 0) {
      const ssize_t got = ::pread(fd, buffer.data(), std::min<std::uint64_t>(left, buffer.size()), in_offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return got == 0 ? Status(Error{ErrorCode::io, "the source ended early while writing " + path_})
                                     : fail("cannot read the source for");
      if (Status status = write_at({buffer.data(), static_cast<std::size_t>(got)}, static_cast<std::uint64_t>(out_offset));
          !status)
        return status;
      in_offset += got;
      out_offset += got;
      left -= static_cast<std::uint64_t>(got);
    }
  }
  // Start writing these pages back now (without waiting), so the disk works while the next range is copied and
  // commit()'s fsync has little left to wait for.
  ::sync_file_range(fd_, static_cast<off_t>(at), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
  size_ = std::max(size_, at + length);
  return Ok{};
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

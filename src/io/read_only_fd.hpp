// A file descriptor opened read-only and closed on scope exit: inputs are never opened for writing.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/types.h>

#include "picklewall/result.hpp"

namespace picklewall::detail {

class ReadOnlyFd {
 public:
  explicit ReadOnlyFd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~ReadOnlyFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadOnlyFd(const ReadOnlyFd&) = delete;
  ReadOnlyFd& operator=(const ReadOnlyFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// pread until `length` bytes are in, retrying interrupted and short reads.
inline Status pread_all(int fd, std::uint8_t* into, std::uint64_t length, std::uint64_t offset) {
  while (length > 0) {
    const ssize_t got = ::pread(fd, into, length, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Error{ErrorCode::io, got == 0 ? "file ended early" : std::strerror(errno)};
    into += got;
    offset += static_cast<std::uint64_t>(got);
    length -= static_cast<std::uint64_t>(got);
  }
  return Ok{};
}

}  // namespace picklewall::detail

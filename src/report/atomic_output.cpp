#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "picklewall/report.hpp"

namespace picklewall {

Status write_file_atomically(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::random_device random;
  std::string temporary_name = ".";
  temporary_name.append(target.filename().string()).append(".picklewall-").append(std::to_string(random())).append(".tmp");
  const std::string temporary = (directory / temporary_name).string();
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Error{ErrorCode::io, "cannot create " + temporary + ": " + std::strerror(errno)};
  auto fail = [&](const char* what) -> Status {
    int err = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return Error{ErrorCode::io, std::string(what) + " " + path + ": " + std::strerror(err)};
  };
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    ::unlink(temporary.c_str());
    return Error{ErrorCode::io, "cannot close " + temporary + ": " + std::strerror(errno)};
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temporary.c_str());
    return Error{ErrorCode::io, "cannot rename into " + path + ": " + std::strerror(err)};
  }
  // Make the rename itself durable.
  int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd >= 0) {
    ::fsync(directory_fd);
    ::close(directory_fd);
  }
  return Ok{};
}

}  // namespace picklewall

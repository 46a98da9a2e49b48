#include "io/mapped_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace picklewall::detail {

Result<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    return Error{err == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                 "cannot open " + path + ": " + std::strerror(err)};
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int err = errno;
    ::close(fd);
    return Error{ErrorCode::io, "cannot stat " + path + ": " + std::strerror(err)};
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Error{ErrorCode::invalid_argument, path + " is not a regular file"};
  }
  MappedFile file;
  file.size_ = static_cast<std::uint64_t>(info.st_size);
  if (file.size_ > 0) {
    void* address = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Error{ErrorCode::io, "cannot map " + path + ": " + std::strerror(err)};
    }
    // Pickles are read front to back; tell the kernel so read-ahead helps.
    ::madvise(address, file.size_, MADV_SEQUENTIAL);
    file.data_ = static_cast<const std::uint8_t*>(address);
  }
  ::close(fd);
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace picklewall::detail

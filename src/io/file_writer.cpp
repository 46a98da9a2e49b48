#include "io/file_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace picklewall::detail {
namespace {

constexpr std::size_t fallback_chunk = 8u << 20;

}  // namespace

Status FileWriter::fail(const char* what) const {
  const int err = errno;
  return Error{ErrorCode::io, std::string(what) + " " + name_ + ": " + std::strerror(err)};
}

Status FileWriter::write_at(std::span<const std::uint8_t> bytes, std::uint64_t at) {
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

Status FileWriter::copy_from(int from, std::uint64_t offset, std::uint64_t length, std::uint64_t at) {
  auto in_offset = static_cast<off_t>(offset);
  auto out_offset = static_cast<off_t>(at);
  std::uint64_t left = length;
  while (left > 0) {
    const ssize_t n = ::copy_file_range(from, &in_offset, fd_, &out_offset, left, 0);
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return Error{ErrorCode::io, "the source ended early while writing " + name_};
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) return fail("cannot copy into");
    // Where the kernel cannot copy between these files, a bounded buffer does it.
    std::vector<std::uint8_t> buffer(std::min<std::uint64_t>(left, fallback_chunk));
    while (left > 0) {
      const ssize_t got = ::pread(from, buffer.data(), std::min<std::uint64_t>(left, buffer.size()), in_offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return got == 0 ? Status(Error{ErrorCode::io, "the source ended early while writing " + name_})
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
  // the final fsync has little left to wait for.
  ::sync_file_range(fd_, static_cast<off_t>(at), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
  size_ = std::max(size_, at + length);
  return Ok{};
}

}  // namespace picklewall::detail

// Writing into an open file, positioned: every write says where, so a file is filled in any order (a
// safetensors header first, its tensors in source order), and bytes that already sit in another file are
// copied by the kernel (copy_file_range) without passing through this process.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "picklewall/result.hpp"

namespace picklewall::detail {

class FileWriter {
 public:
  // `fd` stays the caller's; `name` is what errors call the file.
  FileWriter(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  // Appends at the end of what was written so far.
  Status write(std::span<const std::uint8_t> bytes) { return write_at(bytes, size_); }
  // Writes at `at` (the file grows to cover it).
  Status write_at(std::span<const std::uint8_t> bytes, std::uint64_t at);
  // Copies `length` bytes at `offset` of the open file `from` to `at` in the kernel, falling back to bounded
  // read/write where the kernel cannot copy between the two files.
  Status copy_from(int from, std::uint64_t offset, std::uint64_t length, std::uint64_t at);
  Status copy_from(int from, std::uint64_t offset, std::uint64_t length) { return copy_from(from, offset, length, size_); }
  std::uint64_t size() const { return size_; }
  int fd() const { return fd_; }

 private:
  Status fail(const char* what) const;
  int fd_;
  std::string name_;
  std::uint64_t size_ = 0;
};

}  // namespace picklewall::detail

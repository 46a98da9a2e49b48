// A read-only view of a whole file. Files are mapped (never copied) so that tensor bytes cost nothing unless
// they are touched; the file is opened O_RDONLY and never modified.
//
// A mapping outlives the file's size: when another process truncates the file while it is mapped, reading past
// the new end raises SIGBUS, which would kill the scan (and the caller's Python interpreter with it). A SIGBUS
// handler puts zero pages in place of the vanished part of any mapping made here and lets the read go on; the
// mapping remembers it, and changed() tells the scan that what it read is not the file, so its report says so.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string>

#include "picklewall/result.hpp"

namespace picklewall::detail {

class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  // Maps the file `fd` is open on (a descriptor handed over by a supervisor); `fd` stays the caller's.
  static Result<MappedFile> from_descriptor(int fd, const std::string& name);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  // The open file description (read-only), e.g. to hash or copy without touching the mapping.
  int descriptor() const { return fd_; }
  // True when the file shrank under the mapping (a read fell past its end) or its size, mtime or ctime are not
  // what they were when it was mapped: what was read is not one consistent version of the file.
  bool changed() const;

 private:
  MappedFile() = default;
  static Result<MappedFile> map(int fd, const std::string& name);
  void release();
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
  int fd_ = -1;
  int guard_slot_ = -1;  // this mapping's slot in the SIGBUS handler's table, or -1
  struct stat opened_ {};
};

}  // namespace picklewall::detail

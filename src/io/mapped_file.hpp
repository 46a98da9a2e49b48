// A read-only view of a whole file. Files are mapped (never copied) so that tensor bytes cost nothing unless
// they are touched; the file is opened O_RDONLY and never modified.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "picklewall/result.hpp"

namespace picklewall::detail {

class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  void release();
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace picklewall::detail

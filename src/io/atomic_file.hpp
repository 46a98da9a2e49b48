// An output file that appears whole or not at all: bytes go to a temporary file beside the target, which is
// fsynced and renamed over it on commit(); destroyed without commit(), the temporary file is removed. Reports
// and converted models are written this way, so a crash or a refused input never leaves a partial output.
// Everything after create() happens relative to the target's directory, held open, so a directory renamed
// meanwhile cannot redirect the rename or the clean-up.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/file_writer.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Appends at the end of what was written so far.
  Status write(std::span<const std::uint8_t> bytes);
  // Writes at `at` (the file grows to cover it).
  Status write_at(std::span<const std::uint8_t> bytes, std::uint64_t at);
  // Copies `length` bytes at `offset` of the open file `fd` to `at` in the kernel (copy_file_range), without
  // passing them through this process's memory; falls back to bounded read/write where the kernel cannot.
  Status copy_from(int fd, std::uint64_t offset, std::uint64_t length, std::uint64_t at);
  Status copy_from(int fd, std::uint64_t offset, std::uint64_t length) {
    return copy_from(fd, offset, length, writer_.size());
  }
  Status commit();
  std::uint64_t size() const { return writer_.size(); }

 private:
  AtomicFile(std::string path, int directory, std::string temporary, std::string name, int fd)
      : path_(std::move(path)), directory_(directory), temporary_(std::move(temporary)), name_(std::move(name)), fd_(fd),
        writer_(fd, path_) {}
  Status fail(const char* what);
  std::string path_;
  int directory_ = -1;
  std::string temporary_;  // names inside directory_
  std::string name_;
  int fd_ = -1;
  FileWriter writer_;
  bool committed_ = false;
};

}  // namespace picklewall::detail

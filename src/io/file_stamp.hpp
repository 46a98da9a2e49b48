// What stat(2) says identifies a file's current content without reading it: which file (device, inode), and
// when and how it last changed (size, mtime, ctime). The walker uses the identity to scan hard links and
// Hugging Face snapshot links once; the verdict cache uses the whole stamp to skip re-hashing unchanged files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace picklewall::detail {

struct FileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of the file `path` names (symlinks followed); nothing when it cannot be stat'ed.
std::optional<FileStamp> stamp_of(const std::string& path);
// The stamp of the file `fd` is open on (which a rename of its path cannot change).
std::optional<FileStamp> stamp_of_descriptor(int fd);

}  // namespace picklewall::detail

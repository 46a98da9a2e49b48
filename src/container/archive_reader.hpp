// Compressed streams (gzip, bzip2, xz, lzma, zstd, lz4) and archives (tar, 7z) through libarchive, with the
// decompression-bomb budgets of Limits. Everything is read from memory; nothing is written to disk.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

struct ArchiveMember {
  std::string name;
  std::vector<std::uint8_t> data;
  bool truncated_by_limit = false;  // the member was larger than the budget; data holds the first part
  bool truncated_by_time = false;   // decompressing it outlasted the time budget; data holds the first part
  bool encrypted = false;           // could not be read without a password
};

struct ArchiveContents {
  std::vector<ArchiveMember> members;
  bool member_limit_reached = false;
  std::string error;  // set when reading stopped early (corrupt data); members read before it are kept
};

// Reads a tar or 7z archive (any libarchive filter on top) into members.
Result<ArchiveContents> read_archive(std::span<const std::uint8_t> bytes, const Limits& limits);

// Decompresses a single compressed stream (gzip, bzip2, xz, lzma, zstd, lz4) into one member named "".
Result<ArchiveContents> decompress_stream(std::span<const std::uint8_t> bytes, const Limits& limits);

// Decompresses a raw zlib stream (joblib's default compressor), with the same budgets.
Result<ArchiveContents> decompress_zlib(std::span<const std::uint8_t> bytes, const Limits& limits);

}  // namespace picklewall::detail

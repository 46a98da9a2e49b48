// Compressed streams (gzip, bzip2, xz, lzma, zstd, lz4) and archives (tar, 7z) through libarchive, with the
// decompression-bomb budgets of Limits. Everything is read from memory; nothing is written to disk, and no
// program is ever started: libarchive is given only the filters it decodes with a linked library (it would run
// lrzip, lzop, grzip, or any filter whose library it lacks, as an external program).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/budget.hpp"
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
  bool out_of_time = false;  // the file's budget ran out between members; the rest were not read
  std::string error;  // set when reading stopped early (corrupt data); members read before it are kept
};

// Reads a tar or 7z archive (any libarchive filter on top) into members.
Result<ArchiveContents> read_archive(std::span<const std::uint8_t> bytes, const Limits& limits, const Budget& budget);

// Decompresses a single compressed stream (gzip, bzip2, xz, lzma, zstd, lz4) into one member named "".
Result<ArchiveContents> decompress_stream(std::span<const std::uint8_t> bytes, const Limits& limits,
                                          const Budget& budget);

// Decompresses a raw zlib stream (joblib's default compressor), with the same budgets.
Result<ArchiveContents> decompress_zlib(std::span<const std::uint8_t> bytes, const Limits& limits,
                                        const Budget& budget);

// The compression filters libarchive decodes in this process (its names: "gzip", "bzip2", "xz", ...), the only
// ones it is given. A filter whose library libarchive was built without is left out, never run as a program.
const std::vector<std::string>& in_process_filters();

}  // namespace picklewall::detail

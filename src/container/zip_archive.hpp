// A zip reader at least as tolerant as PyTorch's (miniz): the central directory is the authority for names and
// sizes, the local header only says where the data starts, CRCs and flags do not stop it. Everything another
// tool would trip over is reported as an anomaly instead of stopping the scan.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/budget.hpp"
#include "picklewall/finding.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

struct ZipEntry {
  std::string name;        // from the central directory
  std::string local_name;  // from the local header
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
  std::uint64_t data_offset = 0;  // valid when `readable`
  bool readable = false;          // local header found and data range inside the file
};

struct ZipArchive {
  std::vector<ZipEntry> entries;
};

// Reads the central directory. Anomalies go to `findings` with `member_prefix` before member names.
// `file_mapped`: `bytes` is a read-only file mapping whose pages can be released as local headers are read
// (see io/page_release.hpp), so a checkpoint of thousands of records costs no more memory than one of ten.
// The file's budget is read as the directory is walked; running out ends the walk with a limit finding.
Result<ZipArchive> read_zip(std::span<const std::uint8_t> bytes, const Limits& limits, const Budget& budget,
                            const std::string& member_prefix, std::vector<Finding>& findings,
                            bool file_mapped = false);

// The entry's uncompressed bytes: a view into `bytes` when stored, inflated into `storage` when deflated.
// The CRC is checked for entries that are read; a mismatch is reported, not fatal (torch ignores it).
Result<std::span<const std::uint8_t>> read_zip_entry(std::span<const std::uint8_t> bytes, const ZipEntry& entry,
                                                      const Limits& limits, const Budget& budget,
                                                      std::vector<std::uint8_t>& storage);

// True when `data` (the entry's uncompressed bytes) matches the CRC-32 in the central directory.
bool zip_crc_matches(const ZipEntry& entry, std::span<const std::uint8_t> data);

}  // namespace picklewall::detail

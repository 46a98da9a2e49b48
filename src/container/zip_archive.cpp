#include "container/zip_archive.hpp"

#include <algorithm>
#include <unordered_set>

#include <zlib.h>

#include "io/bounded_inflate.hpp"
#include "io/bounded_unzip.hpp"
#include "io/checked.hpp"
#include "io/page_release.hpp"

namespace picklewall::detail {
namespace {

// Local headers read between releases of a file mapping's pages (each may map a large folio).
constexpr std::size_t pages_released_every = 8;

constexpr std::uint32_t end_signature = 0x06054b50;
constexpr std::uint32_t zip64_end_signature = 0x06064b50;
constexpr std::uint32_t zip64_locator_signature = 0x07064b50;
constexpr std::uint32_t central_signature = 0x02014b50;
constexpr std::uint32_t local_signature = 0x04034b50;
constexpr std::uint64_t end_record_size = 22;
constexpr std::uint64_t central_record_size = 46;
constexpr std::uint64_t local_record_size = 30;

std::uint64_t u16(std::span<const std::uint8_t> b, std::uint64_t at) { return load_le(b.data() + at, 2); }
std::uint64_t u32(std::span<const std::uint8_t> b, std::uint64_t at) { return load_le(b.data() + at, 4); }
std::uint64_t u64(std::span<const std::uint8_t> b, std::uint64_t at) { return load_le(b.data() + at, 8); }

Error malformed(const std::string& what) { return Error{ErrorCode::malformed, what}; }

struct EndRecord {
  std::uint64_t offset = 0;  // of the (classic) end record
  std::uint64_t entries = 0;
  std::uint64_t directory_size = 0;
  std::uint64_t directory_offset = 0;
  std::uint64_t end_of_archive = 0;  // byte after the end record and its comment
  std::uint64_t directory_end_expected = 0;  // where the directory should end (end record or zip64 record)
};

Result<EndRecord> find_end_record(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < end_record_size) return malformed("zip too short for an end-of-central-directory record");
  const std::uint64_t last = bytes.size() - end_record_size;
  const std::uint64_t first = last > 65535 ? last - 65535 : 0;
  for (std::uint64_t at = last + 1; at-- > first;) {
    if (u32(bytes, at) != end_signature) continue;
    EndRecord record;
    record.offset = at;
    record.entries = u16(bytes, at + 10);
    record.directory_size = u32(bytes, at + 12);
    record.directory_offset = u32(bytes, at + 16);
    record.end_of_archive = at + end_record_size + u16(bytes, at + 20);
    record.directory_end_expected = at;
    const bool needs_zip64 = record.entries == 0xFFFF || record.directory_size == 0xFFFFFFFF ||
                             record.directory_offset == 0xFFFFFFFF;
    if (at >= 20 && u32(bytes, at - 20) == zip64_locator_signature) {
      const std::uint64_t zip64_offset = u64(bytes, at - 20 + 8);
      if (!range_fits(zip64_offset, 56, bytes.size()) || u32(bytes, zip64_offset) != zip64_end_signature)
        return malformed("ZIP64 locator points outside the file");
      record.entries = u64(bytes, zip64_offset + 32);
      record.directory_size = u64(bytes, zip64_offset + 40);
      record.directory_offset = u64(bytes, zip64_offset + 48);
      record.directory_end_expected = zip64_offset;
    } else if (needs_zip64) {
      return malformed("zip end record needs ZIP64 but has no ZIP64 locator");
    }
    return record;
  }
  return malformed("no end-of-central-directory record");
}

// Applies the ZIP64 extended-information extra field (id 1): only fields saturated in the record are present.
void apply_zip64_extra(std::span<const std::uint8_t> extra, ZipEntry& entry) {
  std::uint64_t at = 0;
  while (at + 4 <= extra.size()) {
    const std::uint64_t id = u16(extra, at), size = u16(extra, at + 2);
    if (!range_fits(at + 4, size, extra.size())) return;
    if (id == 1) {
      std::uint64_t field = at + 4;
      const std::uint64_t end = at + 4 + size;
      auto take = [&](std::uint64_t& value) {
        if (value == 0xFFFFFFFF && field + 8 <= end) {
          value = u64(extra, field);
          field += 8;
        }
      };
      take(entry.uncompressed_size);
      take(entry.compressed_size);
      take(entry.local_header_offset);
      return;
    }
    at += 4 + size;
  }
}

}  // namespace

Result<ZipArchive> read_zip(std::span<const std::uint8_t> bytes, const Limits& limits, const Budget& budget,
                            const std::string& member_prefix, std::vector<Finding>& findings,
                            bool file_mapped) {
  auto end = find_end_record(bytes);
  if (!end) return end.error();
  const EndRecord& record = end.value();
  auto anomaly = [&](const char* rule, Severity severity, const std::string& member, std::uint64_t offset,
                     std::string message) {
    findings.push_back(Finding{rule, severity, std::move(message), member_prefix + member, offset, {}});
  };
  if (record.end_of_archive < bytes.size())
    anomaly("zip.data-after-end", Severity::suspicious, "", record.end_of_archive,
            std::to_string(bytes.size() - record.end_of_archive) +
                " byte(s) after the zip end record: a polyglot or hidden payload sits outside the archive");
  if (!range_fits(record.directory_offset, record.directory_size, bytes.size()))
    return malformed("zip central directory lies outside the file");
  if (record.entries > limits.max_archive_members) {
    anomaly("limit.max_archive_members", Severity::suspicious, "", record.directory_offset,
            "archive declares " + std::to_string(record.entries) + " members, more than max_archive_members");
  }

  ZipArchive archive;
  std::uint64_t at = record.directory_offset;
  const std::uint64_t directory_end = record.directory_offset + record.directory_size;
  while (at + 4 <= directory_end && u32(bytes, at) == central_signature) {
    if (archive.entries.size() >= limits.max_archive_members) break;
    if (archive.entries.size() % 1024 == 1023 && budget.expired()) {
      anomaly("limit.max_seconds_per_file", Severity::suspicious, "", at,
              "the file's time budget ran out while its central directory was read; the remaining members were "
              "not scanned");
      break;
    }
    if (!range_fits(at, central_record_size, directory_end)) return malformed("truncated central directory record");
    ZipEntry entry;
    entry.flags = static_cast<std::uint16_t>(u16(bytes, at + 8));
    entry.method = static_cast<std::uint16_t>(u16(bytes, at + 10));
    entry.crc32 = static_cast<std::uint32_t>(u32(bytes, at + 16));
    entry.compressed_size = u32(bytes, at + 20);
    entry.uncompressed_size = u32(bytes, at + 24);
    const std::uint64_t name_length = u16(bytes, at + 28), extra_length = u16(bytes, at + 30),
                        comment_length = u16(bytes, at + 32);
    entry.local_header_offset = u32(bytes, at + 42);
    const std::uint64_t record_length = central_record_size + name_length + extra_length + comment_length;
    if (!range_fits(at, record_length, directory_end)) return malformed("central directory record overruns the directory");
    entry.name.assign(reinterpret_cast<const char*>(bytes.data() + at + central_record_size), name_length);
    apply_zip64_extra(bytes.subspan(at + central_record_size + name_length, extra_length), entry);
    at += record_length;

    // The local header only tells where the data starts (its own name and extra lengths), as in miniz.
    const std::uint64_t local = entry.local_header_offset;
    if (range_fits(local, local_record_size, bytes.size()) && u32(bytes, local) == local_signature) {
      const std::uint64_t local_name_length = u16(bytes, local + 26), local_extra_length = u16(bytes, local + 28);
      if (range_fits(local + local_record_size, local_name_length, bytes.size()))
        entry.local_name.assign(reinterpret_cast<const char*>(bytes.data() + local + local_record_size), local_name_length);
      entry.data_offset = local + local_record_size + local_name_length + local_extra_length;
      entry.readable = range_fits(entry.data_offset, entry.compressed_size, bytes.size());
    }
    if (!entry.readable) {
      anomaly("zip.unreadable-member", Severity::suspicious, entry.name, local,
              "member's local header or data lies outside the file; it could not be scanned");
    } else if (entry.local_name != entry.name) {
      anomaly("zip.name-mismatch", Severity::suspicious, entry.name, local,
              "local header names this member '" + entry.local_name +
                  "' but the central directory says otherwise; tools disagree on what the archive holds");
    }
    if (entry.flags & 0x0001)
      anomaly("zip.encrypted-flag", Severity::suspicious, entry.name, local,
              "member is flagged encrypted; many scanners refuse it while PyTorch reads stored bytes anyway");
    if (entry.flags & 0x0060)
      anomaly("zip.unusual-flags", Severity::suspicious, entry.name, local,
              "member sets general-purpose flag bits 0x20/0x40 (patched data / strong encryption), which make "
              "Python's zipfile refuse it: a known way to blind scanners");
    archive.entries.push_back(std::move(entry));
    if (file_mapped && archive.entries.size() % pages_released_every == 0) release_mapped_pages(bytes);
  }
  if (file_mapped) release_mapped_pages(bytes);
  if (archive.entries.size() != record.entries && archive.entries.size() < limits.max_archive_members)
    anomaly("zip.entry-count-mismatch", Severity::suspicious, "", record.offset,
            "end record declares " + std::to_string(record.entries) + " members but the central directory holds " +
                std::to_string(archive.entries.size()));

  std::unordered_set<std::string> names;
  for (const ZipEntry& entry : archive.entries)
    if (!names.insert(entry.name).second)
      anomaly("zip.duplicate-name", Severity::suspicious, entry.name, entry.local_header_offset,
              "more than one member has this name; which one a loader reads depends on the loader");

  std::vector<const ZipEntry*> by_offset;
  for (const ZipEntry& entry : archive.entries)
    if (entry.readable) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->local_header_offset < b->local_header_offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const ZipEntry& previous = *by_offset[i - 1];
    if (by_offset[i]->local_header_offset < previous.data_offset + previous.compressed_size)
      anomaly("zip.overlapping-members", Severity::suspicious, by_offset[i]->name, by_offset[i]->local_header_offset,
              "member overlaps '" + previous.name + "': the same bytes are read as two members");
  }
  return archive;
}

Result<std::span<const std::uint8_t>> read_zip_entry(std::span<const std::uint8_t> bytes, const ZipEntry& entry,
                                                      const Limits& limits, const Budget& budget,
                                                      std::vector<std::uint8_t>& storage) {
  if (!entry.readable) return malformed("member data lies outside the file");
  auto compressed = checked_subspan(bytes, entry.data_offset, entry.compressed_size);
  if (!compressed) return malformed("member data lies outside the file");
  if (entry.method == 0) return *compressed;
  // Python's zipfile (numpy.load of an .npz, and any tool built on it) reads deflate, bzip2 and LZMA members.
  if (entry.method != 8 && entry.method != 12 && entry.method != 14)
    return Error{ErrorCode::unsupported, "compression method " + std::to_string(entry.method) + " is not supported"};

  const std::uint64_t cap = decompression_cap(compressed->size(), limits);
  const InflateStatus status = entry.method == 8    ? inflate_bounded(*compressed, true, cap, storage, budget)
                               : entry.method == 12 ? bunzip_bounded(*compressed, cap, storage, budget)
                                                    : unlzma_zip_bounded(*compressed, cap, storage, budget);
  switch (status) {
    case InflateStatus::complete:
      return std::span<const std::uint8_t>(storage.data(), storage.size());
    case InflateStatus::over_budget:
      return Error{ErrorCode::limit_exceeded,
                   "member inflates beyond " + std::to_string(cap) + " bytes (decompression bomb limit)"};
    case InflateStatus::out_of_time:
      return Error{ErrorCode::limit_exceeded, "member takes longer to inflate than the time budget allows"};
    case InflateStatus::truncated:
      return malformed("compressed data is truncated");
    case InflateStatus::corrupt:
      break;
  }
  return malformed("compressed data is corrupt");
}

bool zip_crc_matches(const ZipEntry& entry, std::span<const std::uint8_t> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::uint64_t done = 0;
  while (done < data.size()) {
    const auto chunk = static_cast<uInt>(std::min<std::uint64_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, data.data() + done, chunk);
    done += chunk;
  }
  return static_cast<std::uint32_t>(crc) == entry.crc32;
}

}  // namespace picklewall::detail

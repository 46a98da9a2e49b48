#include "container/archive_reader.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>

#include "io/bounded_inflate.hpp"

namespace picklewall::detail {
namespace {

using ArchivePtr = std::unique_ptr<struct archive, decltype(&archive_read_free)>;

// The filters picklewall needs (the compressors joblib, tar and 7z archives use). Each is registered only if
// libarchive decodes it itself: a registration that returns ARCHIVE_WARN means "found no library, will run the
// external program", and is never made on a reader that sees hostile bytes.
struct FilterSupport {
  const char* name;
  int (*enable)(struct archive*);
};
constexpr FilterSupport wanted_filters[] = {
    {"gzip", archive_read_support_filter_gzip}, {"bzip2", archive_read_support_filter_bzip2},
    {"xz", archive_read_support_filter_xz},     {"lzma", archive_read_support_filter_lzma},
    {"zstd", archive_read_support_filter_zstd}, {"lz4", archive_read_support_filter_lz4},
};

const std::vector<const FilterSupport*>& usable_filters() {
  static const std::vector<const FilterSupport*> usable = [] {
    std::vector<const FilterSupport*> found;
    for (const FilterSupport& filter : wanted_filters) {
      // A scratch reader that never opens anything: it only tells how libarchive would decode this filter.
      ArchivePtr probe(archive_read_new(), &archive_read_free);
      if (probe && filter.enable(probe.get()) == ARCHIVE_OK) found.push_back(&filter);
    }
    return found;
  }();
  return usable;
}

// Reads the current entry's data, stopping at `cap` bytes or when the file's budget runs out.
bool read_entry_data(struct archive* reader, std::uint64_t cap, const Budget& budget, ArchiveMember& member,
                     std::string& error) {
  std::vector<std::uint8_t> chunk(1 << 16);
  for (std::uint64_t round = 1;; ++round) {
    if (round % 64 == 0 && budget.expired()) {  // every 4 MiB of output
      member.truncated_by_time = true;
      return true;
    }
    const la_ssize_t n = archive_read_data(reader, chunk.data(), chunk.size());
    if (n == 0) return true;
    if (n < 0) {
      error = archive_error_string(reader) ? archive_error_string(reader) : "archive data is corrupt";
      return false;
    }
    const std::uint64_t room = cap - member.data.size();
    if (static_cast<std::uint64_t>(n) > room) {
      member.data.insert(member.data.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(room));
      member.truncated_by_limit = true;
      return true;
    }
    member.data.insert(member.data.end(), chunk.begin(), chunk.begin() + n);
  }
}

Result<ArchiveContents> read_with(std::span<const std::uint8_t> bytes, const Limits& limits, const Budget& budget,
                                  bool raw_stream) {
  ArchivePtr reader(archive_read_new(), &archive_read_free);
  if (!reader) return Error{ErrorCode::io, "libarchive initialisation failed"};
  for (const FilterSupport* filter : usable_filters())
    if (filter->enable(reader.get()) != ARCHIVE_OK) return Error{ErrorCode::io, "libarchive refused a filter"};
  if (raw_stream) {
    archive_read_support_format_raw(reader.get());
  } else {
    archive_read_support_format_tar(reader.get());
    archive_read_support_format_7zip(reader.get());
  }
  if (archive_read_open_memory(reader.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return Error{ErrorCode::malformed, std::string("cannot open archive: ") +
                                           (archive_error_string(reader.get()) ? archive_error_string(reader.get()) : "unknown format")};
  ArchiveContents contents;
  // One budget for the whole archive as well as per member: a thousand members of 1 GiB is still a bomb.
  std::uint64_t total_cap = decompression_cap(bytes.size(), limits);
  struct archive_entry* entry = nullptr;
  for (std::uint64_t headers = 1;; ++headers) {
    // Headers of entries that hold no data (directories, links) cost time too: the budget is read for them.
    if (headers % 256 == 0 && budget.expired()) {
      contents.out_of_time = true;
      break;
    }
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status < ARCHIVE_WARN) {
      contents.error = archive_error_string(reader.get()) ? archive_error_string(reader.get()) : "corrupt archive header";
      break;
    }
    if (contents.members.size() >= limits.max_archive_members) {
      contents.member_limit_reached = true;
      break;
    }
    ArchiveMember member;
    const char* name = archive_entry_pathname(entry);
    member.name = name ? name : "";
    if (archive_entry_filetype(entry) != AE_IFREG && !raw_stream) continue;  // directories, links, devices
    if (archive_entry_is_encrypted(entry)) {
      member.encrypted = true;
      contents.members.push_back(std::move(member));
      continue;
    }
    const std::uint64_t cap = std::min(limits.max_decompressed_bytes, total_cap);
    if (!read_entry_data(reader.get(), cap, budget, member, contents.error)) {
      contents.members.push_back(std::move(member));
      break;
    }
    total_cap -= std::min<std::uint64_t>(total_cap, member.data.size());
    const bool out_of_time = member.truncated_by_time;
    contents.members.push_back(std::move(member));
    if (out_of_time) break;
  }
  if (raw_stream && contents.members.empty() && contents.error.empty())
    return Error{ErrorCode::malformed, "compressed stream holds no data"};
  return contents;
}

}  // namespace

const std::vector<std::string>& in_process_filters() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const FilterSupport* filter : usable_filters()) out.emplace_back(filter->name);
    return out;
  }();
  return names;
}

Result<ArchiveContents> read_archive(std::span<const std::uint8_t> bytes, const Limits& limits, const Budget& budget) {
  return read_with(bytes, limits, budget, false);
}

Result<ArchiveContents> decompress_stream(std::span<const std::uint8_t> bytes, const Limits& limits,
                                          const Budget& budget) {
  return read_with(bytes, limits, budget, true);
}

Result<ArchiveContents> decompress_zlib(std::span<const std::uint8_t> bytes, const Limits& limits,
                                        const Budget& budget) {
  ArchiveContents contents;
  contents.members.emplace_back();
  ArchiveMember& member = contents.members.back();
  switch (inflate_bounded(bytes, false, decompression_cap(bytes.size(), limits), member.data,
                          budget)) {
    case InflateStatus::complete: break;
    case InflateStatus::over_budget: member.truncated_by_limit = true; break;
    case InflateStatus::out_of_time: member.truncated_by_time = true; break;
    case InflateStatus::truncated: contents.error = "zlib stream is truncated"; break;
    case InflateStatus::corrupt: contents.error = "zlib data is corrupt"; break;
  }
  return contents;
}

}  // namespace picklewall::detail

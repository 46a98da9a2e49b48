// Dropping this process's mappings of file pages it has finished reading. The kernel maps page-cache pages in
// whole large folios (a fault on a cached file maps up to megabytes), so touching a few bytes of each tensor
// record of a cached checkpoint would cost a folio each: resident memory growing with the number of records.
// Only for read-only file mappings: the pages stay in the page cache and fault back in if touched again.
#pragma once

#include <cstdint>
#include <span>

namespace picklewall::detail {

void release_mapped_pages(std::span<const std::uint8_t> mapped_region);

}  // namespace picklewall::detail

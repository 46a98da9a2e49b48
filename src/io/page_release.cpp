#include "io/page_release.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace picklewall::detail {

void release_mapped_pages(std::span<const std::uint8_t> mapped_region) {
  if (mapped_region.empty()) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(mapped_region.data()) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(mapped_region.data() + mapped_region.size());
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace picklewall::detail

// Allocator for the few arrays that grow with the input (graph nodes, memo, VM stack). Large blocks come
// straight from mmap with a transparent-huge-page hint: a 100 MB pickle builds hundreds of MB of graph, and
// with 4 KiB pages a third of the scan time went to page faults. Small blocks use the ordinary heap.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace picklewall::detail {

template <class T>
class BigArrayAllocator {
 public:
  using value_type = T;
  static constexpr std::size_t mmap_threshold = 4u << 20;

  BigArrayAllocator() = default;
  template <class U>
  BigArrayAllocator(const BigArrayAllocator<U>&) noexcept {}

  T* allocate(std::size_t count) {
    if (count > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = count * sizeof(T);
    if (bytes < mmap_threshold) {
      void* block = std::malloc(bytes);
      if (block == nullptr) throw std::bad_alloc();
      return static_cast<T*>(block);
    }
    void* block = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (block == MAP_FAILED) throw std::bad_alloc();
    ::madvise(block, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(block);
  }

  void deallocate(T* block, std::size_t count) noexcept {
    const std::size_t bytes = count * sizeof(T);
    if (bytes < mmap_threshold) std::free(block);
    else ::munmap(block, bytes);
  }

  template <class U>
  bool operator==(const BigArrayAllocator<U>&) const noexcept { return true; }
};

}  // namespace picklewall::detail

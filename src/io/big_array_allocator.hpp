// Allocator for the few arrays that grow with the input (graph nodes, memo, VM stack). Large blocks come
// straight from mmap with a transparent-huge-page hint: a 100 MB pickle builds hundreds of MB of graph, and
// with 4 KiB pages a third of the scan time went to page faults. Small blocks use the ordinary heap.
#pragma once

#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace picklewall::detail {

// Big blocks a thread freed, kept for its next pickle while a BigArrayReuse scope is open on that thread (a batch
// worker scanning file after file). Fresh anonymous memory is zeroed by the kernel on first touch, which was a
// fifth of the time of a scan of an opcode-dense pickle; reused blocks skip that. What stays resident is what
// the thread's previous pickles touched, which the memory budget (Limits::max_memory_per_file) bounds, and only
// until the scope closes: a caller's own thread (a Python program calling scan) keeps nothing afterwards.
// Big blocks are mapped in power-of-two sizes, so a kept block serves any later request of its size class.
class FreedBlocks {
 public:
  ~FreedBlocks() { release_all(); }
  // A kept block of exactly `bytes` (a size class), removed from the cache; nullptr when there is none.
  void* take(std::size_t bytes) {
    for (Block& block : blocks_) {
      if (block.address == nullptr || block.bytes != bytes) continue;
      void* address = block.address;
      block = Block{};
      return address;
    }
    return nullptr;
  }
  // Keeps the block while reuse is on (when full, unmapping the oldest kept one to make room); unmaps it
  // otherwise.
  void give_back(void* address, std::size_t bytes) {
    if (reuse_scopes_ == 0) {
      ::munmap(address, bytes);
      return;
    }
    Block& slot = blocks_[next_++ % blocks_.size()];
    if (slot.address != nullptr) ::munmap(slot.address, slot.bytes);
    slot = Block{address, bytes};
  }
  void open_scope() { ++reuse_scopes_; }
  void close_scope() {
    if (--reuse_scopes_ == 0) release_all();
  }

 private:
  void release_all() {
    for (Block& block : blocks_) {
      if (block.address != nullptr) ::munmap(block.address, block.bytes);
      block = Block{};
    }
  }
  struct Block {
    void* address = nullptr;
    std::size_t bytes = 0;
  };
  std::array<Block, 6> blocks_{};  // the arrays of one pickle machine, with room to spare
  std::size_t next_ = 0;
  int reuse_scopes_ = 0;
};

inline FreedBlocks& freed_blocks() {
  thread_local FreedBlocks blocks;
  return blocks;
}

// While one is alive, big arrays freed on this thread are kept for the next pickle scanned on it.
class BigArrayReuse {
 public:
  BigArrayReuse() { freed_blocks().open_scope(); }
  ~BigArrayReuse() { freed_blocks().close_scope(); }
  BigArrayReuse(const BigArrayReuse&) = delete;
  BigArrayReuse& operator=(const BigArrayReuse&) = delete;
};

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
    const std::size_t mapped = size_class(bytes);
    if (void* kept = freed_blocks().take(mapped)) return static_cast<T*>(kept);
    void* block = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (block == MAP_FAILED) throw std::bad_alloc();
    ::madvise(block, mapped, MADV_HUGEPAGE);
    return static_cast<T*>(block);
  }

  void deallocate(T* block, std::size_t count) noexcept {
    const std::size_t bytes = count * sizeof(T);
    if (bytes < mmap_threshold) std::free(block);
    else freed_blocks().give_back(block, size_class(bytes));
  }

  template <class U>
  bool operator==(const BigArrayAllocator<U>&) const noexcept { return true; }

 private:
  // The power of two at or above `bytes`: address space only (MAP_NORESERVE), pages are touched as arrays fill.
  static std::size_t size_class(std::size_t bytes) {
    std::size_t size = mmap_threshold;
    while (size < bytes) size *= 2;
    return size;
  }
};

}  // namespace picklewall::detail

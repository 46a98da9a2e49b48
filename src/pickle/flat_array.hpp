// The VM stack and the memo: arrays of trivially copyable values pushed tens of millions of times per file.
// std::vector's push_back carries its reallocation path with it and the compiler would not inline it into the
// dispatch loop (a fifth of a scan's time went to the call); here the common case is three instructions and
// growing is a separate, out-of-line call. Memory comes from BigArrayAllocator (huge pages, reuse).
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "io/big_array_allocator.hpp"

namespace picklewall::detail {

template <class T>
class FlatArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  FlatArray() = default;
  FlatArray(const FlatArray&) = delete;
  FlatArray& operator=(const FlatArray&) = delete;
  ~FlatArray() {
    if (data_ != nullptr) BigArrayAllocator<T>().deallocate(data_, capacity_);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  [[gnu::always_inline]] void push_back(const T& value) {
    if (size_ == capacity_) [[unlikely]] grow(size_ + 1);
    data_[size_++] = value;
  }
  void pop_back() { --size_; }
  // Shrinking keeps the memory; growing fills the new slots with `fill`.
  void resize(std::size_t size, const T& fill = T()) {
    if (size > capacity_) grow(size);
    for (std::size_t i = size_; i < size; ++i) data_[i] = fill;
    size_ = size;
  }
  void reserve(std::size_t capacity) {
    if (capacity > capacity_) grow(capacity);
  }

 private:
  [[gnu::noinline]] void grow(std::size_t needed) {
    std::size_t capacity = capacity_ < 16 ? 16 : capacity_ * 2;
    if (capacity < needed) capacity = needed;
    T* data = BigArrayAllocator<T>().allocate(capacity);
    if (size_ != 0) std::memcpy(static_cast<void*>(data), data_, size_ * sizeof(T));
    if (data_ != nullptr) BigArrayAllocator<T>().deallocate(data_, capacity_);
    data_ = data;
    capacity_ = capacity;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace picklewall::detail

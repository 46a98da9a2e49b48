// The one place where lengths and offsets read from a file are turned into ranges. Every size an attacker
// controls passes through here: compare the size first, then the range, so nothing can wrap around.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace picklewall::detail {

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
constexpr bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// The sub-span [offset, offset + length) or nothing when it does not fit.
inline std::optional<std::span<const std::uint8_t>> checked_subspan(std::span<const std::uint8_t> bytes,
                                                                   std::uint64_t offset, std::uint64_t length) {
  if (!range_fits(offset, length, bytes.size())) return std::nullopt;
  return bytes.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
}

inline std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

inline std::uint64_t load_le(const std::uint8_t* p, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// An IEEE 754 double stored big-endian (pickle's BINFLOAT).
inline double load_be_double(const std::uint8_t* p) {
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace picklewall::detail

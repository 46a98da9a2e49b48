// CBOR from another process (a worker's answers, the verdict cache's rows) decoded without trusting it: nesting
// is bounded, since nlohmann's reader recurses once per level (a frame of a million one-byte arrays would
// overflow the stack), and every failure is a discarded value, never an exception (the reader still throws on a
// declared size it cannot hold, even with exceptions turned off).
#pragma once

#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace picklewall::detail {

// Deeper than anything picklewall writes (a report is five levels), far shallower than a stack.
inline constexpr std::size_t max_cbor_depth = 64;

// The value, or a discarded one (`is_discarded()`) when the bytes are not one whole CBOR value within the depth.
nlohmann::json parse_bounded_cbor(const std::uint8_t* first, const std::uint8_t* last,
                                  std::size_t max_depth = max_cbor_depth);

}  // namespace picklewall::detail

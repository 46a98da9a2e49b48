#include <type_traits>

#include "picklewall/limits.hpp"

namespace picklewall {
namespace {

template <class T>
constexpr LimitInfo limit_row(std::string_view name, LimitUnit unit, std::string_view description, T Limits::*field) {
  if constexpr (std::is_same_v<T, double>) {
    return LimitInfo{name, unit, description, nullptr, field};
  } else {
    return LimitInfo{name, unit, description, field, nullptr};
  }
}

constexpr LimitInfo limits[] = {
#define PICKLEWALL_LIMIT_ROW(name, type, value, unit, description) \
  limit_row<type>(#name, LimitUnit::unit, description, &Limits::name),
    PICKLEWALL_LIMITS(PICKLEWALL_LIMIT_ROW)
#undef PICKLEWALL_LIMIT_ROW
};

}  // namespace

std::span<const LimitInfo> limit_table() { return limits; }

}  // namespace picklewall

// Whether this build runs under AddressSanitizer's runtime. Sanitizer builds are for testing, and their runtime
// needs what a release build never does (see the uses: the sandbox's clone and ptrace, the workers' memory bound).
#pragma once

namespace picklewall::detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitizer_runtime = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool sanitizer_runtime = true;
#else
inline constexpr bool sanitizer_runtime = false;
#endif
#else
inline constexpr bool sanitizer_runtime = false;
#endif

}  // namespace picklewall::detail

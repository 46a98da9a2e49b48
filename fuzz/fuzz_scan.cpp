// Whole-pipeline target: sniffing, containers, the pickle decoder and symbolic machine, analysis, and all three
// report renderers over whatever bytes arrive.
#include <cstdint>

#include "fuzz_support.hpp"
#include "picklewall/report.hpp"
#include "picklewall/scan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const picklewall::Scanner scanner = [] {
    picklewall::ScanOptions options;
    options.limits = picklewall::fuzz::fuzz_limits();
    return std::move(picklewall::Scanner::create(options).value());
  }();
  std::vector<picklewall::FileReport> reports{scanner.scan_bytes({data, size}, "fuzz-input")};
  (void)picklewall::render_text(reports, {});
  (void)picklewall::render_json(reports);
  (void)picklewall::render_sarif(reports);
  return 0;
}

// Decoder throughput: maps a pickle file and runs the decoder, symbolic machine and analysis over it (what a
// scan does minus hashing and reporting), several times, and prints MB/s, opcodes/s and peak RSS.
// Usage: bench_decoder FILE [REPEATS]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "analysis/analyzer.hpp"
#include "io/mapped_file.hpp"
#include "pickle/pickle_stream.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_decoder FILE [REPEATS]\n");
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  auto file = picklewall::detail::MappedFile::open(argv[1]);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().message.c_str());
    return 2;
  }
  auto policy = picklewall::Policy::builtin();
  const picklewall::Limits limits;
  const auto bytes = file.value().bytes();
  std::vector<double> seconds;
  std::uint64_t opcodes = 0;
  std::size_t findings_count = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto stream = picklewall::detail::read_pickle_stream(bytes, 0, limits, start + std::chrono::hours(1));
    std::vector<picklewall::Finding> findings;
    picklewall::detail::analyze_stream(stream, *policy.value(), "", {}, findings);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    opcodes = 0;
    for (const auto& program : stream.pickles) opcodes += program.opcode_count;
    findings_count = findings.size();
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double megabytes = static_cast<double>(bytes.size()) / 1e6;
  std::printf("file=%s size_mb=%.1f opcodes=%llu median_s=%.3f best_s=%.3f mb_per_s=%.0f mopcodes_per_s=%.1f "
              "peak_rss_mb=%.1f findings=%zu\n",
              argv[1], megabytes, static_cast<unsigned long long>(opcodes), median, seconds.front(),
              megabytes / median, static_cast<double>(opcodes) / median / 1e6, usage.ru_maxrss / 1024.0,
              findings_count);
  return 0;
}

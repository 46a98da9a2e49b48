// Throughput of the two stages over a pickle file, several times each, with MB/s, opcodes/s and peak RSS:
//   decoder   the decoder alone (every opcode and argument read and validated as _pickle.c reads it), pickle
//             after pickle, as the machine drives it;
//   pipeline  decoder + symbolic machine + analysis: what a scan does minus hashing and reporting, as a batch
//             worker runs it (big arrays reused from one scan to the next; the median is its steady state).
// Usage: bench_decoder FILE [REPEATS]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "analysis/analyzer.hpp"
#include "io/big_array_allocator.hpp"
#include "io/mapped_file.hpp"
#include "pickle/decoder.hpp"
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

  // Decoder stage: consecutive pickles until the data ends or an opcode fails.
  std::vector<double> decoder_seconds;
  std::uint64_t decoded = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    picklewall::detail::Decoder decoder(bytes, 0, limits.max_line_bytes);
    picklewall::detail::Instruction instruction;
    decoded = 0;
    while (decoder.position() < bytes.size() && decoder.next(instruction)) ++decoded;
    decoder_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(decoder_seconds.begin(), decoder_seconds.end());
  const double decoder_median = decoder_seconds[decoder_seconds.size() / 2];
  std::printf("stage=decoder file=%s opcodes=%llu median_s=%.3f mb_per_s=%.0f mopcodes_per_s=%.1f\n", argv[1],
              static_cast<unsigned long long>(decoded), decoder_median,
              static_cast<double>(bytes.size()) / 1e6 / decoder_median, static_cast<double>(decoded) / decoder_median / 1e6);

  std::vector<double> seconds;
  std::uint64_t opcodes = 0;
  std::size_t findings_count = 0;
  const picklewall::detail::BigArrayReuse reuse;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const picklewall::detail::Budget budget(start + std::chrono::hours(1));
    auto stream = picklewall::detail::read_pickle_stream(bytes, 0, limits, budget);
    std::vector<picklewall::Finding> findings;
    picklewall::detail::analyze_stream(stream, {*policy.value(), limits, budget}, "", {}, findings);
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
  std::printf("stage=pipeline file=%s size_mb=%.1f opcodes=%llu median_s=%.3f best_s=%.3f mb_per_s=%.0f mopcodes_per_s=%.1f "
              "peak_rss_mb=%.1f findings=%zu\n",
              argv[1], megabytes, static_cast<unsigned long long>(opcodes), median, seconds.front(),
              megabytes / median, static_cast<double>(opcodes) / median / 1e6, usage.ru_maxrss / 1024.0,
              findings_count);
  return 0;
}

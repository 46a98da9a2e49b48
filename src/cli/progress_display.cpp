#include "cli/progress_display.hpp"

#include <string>

namespace picklewall::cli {
namespace {

// Redrawing more often than this costs terminal time and shows nothing a person can read.
constexpr auto redraw_interval = std::chrono::milliseconds(100);

std::string human_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) {
    bytes /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

std::string clock_time(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

std::string elapsed_text(double seconds) {
  if (seconds >= 60) return clock_time(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

}  // namespace

ProgressDisplay::ProgressDisplay(bool enabled)
    : enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressDisplay::update(const BatchProgress& progress) {
  if (!enabled_) return;
  last_ = progress;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < redraw_interval && progress.files_done != progress.files_total) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(progress.bytes_done) / elapsed : 0;
  std::string line = "scanning " + std::to_string(progress.files_done) + "/" + std::to_string(progress.files_total) +
                     " files, " + human_bytes(static_cast<double>(progress.bytes_done)) + " of " +
                     human_bytes(static_cast<double>(progress.bytes_total)) + ", " + human_bytes(rate) + "/s";
  if (rate > 0 && progress.bytes_done < progress.bytes_total)
    line += ", ETA " + clock_time(static_cast<double>(progress.bytes_total - progress.bytes_done) / rate);
  if (progress.cache_hits > 0) line += ", " + std::to_string(progress.cache_hits) + " from cache";
  // Carriage return and erase-to-end-of-line: the line is redrawn in place.
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressDisplay::finish() {
  if (!enabled_ || !drawn_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = "scanned " + std::to_string(last_.files_done) + " files, " +
                     human_bytes(static_cast<double>(last_.bytes_done)) + " in " + elapsed_text(elapsed);
  if (elapsed > 0) line += " (" + human_bytes(static_cast<double>(last_.bytes_done) / elapsed) + "/s)";
  if (last_.cache_hits > 0) line += ", " + std::to_string(last_.cache_hits) + " from cache";
  std::fprintf(stderr, "\r%s\x1b[K\n", line.c_str());
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace picklewall::cli

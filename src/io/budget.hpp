// The time one file may take, shared by every stage that works on it: decoding, the pickle machine, policy
// judgement, embedded payloads, inflating, archive readers, inspect and convert. Each stage asks expired()
// every few thousand steps and stops with a limit finding; a caller can also cancel (Ctrl-C) through a flag the
// budget watches, which ends the work as soon as the next stage looks.
#pragma once

#include <atomic>
#include <chrono>

#include "picklewall/limits.hpp"

namespace picklewall::detail {

class Budget {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts now, for `limits.max_seconds_per_file`.
  explicit Budget(const Limits& limits, const std::atomic<bool>* cancel = nullptr)
      : deadline_(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(limits.max_seconds_per_file))),
        cancel_(cancel) {}
  explicit Budget(Clock::time_point deadline, const std::atomic<bool>* cancel = nullptr)
      : deadline_(deadline), cancel_(cancel) {}

  // Time is up, or the caller gave up on this work.
  bool expired() const { return cancelled() || Clock::now() >= deadline_; }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  Clock::time_point deadline() const { return deadline_; }
  double seconds_left() const {
    return cancelled() ? 0.0 : std::max(0.0, std::chrono::duration<double>(deadline_ - Clock::now()).count());
  }
  const std::atomic<bool>* cancel_flag() const { return cancel_; }

  // The name of the limit an expired budget reports.
  static constexpr const char* limit_name = "max_seconds_per_file";

 private:
  Clock::time_point deadline_;
  const std::atomic<bool>* cancel_;
};

}  // namespace picklewall::detail

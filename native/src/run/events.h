// The run's events: delivery to the EventSink (a consumer gone stops the run as a cancel
// would), the cancel flag, progress on every phase and the time spent in each.
//
// Progress events: {type: "progress", phase, step, steps, label, elapsed, eta, fraction}
//   phase: "sequences" (generating calibration or evaluation sequences), "calibration"
//   (a layer's forward pass collecting its Hessians), "awq" (the scale search), "quantize"
//   (a tensor), "propagate" (the quantized layer's forward pass), "evaluation" (the head),
//   "write" (finishing the outputs); step of steps within the phase's current span (layers,
//   sequences, tensors, grid points), label for people ("layer 3/16, sequence 5/16"),
//   elapsed and eta (seconds) within the span, fraction (0..1) of the whole run.
// They are throttled to one per 0.2 s within a phase (the first and last always go out).
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "io/json.h"

namespace bitsmith {

class EventSink;

class RunEvents {
 public:
  using Clock = std::chrono::steady_clock;
  RunEvents(EventSink& sink, const std::atomic<bool>& cancel);

  /** Delivers an event; throws run/cancelled when no one is listening. */
  void emit(json::Value ev);
  /** Throws run/cancelled once the run is cancelled. */
  void checkCancel() const;
  const std::atomic<bool>& cancelFlag() const { return cancel_; }
  bool cancelled() const { return cancel_.load(std::memory_order_relaxed); }

  /** A span of `steps` steps in `phase` starts (elapsed and eta count from here). */
  void begin(const std::string& phase, int64_t steps);
  /** `step` of the current span's steps are done; fraction: of the whole run. */
  void progress(int64_t step, const std::string& label, double fraction);

  /** Adds seconds to a phase's total (the "phases" member of the done event). */
  void addTime(const std::string& phase, double seconds);
  json::Value timings() const;

 private:
  EventSink& sink_;
  const std::atomic<bool>& cancel_;
  std::string phase_;
  int64_t steps_ = 0;
  Clock::time_point spanStart_, lastEmit_;
  bool emitted_ = false;
  std::map<std::string, double> seconds_;
  std::vector<std::string> order_;
};

/** Adds the time from construction to destruction to a phase. */
class PhaseTimer {
 public:
  PhaseTimer(RunEvents& ev, std::string phase)
      : ev_(ev), phase_(std::move(phase)), t0_(RunEvents::Clock::now()) {}
  ~PhaseTimer() { stop(); }
  double stop() {
    if (done_) return 0;
    done_ = true;
    const double s = std::chrono::duration<double>(RunEvents::Clock::now() - t0_).count();
    ev_.addTime(phase_, s);
    return s;
  }

 private:
  RunEvents& ev_;
  std::string phase_;
  RunEvents::Clock::time_point t0_;
  bool done_ = false;
};

}  // namespace bitsmith

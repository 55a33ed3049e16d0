#include "run/events.h"

#include <algorithm>

#include "io/error.h"
#include "run/runner.h"

namespace bitsmith {

using json::Value;

RunEvents::RunEvents(EventSink& sink, const std::atomic<bool>& cancel)
    : sink_(sink), cancel_(cancel), spanStart_(Clock::now()), lastEmit_(Clock::now()) {}

void RunEvents::emit(Value ev) {
  if (!sink_.emit(std::move(ev)))
    throw ModelError("run/cancelled", "the run was cancelled (no one is listening to its events)");
}

void RunEvents::checkCancel() const {
  if (cancel_.load(std::memory_order_relaxed))
    throw ModelError("run/cancelled", "the run was cancelled");
}

void RunEvents::begin(const std::string& phase, int64_t steps) {
  phase_ = phase;
  steps_ = std::max<int64_t>(1, steps);
  spanStart_ = Clock::now();
  emitted_ = false;
}

void RunEvents::progress(int64_t step, const std::string& label, double fraction) {
  const auto now = Clock::now();
  const bool last = step >= steps_;
  if (emitted_ && !last && std::chrono::duration<double>(now - lastEmit_).count() < 0.2) return;
  emitted_ = true;
  lastEmit_ = now;
  const double elapsed = std::chrono::duration<double>(now - spanStart_).count();
  Value ev = Value::object();
  ev.set("type", Value::of("progress"));
  ev.set("phase", Value::of(phase_));
  ev.set("step", Value::of(std::min(step, steps_)));
  ev.set("steps", Value::of(steps_));
  ev.set("label", Value::of(label));
  ev.set("elapsed", Value::of(elapsed));
  ev.set("eta", step > 0 && !last ? Value::of(elapsed / double(step) * double(steps_ - step))
                                  : (last ? Value::of(0.0) : Value::null()));
  ev.set("fraction", Value::of(std::min(1.0, std::max(0.0, fraction))));
  emit(std::move(ev));
}

void RunEvents::addTime(const std::string& phase, double seconds) {
  if (!seconds_.count(phase)) order_.push_back(phase);
  seconds_[phase] += seconds;
}

Value RunEvents::timings() const {
  Value v = Value::object();
  for (const std::string& p : order_) v.set(p, Value::of(seconds_.at(p)));
  return v;
}

}  // namespace bitsmith

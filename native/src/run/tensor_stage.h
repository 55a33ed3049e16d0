// One tensor of the run: kept (copied to the outputs) or quantized by its method with the
// calibration it has (Hessians, importance, awq scales), measured, written to the outputs,
// and reported in a "tensor" event. Row-local configurations without a Hessian-driven
// method stream row chunks across the pool (each chunk read, quantized, measured and
// written on its own core).
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "forward/calibrate.h"
#include "linalg/gemm.h"
#include "run/awq_run.h"
#include "run/importance.h"
#include "run/job.h"
#include "run/outputs.h"
#include "run/stream_metrics.h"
#include "run/tensor_io.h"

namespace bitsmith {

class RunEvents;

/** What calibration gives the tensors being quantized (each may be null). */
struct TensorCalibration {
  const forward::HessianCollector* hessians = nullptr;
  const Importance* importance = nullptr;
  const AwqRun* awq = nullptr;
};

class TensorStage {
 public:
  TensorStage(const Job& job, const Model& model, ThreadPool& pool, RunEvents& events,
              Outputs& outputs);
  /** Items[index]: emits tensor-start, quantizes or keeps it, writes it, emits "tensor".
   *  keep (optional, quantized tensors): receives the reconstruction, f32, source order. */
  void run(size_t index, const Item& item, const TensorCalibration& cal,
           std::vector<float>* keep = nullptr);
  /** Forgets the f32 copies of Hessians (before their collector is freed). */
  void dropHessianCopies() { packedH_.clear(); }
  /** The QuantConfig a tensor is quantized with (importance-weighted rtn). */
  static QuantConfig configFor(const JobTensor& jt, const Importance* importance, int64_t cols);

  int64_t bytesOut() const { return bytesOut_; }
  int64_t quantized() const { return quantized_; }

 private:
  void keepTensor(size_t index, const TensorRef& ref, const TensorCalibration& cal);
  const Job& job_;
  const Model& model_;
  ThreadPool& pool_;
  RunEvents& events_;
  Outputs& outputs_;
  StreamMetrics streamMetrics_;
  Buffer<float> inBuf_;
  std::vector<Buffer<float>> workerBufs_;
  std::map<const forward::Hessian*, linalg::PackedB> packedH_;  // f32 copies for output error
  int64_t bytesOut_ = 0, quantized_ = 0;
};

}  // namespace bitsmith

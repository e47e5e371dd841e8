// Where the trainer's batches come from: the JPEG loader (data/loader.h) in real runs, anything else
// in tests. A batch is a few tensors viewing memory the source owns; it stays valid until the next
// call to next(). The interface lives in engine/core so that engine/ (the trainer) and data/ (the
// loader) can meet without depending on each other.
#pragma once

#include <cstdint>

#include "engine/core/normalization.h"
#include "engine/core/tensor.h"

namespace aslnet {

// The label of an evaluation row whose file could not be read: the row holds zeros and is not scored
// (training rows take the next readable sample instead).
constexpr int32_t kUnreadableLabel = -1;

struct Batch {
  Tensor images;      // [batch, height, width, 3], NHWC (f32, bf16 or u8)
  Tensor labels;      // i32 [batch]; with soft targets, each row's dominant class (what top-1 counts)
  Tensor targets;     // f32 [batch, classes]: soft targets (mixup, cutmix); empty: the labels are one-hot
  int64_t valid = 0;  // leading rows that are real samples; an evaluation's last batch is padded after them
  // How the images were (f32, bf16) or are to be (raw u8: on the GPU, engine/input_stager.h) normalised.
  Normalization norm;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  virtual void start_epoch(int64_t epoch) = 0;
  // The epoch's next batch, or false at its end.
  virtual bool next(Batch& batch) = 0;
};

}  // namespace aslnet

// InputStager: takes a batch as the loader hands it over (host memory, pinned on a GPU machine) to
// where the model computes, in the model's compute type. On the CPU a batch of the right type passes
// through untouched. On the GPU it is copied on the Context's copy stream into one of two device slots
// (so the copy of the next batch overlaps the step still reading the previous one), converted there
// (f32 -> bf16 for mixed precision) and handed to the compute stream through an event: the compute
// stream waits on the GPU, never on the host. The host waits only for its own copy to finish, because
// the loader reuses the host buffer once the next batch is asked for. A batch of raw u8 pixels (a
// quarter of the bytes of f32) is normalised on the GPU after the copy, with the batch's own mean and std
// (Batch::norm).
// Soft targets (Batch::targets, mixup and cutmix) are copied with the labels and stay f32.
#pragma once

#include <array>

#include "engine/core/batch_source.h"
#include "engine/core/context.h"
#include "engine/core/cuda_handles.h"
#include "engine/core/normalization.h"
#include "engine/model.h"

namespace aslnet {

class InputStager {
 public:
  InputStager(Context& ctx, const Model& model);

  // The batch the model should read, valid until the next-but-one call (two slots).
  const Batch& stage(const Batch& host);

 private:
  Context& ctx_;
  DType compute_dtype_;
  bool gpu_;
  struct Slot {
    Batch batch;
    Tensor targets;  // device soft targets, kept while batches without any pass (batch.targets is empty then)
    Event copied, consumed;
    bool used = false;
  };
  std::array<Slot, 2> slots_;
  int next_slot_ = 0;
  Tensor staging_;     // device: an f32 or u8 batch before it is converted
  Tensor mean_, std_;  // device: the u8 normalisation of `uploaded_`
  Normalization uploaded_;
  bool norm_uploaded_ = false;
  Batch converted_;  // CPU: a batch converted to the model's type
};

}  // namespace aslnet

// Evaluation over a batch source: loss, top-1 accuracy, and the confusion matrix (rows: true class,
// columns: predicted class). Batch norm runs on its running statistics; padded rows of the last batch
// (Batch::valid) are not counted.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/batch_source.h"
#include "engine/input_stager.h"
#include "engine/model.h"

namespace aslnet {

struct EvalResult {
  int64_t classes = 0, count = 0, correct = 0;
  double loss = 0.0;                // mean cross-entropy (no label smoothing)
  std::vector<int64_t> confusion;   // classes x classes, row = true class
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
  double class_accuracy(int64_t c) const;  // recall of class c (0 when it has no samples)
  int64_t class_count(int64_t c) const;
  // Adds another set's figures (counts, hits and confusion summed, the loss weighted by count).
  EvalResult& operator+=(const EvalResult& other);
};

// u8_normalization: how batches of raw u8 pixels are normalised on the GPU (engine/input_stager.h).
EvalResult evaluate(Context& ctx, Model& model, BatchSource& source, int64_t epoch = 0,
                    const InputNormalization& u8_normalization = {});

// Softmax probabilities of the first `rows` rows of logits [batch, classes], as doubles.
std::vector<std::vector<double>> softmax_rows(const Tensor& logits, int64_t rows);

}  // namespace aslnet

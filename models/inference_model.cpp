#include "models/inference_model.h"

#include <algorithm>

#include "data/classes.h"
#include "engine/evaluate.h"
#include "engine/layers/conv_bn_inference.h"
#include "models/resnet.h"

namespace aslnet {

InferenceModel load_for_inference(Context& ctx, const std::string& checkpoint, int64_t batch, BatchNormFold fold) {
  InferenceModel m;
  m.meta = read_checkpoint_meta(checkpoint);
  ASLNET_CHECK(m.meta.input_height > 0 && m.meta.input_height == m.meta.input_width)
      << "checkpoint " << checkpoint << " does not record a square input size (was it written by aslnet train?)";
  m.image_size = int(m.meta.input_height);
  ASLNET_CHECK(m.meta.mean.size() == 3 && m.meta.std.size() == 3)
      << "checkpoint " << checkpoint << " does not record the input normalisation (mean and std of 3 channels)";
  for (int c = 0; c < 3; ++c) {
    m.norm.mean[size_t(c)] = float(m.meta.mean[size_t(c)]);
    m.norm.std[size_t(c)] = float(m.meta.std[size_t(c)]);
  }
  m.classes = m.meta.classes.empty() ? asl_classes() : m.meta.classes;
  ASLNET_CHECK(int64_t(m.classes.size()) == m.meta.model.num_classes)
      << "checkpoint " << checkpoint << " names " << m.classes.size() << " classes for a " << m.meta.model.num_classes
      << "-class model";
  try {
    m.model = make_model(m.meta.model, DType::F32, ctx.device());
  } catch (const OutOfMemory& e) {
    throw OutOfMemory("checkpoint " + checkpoint + ": " + e.message());
  }
  load_checkpoint(checkpoint, *m.model);
  if (fold == BatchNormFold::Fold) fold_batch_norm_for_inference(m.model->net());
  if (batch > 0) m.model->setup(ctx, batch, m.image_size, m.image_size);
  m.batch = batch;
  return m;
}

std::vector<std::vector<double>> classify_photos(Context& ctx, InferenceModel& m, const std::vector<Image>& photos,
                                                 TtaMode tta) {
  ASLNET_CHECK(m.batch > 0) << "classify_photos: the model is not set up for a batch";
  const std::vector<EvalView> views = tta_view_list(tta);
  const int64_t side = m.image_size, per_row = side * side * 3;
  const int64_t rows = int64_t(photos.size() * views.size());
  Tensor input = Tensor::zeros(Shape{m.batch, side, side, 3}, DType::F32);
  std::vector<std::vector<double>> row_probabilities;  // photo after photo, view after view
  for (int64_t first = 0; first < rows; first += m.batch) {
    const int64_t count = std::min(m.batch, rows - first);
    std::fill(input.data<float>(), input.data<float>() + input.numel(), 0.0f);
    for (int64_t r = 0; r < count; ++r) {
      const size_t row = size_t(first + r);
      normalize_into(eval_view(photos[row / views.size()], int(side), views[row % views.size()]), m.norm, DType::F32,
                     input.data<float>() + r * per_row);
    }
    const Tensor on_device = ctx.device().is_cuda() ? input.to(ctx.device()) : input;
    for (auto& p : softmax_rows(m.model->forward(ctx, on_device, /*training=*/false), count))
      row_probabilities.push_back(std::move(p));
  }
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < photos.size(); ++i)
    out.push_back(average_probabilities({row_probabilities.begin() + long(i * views.size()),
                                         row_probabilities.begin() + long((i + 1) * views.size())}));
  return out;
}

Device inference_device(const std::string& flag) {
  if (flag == "cpu") return Device::cpu();
  if (flag == "cuda") {
    ASLNET_CHECK(gpu_count() > 0) << "--device cuda: no CUDA GPU is available here (hint: --device cpu)";
    return Device::cuda(0);
  }
  ASLNET_CHECK(flag == "auto") << "--device " << flag << ": expected auto, cpu or cuda";
  return gpu_count() > 0 ? Device::cuda(0) : Device::cpu();
}

}  // namespace aslnet

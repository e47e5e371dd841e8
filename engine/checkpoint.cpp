// Checkpoints: the model's tensors under torchvision's names and layouts, in a safetensors file (see
// checkpoint.h for the format and engine/safetensors.h for the container). This is the only place
// where the engine's KRSC convolution filters meet torch's OIHW. Loading validates the whole file
// against the model (architecture, every name, every shape, the optimizer's state) and only then
// copies, so a bad file never leaves a half-loaded model behind. Tensors go through host copies
// (Tensor::to / copy_from), so the same code serves a model on the CPU or on a GPU.
#include "engine/checkpoint.h"

#include <fmt/core.h>

#include <cmath>
#include <cstring>
#include <set>

#include "engine/safetensors.h"

namespace aslnet {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
// The moving average of the weights: the model's own names after it (see checkpoint.h).
constexpr const char* kEmaPrefix = "optimizer.ema.";
const char* file_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    default: break;
  }
  ASLNET_CHECK(false) << "checkpoints hold f32, f64 or bf16 models, not " << dtype_name(t);
  return "";
}

std::vector<int64_t> dims(const Shape& s) {
  std::vector<int64_t> out;
  for (int i = 0; i < s.rank(); ++i) out.push_back(s[i]);
  return out;
}

// The shape a parameter has in torch: convolution filters KRSC [out, kh, kw, in] become OIHW.
std::vector<int64_t> torch_shape(const Parameter& p) {
  if (p.role == ParamRole::ConvWeight) return {p.shape[0], p.shape[3], p.shape[1], p.shape[2]};
  return dims(p.shape);
}

// KRSC <-> OIHW on raw elements of `elem` bytes. to_torch: src is KRSC, dst OIHW; otherwise back.
template <class E>
void permute_filter(const Shape& krsc, const void* src_bytes, void* dst_bytes, bool to_torch) {
  const int64_t K = krsc[0], R = krsc[1], S = krsc[2], C = krsc[3];
  const E* src = static_cast<const E*>(src_bytes);
  E* dst = static_cast<E*>(dst_bytes);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t engine = ((k * R + r) * S + s) * C + c, torch = ((k * C + c) * R + r) * S + s;
          if (to_torch) {
            dst[torch] = src[engine];
          } else {
            dst[engine] = src[torch];
          }
        }
}

void permute_filter(const Shape& krsc, size_t elem, const void* src, void* dst, bool to_torch) {
  switch (elem) {
    case 2: return permute_filter<uint16_t>(krsc, src, dst, to_torch);
    case 4: return permute_filter<uint32_t>(krsc, src, dst, to_torch);
    case 8: return permute_filter<uint64_t>(krsc, src, dst, to_torch);
    default: ASLNET_CHECK(false) << "no filter permutation for " << elem << "-byte elements";
  }
}

// Element i of a float tensor in the file (unaligned bytes) as a double.
double read_float(const uint8_t* data, const std::string& dtype, int64_t i) {
  if (dtype == "F32") {
    float v;
    std::memcpy(&v, data + 4 * i, 4);
    return v;
  }
  if (dtype == "F64") {
    double v;
    std::memcpy(&v, data + 8 * i, 8);
    return v;
  }
  bf16 v;
  std::memcpy(&v.bits, data + 2 * i, 2);
  return from_bf16(v);
}

// Converts a file tensor to the model's dtype into dst (numel elements). The same dtype is a plain
// copy, so a round trip is bit-exact.
void convert_to(const safetensors::TensorInfo& t, DType to, void* dst) {
  if (t.dtype == file_dtype(to)) {
    std::memcpy(dst, t.data, t.bytes());
    return;
  }
  for (int64_t i = 0; i < t.numel; ++i) {
    const double v = read_float(t.data, t.dtype, i);
    switch (to) {
      case DType::F32: static_cast<float*>(dst)[i] = float(v); break;
      case DType::F64: static_cast<double*>(dst)[i] = v; break;
      case DType::BF16: static_cast<bf16*>(dst)[i] = to_bf16(float(v)); break;
      default: ASLNET_CHECK(false) << "cannot load into a " << dtype_name(to) << " tensor";
    }
  }
}

// Offset (in elements) of a view within the arena it was sliced from.
int64_t offset_in(const Tensor& arena, const Tensor& view) {
  return (static_cast<const char*>(view.raw()) - static_cast<const char*>(arena.raw())) /
         int64_t(dtype_size(arena.dtype()));
}

// A NaN or an infinity read from a checkpoint (a run that diverged before it was written, or a damaged
// file) would make every answer NaN and every accuracy meaningless: refused, naming the tensor.
void check_finite(const std::string& path, const std::string& name, const Tensor& host) {
  dispatch_real(host.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* values = host.data<T>();
    for (int64_t i = 0, n = host.numel(); i < n; ++i)
      ASLNET_CHECK(std::isfinite(double(values[i])))
          << "checkpoint " << path << ": tensor " << name << " holds " << double(values[i]) << " at element " << i
          << " (written by a run whose weights diverged, or damaged: use an earlier checkpoint)";
  });
}

// What load_checkpoint will copy, all prepared on the host before anything is changed.
struct Staged {
  Tensor params, state;           // whole arenas, host copies
  std::vector<int64_t> counters;  // in model.counters() order
  std::vector<Tensor> optimizer;  // in optimizer->state_tensors() order (empty: leave it alone)
  int64_t optimizer_steps = 0;
  Tensor ema_params, ema_state;   // the moving average (undefined: the optimizer keeps none)
};

// Adds the model's parameters and batch-norm statistics to `writer` under `prefix` + their names, read
// from host arenas laid out as the model's (its own, or the optimizer's moving average). The arenas
// must outlive the write: non-filter tensors are written straight from them.
void add_weights(safetensors::Writer& writer, const Model& model, const Tensor& params, const Tensor& state,
                 const std::string& prefix) {
  const std::string st_dtype = file_dtype(model.dtype());
  const size_t elem = dtype_size(model.dtype());
  for (const Parameter* p : model.parameters()) {
    const Tensor host = params.slice(offset_in(model.parameter_arena(), p->value), p->shape);
    if (p->role == ParamRole::ConvWeight) {
      std::vector<uint8_t> oihw(host.bytes());
      permute_filter(p->shape, elem, host.raw(), oihw.data(), /*to_torch=*/true);
      writer.add_owned(prefix + p->name, st_dtype, torch_shape(*p), std::move(oihw));
    } else {
      writer.add(prefix + p->name, st_dtype, dims(p->shape), host.raw(), host.bytes());
    }
  }
  for (const StateTensor* s : model.state()) {
    const Tensor host = state.slice(offset_in(model.state_arena(), s->value), s->shape);
    writer.add(prefix + s->name, st_dtype, dims(s->shape), host.raw(), host.bytes());
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const Model& model, const CheckpointMeta& meta,
                     const Optimizer* optimizer) {
  ASLNET_CHECK(optimizer == nullptr || !optimizer->ema_weights_in_model())
      << "cannot write training checkpoint " << path
      << " while the EMA weights are in the model: it would record them as the trained weights";
  safetensors::Writer writer;

  // One host copy per arena; every non-filter tensor is written straight from it.
  const Tensor params = model.parameter_arena().to(Device::cpu());
  const Tensor state = model.state_arena().to(Device::cpu());
  add_weights(writer, model, params, state, "");
  for (const Counter* c : model.counters()) {
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), &c->value, 8);
    writer.add_owned(c->name, "I64", {}, std::move(bytes));  // torch: a 0-dim int64 tensor
  }
  std::vector<Tensor> keep;  // host copies of optimizer state, alive until the write
  if (optimizer != nullptr) {
    for (const auto& [name, tensor] : optimizer->state_tensors()) {
      keep.push_back(tensor.to(Device::cpu()));
      writer.add(kOptimizerPrefix + name, file_dtype(tensor.dtype()), {tensor.numel()}, keep.back().raw(),
                 keep.back().bytes());
    }
    writer.set_metadata("optimizer", optimizer->config().kind);
    writer.set_metadata("optimizer_steps", std::to_string(optimizer->step_count()));
  }
  Tensor ema_params, ema_state;  // host copies, alive until the write
  if (optimizer != nullptr && optimizer->has_ema()) {
    ema_params = optimizer->ema_parameters().to(Device::cpu());
    ema_state = optimizer->ema_state().to(Device::cpu());
    add_weights(writer, model, ema_params, ema_state, kEmaPrefix);
    writer.set_metadata("ema_decay", format_double(optimizer->ema_decay()));
  }

  // The model's own info is the truth about what is in the file; meta.model is not consulted.
  write_checkpoint_meta(writer, model.info(), meta, path);
  writer.write(path);
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  return parse_checkpoint_meta(safetensors::File::read_header(path));
}

namespace {

// The classifier's tensors: fine-tuning with a reset head neither needs nor loads them.
bool is_head(const std::string& name) { return name.starts_with("fc."); }

// The file's metadata must describe the model's network (any class count with a reset head): checked
// before any tensor, so that the error names both networks rather than the first odd shape.
void check_same_network(const std::string& path, const ModelInfo& file_model, const ModelInfo& info, bool reset_head) {
  const bool same_network =
      file_model.arch == info.arch && (reset_head || file_model.num_classes == info.num_classes) &&
      file_model.stem == info.stem && file_model.width == info.width && file_model.in_channels == info.in_channels;
  ASLNET_CHECK(same_network) << "checkpoint " << path << " is a " << describe(file_model) << ", this model is "
                             << describe(info) << "; build the model the checkpoint describes to load it";
}

// Reads a checkpoint's tensors into host memory laid out as the model's, checking each one, and
// remembers which it read, so that the tensors left over can be refused by name.
class TensorStager {
 public:
  TensorStager(const safetensors::File& file, const Model& model, bool reset_head)
      : file_(file), path_(file.path()), model_(model), reset_head_(reset_head) {}

  // The tensor `name`, present, floating point and of the expected shape.
  const safetensors::TensorInfo& tensor(const std::string& name, const std::vector<int64_t>& expected) {
    const safetensors::TensorInfo* t = &present(name);
    ASLNET_CHECK(t->dtype == "F32" || t->dtype == "F64" || t->dtype == "BF16")
        << "checkpoint " << path_ << ": tensor " << name << " is " << t->dtype << ", expected F32, F64 or BF16";
    ASLNET_CHECK(t->shape == expected) << "checkpoint " << path_ << ": tensor " << name << " has shape "
                                       << safetensors::shape_str(t->shape) << ", expected "
                                       << safetensors::shape_str(expected);
    return *t;
  }

  // Reads the model's parameters and statistics, named `prefix` + their names, into host arenas laid
  // out as the model's (its own, or the moving average's).
  void weights(const std::string& prefix, Tensor& params, Tensor& state) {
    const DType dtype = model_.dtype();
    for (const Parameter* p : model_.parameters()) {
      if (reset_head_ && is_head(p->name)) continue;  // keeps the model's own initialisation
      const safetensors::TensorInfo& t = tensor(prefix + p->name, torch_shape(*p));
      Tensor dst = params.slice(offset_in(model_.parameter_arena(), p->value), p->shape);
      if (p->role == ParamRole::ConvWeight) {
        std::vector<uint8_t> oihw(dst.bytes());
        convert_to(t, dtype, oihw.data());
        permute_filter(p->shape, dtype_size(dtype), oihw.data(), dst.raw(), /*to_torch=*/false);
      } else {
        convert_to(t, dtype, dst.raw());
      }
      check_finite(path_, prefix + p->name, dst);
    }
    for (const StateTensor* s : model_.state()) {
      const safetensors::TensorInfo& t = tensor(prefix + s->name, dims(s->shape));
      const Tensor dst = state.slice(offset_in(model_.state_arena(), s->value), s->shape);
      convert_to(t, dtype, dst.raw());
      check_finite(path_, prefix + s->name, dst);
    }
  }

  // The model's counters (batch-norm's num_batches_tracked), each an I64 scalar, in model order.
  std::vector<int64_t> counters() {
    std::vector<int64_t> values;
    for (const Counter* c : model_.counters()) {
      const safetensors::TensorInfo* t = &present(c->name);
      ASLNET_CHECK(t->dtype == "I64" && t->shape.empty())
          << "checkpoint " << path_ << ": tensor " << c->name << " is " << t->dtype << safetensors::shape_str(t->shape)
          << ", expected an I64 scalar []";
      int64_t v = 0;
      std::memcpy(&v, t->data, 8);
      values.push_back(v);
    }
    return values;
  }

  bool was_read(const std::string& name) const { return used_.count(name) != 0; }

  // Refuses a file tensor that the model does not have: neither read nor optimizer state (nor, with a
  // reset head, the file's classifier).
  void refuse_unread_model_tensors() const {
    for (const safetensors::TensorInfo& t : file_.tensors()) {
      ASLNET_CHECK(was_read(t.name) || t.name.starts_with(kOptimizerPrefix) || (reset_head_ && is_head(t.name)))
          << "checkpoint " << path_ << " has tensor " << t.name << ", which this " << model_.info().arch
          << " does not have";
    }
  }

 private:
  // The tensor `name`, which must be in the file; it counts as read from here on.
  const safetensors::TensorInfo& present(const std::string& name) {
    const safetensors::TensorInfo* t = file_.find(name);
    ASLNET_CHECK(t != nullptr) << "checkpoint " << path_ << " has no tensor " << name;
    used_.insert(name);
    return *t;
  }

  const safetensors::File& file_;
  const std::string& path_;
  const Model& model_;
  bool reset_head_;
  std::set<std::string> used_;
};

// Stages the model's own tensors and counters, and refuses a file tensor that the model does not have.
void stage_model(TensorStager& stager, const Model& model, Staged& staged) {
  // The arenas start as copies of the model's, so alignment padding (which no tensor covers) keeps its
  // contents.
  staged.params = model.parameter_arena().to(Device::cpu());
  staged.state = model.state_arena().to(Device::cpu());
  stager.weights("", staged.params, staged.state);
  staged.counters = stager.counters();
  stager.refuse_unread_model_tensors();
}

// What happens to the optimizer's state: restored when the caller passes an optimizer and the file
// has some; its moving average only when both the file and the optimizer keep one.
struct OptimizerPlan {
  bool restore = false;
  bool restore_ema = false;
  bool file_has_ema = false;
};

OptimizerPlan plan_optimizer(const safetensors::File& file, const Optimizer* optimizer) {
  OptimizerPlan plan;
  plan.restore = optimizer != nullptr && file.metadata().count("optimizer") != 0;
  for (const safetensors::TensorInfo& t : file.tensors())
    plan.file_has_ema = plan.file_has_ema || t.name.starts_with(kEmaPrefix);
  plan.restore_ema = plan.restore && optimizer->has_ema() && plan.file_has_ema;
  return plan;
}

// Refuses an "optimizer.*" tensor that the optimizer does not keep: neither one of its state tensors
// (`expected`) nor, when the average is restored, one of the average's tensors that were read. An
// average the optimizer does not keep is skipped (with a load note), not refused.
void check_optimizer_tensors(const safetensors::File& file, const TensorStager& stager,
                             const std::set<std::string>& expected, bool restore_ema, const std::string& kind) {
  for (const safetensors::TensorInfo& t : file.tensors()) {
    const bool ema_tensor = t.name.starts_with(kEmaPrefix);
    ASLNET_CHECK(!t.name.starts_with(kOptimizerPrefix) || expected.count(t.name) ||
                 (ema_tensor && (!restore_ema || stager.was_read(t.name))))
        << "checkpoint " << file.path() << " has " << t.name << ", which this " << kind << " optimizer does not keep";
  }
}

// Stages the optimizer's state tensors, step count and (when restored) moving average; called when
// plan.restore, so the file has an "optimizer" kind.
void stage_optimizer(TensorStager& stager, const safetensors::File& file, const CheckpointMeta& meta,
                     const Optimizer& optimizer, const OptimizerPlan& plan, Staged& staged) {
  const std::string& path = file.path();
  const std::string& kind = meta.optimizer;
  ASLNET_CHECK(kind == optimizer.config().kind)
      << "checkpoint " << path << " holds " << kind << " optimizer state, the optimizer is " << optimizer.config().kind;
  staged.optimizer_steps = meta.optimizer_steps;
  std::set<std::string> expected;
  for (const auto& [name, target] : optimizer.state_tensors()) {
    const std::string key = kOptimizerPrefix + name;
    expected.insert(key);
    const safetensors::TensorInfo& t = stager.tensor(key, {target.numel()});
    Tensor host = Tensor::empty(target.shape(), target.dtype());
    convert_to(t, target.dtype(), host.raw());
    check_finite(path, key, host);
    staged.optimizer.push_back(std::move(host));
  }
  if (plan.restore_ema) {
    // Padding as in the average the optimizer holds (zero, as in the arenas).
    staged.ema_params = optimizer.ema_parameters().to(Device::cpu());
    staged.ema_state = optimizer.ema_state().to(Device::cpu());
    stager.weights(kEmaPrefix, staged.ema_params, staged.ema_state);
  }
  check_optimizer_tensors(file, stager, expected, plan.restore_ema, optimizer.config().kind);
}

// What the user should hear about the moving average: restarted, or skipped.
void note_ema(const std::string& path, const Optimizer* optimizer, const OptimizerPlan& plan,
              std::vector<std::string>& notes) {
  if (optimizer != nullptr && optimizer->has_ema() && !plan.restore_ema)
    notes.push_back("checkpoint " + path +
                    " holds no EMA of the weights: the average (--ema) restarts from its weights");
  if (optimizer != nullptr && !optimizer->has_ema() && plan.file_has_ema)
    notes.push_back("checkpoint " + path +
                    " holds an EMA of the weights, which this run (without --ema) does not keep");
}

// Everything checked out: copies the staged weights, statistics and counters into the model.
void apply_to_model(const Staged& staged, Model& model) {
  Tensor params = model.parameter_arena();
  params.copy_from(staged.params);
  Tensor state = model.state_arena();
  state.copy_from(staged.state);
  model.parameters_changed();
  for (size_t i = 0; i < staged.counters.size(); ++i) model.counters()[i]->value = staged.counters[i];
}

// ...and into the optimizer, whose average restarts from the loaded weights when the file has none.
void apply_to_optimizer(const Staged& staged, const OptimizerPlan& plan, Optimizer& optimizer) {
  if (plan.restore) {
    const auto targets = optimizer.state_tensors();
    for (size_t i = 0; i < targets.size(); ++i) {
      Tensor target = targets[i].second;
      target.copy_from(staged.optimizer[i]);
    }
    optimizer.set_step_count(staged.optimizer_steps);
  }
  if (!optimizer.has_ema()) return;
  if (plan.restore_ema) {
    Tensor ema_params = optimizer.ema_parameters(), ema_state = optimizer.ema_state();
    ema_params.copy_from(staged.ema_params);
    ema_state.copy_from(staged.ema_state);
  } else {
    optimizer.reset_ema();
  }
}

CheckpointMeta load_checkpoint_impl(const std::string& path, Model& model, Optimizer* optimizer, bool reset_head) {
  ASLNET_CHECK(optimizer == nullptr || !optimizer->ema_weights_in_model())
      << "cannot load checkpoint " << path << " while the EMA weights are in the model";
  const safetensors::File file = safetensors::File::read(path);
  CheckpointMeta meta = parse_checkpoint_meta(file);
  verify_checksums(file, meta.load_notes);
  check_same_network(path, meta.model, model.info(), reset_head);

  TensorStager stager(file, model, reset_head);
  Staged staged;
  stage_model(stager, model, staged);
  const OptimizerPlan plan = plan_optimizer(file, optimizer);
  if (plan.restore) stage_optimizer(stager, file, meta, *optimizer, plan, staged);
  note_ema(path, optimizer, plan, meta.load_notes);

  apply_to_model(staged, model);
  if (optimizer != nullptr) apply_to_optimizer(staged, plan, *optimizer);
  return meta;
}

}  // namespace

CheckpointMeta load_checkpoint(const std::string& path, Model& model, Optimizer* optimizer) {
  return load_checkpoint_impl(path, model, optimizer, /*reset_head=*/false);
}

CheckpointMeta load_weights(const std::string& path, Model& model, bool reset_head) {
  return load_checkpoint_impl(path, model, nullptr, reset_head);
}

std::vector<float> filter_to_oihw(const Shape& krsc, const float* values) {
  std::vector<float> oihw(size_t(krsc.numel()));
  permute_filter(krsc, sizeof(float), values, oihw.data(), /*to_torch=*/true);
  return oihw;
}

}  // namespace aslnet

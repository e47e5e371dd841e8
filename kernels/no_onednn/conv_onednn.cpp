// A build without oneDNN (ASLNET_ONEDNN=OFF, or libdnnl-dev not installed): the fast CPU convolution
// is absent, and asking for it says how to get it.
#include "kernels/conv_onednn.h"

#include "engine/core/error.h"

namespace aslnet::kernels::onednn {

bool available() { return false; }
std::string version() { return "not built"; }
bool pays_off(const ConvShape&) { return false; }

struct OnednnConv::Impl {};

OnednnConv::OnednnConv(const ConvShape&) {
  ASLNET_CHECK(false) << "this aslnet was built without oneDNN (the fast CPU kernels): install libdnnl-dev and "
                         "rebuild, or use --cpu-kernels reference";
}
OnednnConv::~OnednnConv() = default;
OnednnConv::OnednnConv(OnednnConv&&) noexcept = default;
OnednnConv& OnednnConv::operator=(OnednnConv&&) noexcept = default;

const ConvShape& OnednnConv::shape() const {
  static const ConvShape none;
  return none;
}
size_t OnednnConv::workspace_bytes() const { return 0; }
std::string OnednnConv::implementations() const { return "not built"; }
void OnednnConv::forward(const float*, const float*, float*, void*) const {}
void OnednnConv::backward_data(const float*, const float*, float*, void*) const {}
void OnednnConv::backward_filter(const float*, const float*, float*, void*, bool) const {}

struct OnednnConvInference::Impl {};

OnednnConvInference::OnednnConvInference(const ConvShape&, const float*, const float*, bool) {
  ASLNET_CHECK(false) << "this aslnet was built without oneDNN (the fast CPU kernels): install libdnnl-dev and "
                         "rebuild, or use --cpu-kernels reference";
}
OnednnConvInference::~OnednnConvInference() = default;
OnednnConvInference::OnednnConvInference(OnednnConvInference&&) noexcept = default;
OnednnConvInference& OnednnConvInference::operator=(OnednnConvInference&&) noexcept = default;

const ConvShape& OnednnConvInference::shape() const {
  static const ConvShape none;
  return none;
}
size_t OnednnConvInference::workspace_bytes() const { return 0; }
std::string OnednnConvInference::implementation() const { return "not built"; }
void OnednnConvInference::forward(const float*, float*, void*) const {}

}  // namespace aslnet::kernels::onednn

namespace aslnet::kernels {
void use_passive_openmp(char**) {}  // no OpenMP without oneDNN
std::string peer_environment_prefix() { return ""; }
}  // namespace aslnet::kernels

#include "app/tta_option.h"

namespace aslnet::app {

CLI::Option* add_tta_option(CLI::App& cmd, std::string& tta) {
  return cmd
      .add_option("--tta", tta,
                  "test-time augmentation: none; flip (centre + its mirror); crops (centre, its mirror, four corner "
                  "crops); each image's views' probabilities are averaged")
      ->check(CLI::IsMember({"none", "flip", "crops"}));
}

}  // namespace aslnet::app

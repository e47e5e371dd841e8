// The 29 classes of the ASL alphabet in torchvision ImageFolder order (folder names sorted as Python
// sorts strings: capitals first), which is the label order of every model and checkpoint.
#pragma once

#include <string>
#include <vector>

namespace aslnet {

const std::vector<std::string>& asl_classes();  // "A".."Z", "del", "nothing", "space"

// The label of a class folder name, matched case-insensitively ("SPACE", "Del"); -1 when unknown.
int asl_class_index(const std::string& name);

}  // namespace aslnet

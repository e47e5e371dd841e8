// Whether a path names a regular file, asked before the file is opened: opening a FIFO blocks until
// some writer opens it (forever, for a stray one), and a device such as /dev/zero never ends, so a
// reader that opens first and checks afterwards can hang or fill the memory.
#pragma once

#include <string>

namespace aslnet {

// "" for a regular file (or a link to one); otherwise why not, to follow the path in a message:
// "does not exist", "is a folder, not a file", "is a FIFO (named pipe), not a regular file", ...
std::string why_not_a_regular_file(const std::string& path);

}  // namespace aslnet

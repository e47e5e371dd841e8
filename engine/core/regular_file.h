// Whether a path names a regular file, asked before the file is opened: opening a FIFO blocks until
// some writer opens it (forever, for a stray one), and a device such as /dev/zero never ends, so a
// reader that opens first and checks afterwards can hang or fill the memory.
#pragma once

#include <string>

namespace aslnet {

// Why opening `path` to read it whole is unsafe, to follow the path in a message: "is a folder, not a
// file", "is a FIFO (named pipe), not a regular file", ...; "" for a regular file (or a link to one),
// and for a path that cannot be examined at all (missing, no permission): the open then says why.
std::string why_unsafe_to_open(const std::string& path);

}  // namespace aslnet

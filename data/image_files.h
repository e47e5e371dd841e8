// The images a command was given on its command line (predict, translate): files as given, in order, and
// for a folder its image files sorted by name in natural order, so that frame2 comes before frame10 (the
// order a video's frames were numbered in). One place for the listing and the order, so that the
// commands agree on both.
#pragma once

#include <string>
#include <vector>

namespace aslnet {

// The extensions the commands that read single photos decode (JPEG and PNG, by their content; the
// extension only picks a folder's files). Compared case-insensitively.
const std::vector<std::string>& photo_extensions();

// Natural order: runs of digits compare by their value (leading zeros ignored; on equal values the run
// with fewer zeros first), everything else byte by byte: "frame2" < "frame007" < "frame10" < "frame10a".
bool natural_less(const std::string& a, const std::string& b);

// Each of `given` that is a folder is replaced by its regular files whose extension is one of
// `extensions` (lower case, with the dot), in natural order; anything else is kept as given, in its
// place. `what` names one item in the one-line errors ("frame", "image"): a path that does not exist,
// a folder that holds none of the extensions, nothing given at all.
std::vector<std::string> expand_image_arguments(const std::vector<std::string>& given,
                                                const std::vector<std::string>& extensions, const std::string& what);

}  // namespace aslnet

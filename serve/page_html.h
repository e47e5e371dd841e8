// The web page of aslnet serve (serve/page.html, compiled in by CMake): one self-contained HTML file
// with its styles and script inline, so the server needs no files beside the binary.
#pragma once

namespace aslnet::serve {

const char* page_html();

}  // namespace aslnet::serve

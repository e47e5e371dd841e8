// aslnet eval's options and entry point (also used by aslnet demo).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet::app {

struct EvalOptions {
  std::string checkpoint;
  std::string data;                  // one source (what aslnet demo passes); evaluated before `sources`
  std::vector<std::string> sources;  // DIR, DIR@ORIGIN[+ORIGIN...] or NAME=DIR[@...] (data/sources.h)
  std::string csv, png;              // the total's confusion matrix
  std::string misread_png;           // a contact sheet of the misread photos (report/contact_sheet.h)
  int64_t misread_max = 64;          // the most confident mistakes shown on it
  std::string tta = "none";          // test-time augmentation: none, flip or crops (data/tta.h)
  std::string device = "auto";       // auto (the first GPU when there is one), cpu or cuda
  int64_t batch = 64;                // images per forward pass
  int threads = 0;                   // CPU threads (0: all cores)
  bool json = false;
  bool by_origin = false;  // one reported source per file origin (file_origin) of each source
  bool matrix = false;     // print the total's confusion matrix too
};

void run_eval(const EvalOptions& options);

}  // namespace aslnet::app

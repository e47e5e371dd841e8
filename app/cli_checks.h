// Number checks for the command line's options. CLI11's PositiveNumber, NonNegativeNumber and Range let
// NaN through (every comparison with NaN is false: `--lr nan` trained until the loss broke) and state an
// integer's bounds as 309-digit doubles (`--batch 0`); these refuse NaN and infinities and say what they
// want in a few words.
#pragma once

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "engine/model_info.h"

namespace aslnet::app {

// A finite number within [low, high]; `want` says what is expected ("a positive number").
inline CLI::Validator finite_number(double low, double high, const std::string& want) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0.0;
        size_t used = 0;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          return "expected " + want + ", got '" + text + "'";
        }
        if (used != text.size() || !std::isfinite(value) || value < low || value > high)
          return "expected " + want + ", got " + text;
        return "";
      },
      want);
}

inline CLI::Validator positive() { return finite_number(0x1p-1074, HUGE_VAL, "a positive number"); }
inline CLI::Validator non_negative() { return finite_number(0.0, HUGE_VAL, "a number >= 0"); }
inline CLI::Validator in_range(double low, double high) {
  return finite_number(low, high, fmt::format("a number in [{}, {}]", low, high));
}
// A network's channel multiplier (--width): positive, and at most kMaxWidth (beyond it, a typo).
inline CLI::Validator width_check() {
  return finite_number(0x1p-1074, kMaxWidth, fmt::format("a positive number up to {}", kMaxWidth));
}

}  // namespace aslnet::app

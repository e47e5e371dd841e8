#include "app/suggestion.h"

#include <algorithm>
#include <cctype>

namespace aslnet::app {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Levenshtein distance with adjacent transpositions counted as one edit ("--epcohs").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::vector<std::string> long_option_names(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options())
    for (const std::string& name : opt->get_lnames()) names.push_back("--" + name);
  return names;
}

}  // namespace

std::string nearest(const std::string& given, const std::vector<std::string>& candidates) {
  const std::string g = lower(given);
  std::string best;
  size_t best_distance = std::string::npos;
  for (const std::string& candidate : candidates) {
    const std::string c = lower(candidate);
    const size_t longer = std::max(c.size(), g.size());
    const size_t distance = edit_distance(g, c);
    const bool near = distance <= std::max<size_t>(1, longer / 3) || (g.size() >= 4 && c.rfind(g, 0) == 0);
    if (near && distance < best_distance) best = candidate, best_distance = distance;
  }
  return best;
}

std::string option_suggestion(const CLI::App& cmd, const std::string& given) {
  const std::string name = given.substr(0, given.find('='));
  const std::string best = nearest(name, long_option_names(cmd));
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

const CLI::App& deepest_subcommand(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return *at;
}

std::string unknown_arguments_message(const CLI::App& app, const std::vector<std::string>& extras) {
  const CLI::App& cmd = deepest_subcommand(app);
  const std::string where = &cmd == &app ? "" : cmd.get_name() + ": ";
  std::vector<std::string> parts;
  for (const std::string& extra : extras) {
    if (extra.size() > 1 && extra[0] == '-') {
      parts.push_back("unknown option " + extra.substr(0, extra.find('=')) + option_suggestion(cmd, extra));
    } else if (&cmd == &app) {
      // No subcommand was recognised: a mistyped one.
      std::vector<std::string> names;
      for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
      const std::string best = nearest(extra, names);
      parts.push_back("unknown command " + extra + (best.empty() ? "" : " (did you mean " + best + "?)"));
    } else {
      parts.push_back("unexpected argument " + extra);
    }
  }
  std::string message = where;
  for (size_t i = 0; i < parts.size(); ++i) message += (i ? "; " : "") + parts[i];
  return message;
}

}  // namespace aslnet::app

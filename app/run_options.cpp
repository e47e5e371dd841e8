#include "app/run_options.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/suggestion.h"
#include "engine/core/error.h"

namespace aslnet::app {

namespace {

bool is_flag(const CLI::Option& opt) { return opt.get_expected_min() == 0; }
bool is_list(const CLI::Option& opt) { return opt.get_items_expected_max() > 1; }

// A value as typed, as JSON: a number when the text is one ("10", "0.1", "1e-4"), else the text
// ("0,1", "resnet18", "00").
nlohmann::json typed(const std::string& text) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) return text;
  try {
    nlohmann::json number = nlohmann::json::parse(text);
    if (number.is_number()) return number;
  } catch (const nlohmann::json::exception&) {
  }
  return text;
}

std::string as_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

// CLI11's text of a list ("[a,b]") as its items.
std::vector<std::string> list_items(const std::string& text) {
  std::string inner = text;
  if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') inner = inner.substr(1, inner.size() - 2);
  std::vector<std::string> items;
  if (inner.empty()) return items;
  std::stringstream stream(inner);
  for (std::string item; std::getline(stream, item, ',');) items.push_back(item);
  return items;
}

std::string dashes(const std::string& name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ASLNET_CHECK(in.good()) << "--config " << path << ": cannot open the file";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string option_key(const CLI::Option& opt) {
  return opt.get_lnames().empty() ? opt.get_single_name() : opt.get_lnames().front();
}

std::string option_flag(const CLI::Option& opt) {
  return opt.get_lnames().empty() ? option_key(opt) : "--" + option_key(opt);
}

nlohmann::json option_values(const CLI::App& cmd, const std::set<std::string>& skip) {
  nlohmann::json out = nlohmann::json::object();
  for (const CLI::Option* constant : cmd.get_options()) {
    // Reading the variable's value goes through the option's default capture, which CLI11 keeps
    // non-const; nothing the parse decided changes.
    auto* opt = const_cast<CLI::Option*>(constant);
    const std::string key = option_key(*opt);
    if (opt == cmd.get_help_ptr() || key.empty() || skip.count(key)) continue;
    if (is_flag(*opt)) {
      out[key] = current_values(*opt)[0] == "true";
      continue;
    }
    std::vector<std::string> values;
    if (opt->count() > 0) {
      values = opt->results();
    } else {
      opt->capture_default_str();
      const std::string now = opt->get_default_str();
      values = is_list(*opt) ? list_items(now) : std::vector<std::string>{now};
    }
    if (is_list(*opt)) {
      nlohmann::json list = nlohmann::json::array();
      for (const std::string& v : values) list.push_back(typed(v));
      out[key] = list;
    } else {
      out[key] = values.empty() ? nlohmann::json("") : typed(values.back());
    }
  }
  return out;
}

std::vector<OptionSetting> settings_from_json(const nlohmann::json& options) {
  std::vector<OptionSetting> settings;
  for (const auto& [key, value] : options.items()) {
    OptionSetting setting{key, {}};
    if (value.is_array())
      for (const nlohmann::json& item : value) setting.values.push_back(as_text(item));
    else if (!value.is_null())
      setting.values.push_back(as_text(value));
    settings.push_back(setting);
  }
  return settings;
}

std::vector<OptionSetting> read_option_file(const std::string& path, const std::string& command) {
  const std::string text = slurp(path);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      ASLNET_CHECK(false) << "--config " << path << ": not valid JSON (" << e.what() << ")";
    }
    ASLNET_CHECK(json.is_object()) << "--config " << path << ": expected a JSON object of options";
    const bool record = json.contains("options") && json["options"].is_object();
    return settings_from_json(record ? json["options"] : json);
  }
  const bool ini = path.size() > 4 && path.substr(path.size() - 4) == ".ini";
  std::vector<CLI::ConfigItem> items;
  try {
    std::istringstream stream(text);
    items = ini ? CLI::ConfigINI().from_config(stream) : CLI::ConfigTOML().from_config(stream);
  } catch (const CLI::Error& e) {
    ASLNET_CHECK(false) << "--config " << path << ": " << e.what();
  }
  std::vector<OptionSetting> settings;
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // a section's start and end
    ASLNET_CHECK(item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == command))
        << "--config " << path << ": '" << item.fullname() << "' is in a section other than [" << command << "]";
    settings.push_back({item.name, item.inputs});
  }
  return settings;
}

CLI::Option* find_option(CLI::App& cmd, const std::string& name, const std::string& origin) {
  const std::string key = dashes(name);
  CLI::Option* opt = cmd.get_option_no_throw("--" + key);
  if (opt == nullptr) opt = cmd.get_option_no_throw(key);  // a positional
  const bool known = opt != nullptr && opt != cmd.get_help_ptr();
  ASLNET_CHECK(known) << origin << ": unknown option '" << name << "'" << option_suggestion(cmd, "--" + key);
  return opt;
}

void set_option(CLI::Option& opt, const std::vector<std::string>& values, const std::string& origin) {
  try {
    opt.add_result(values);
    opt.run_callback();
  } catch (const CLI::Error& e) {
    ASLNET_CHECK(false) << origin << ": " << describe_setting(option_flag(opt), values) << ": " << e.what();
  }
}

std::vector<std::string> current_values(const CLI::Option& opt) {
  if (is_flag(opt)) return {opt.count() > 0 && opt.as<bool>() ? "true" : "false"};
  return opt.results();
}

void apply_settings(CLI::App& cmd, const std::vector<OptionSetting>& settings, const std::string& origin) {
  for (const OptionSetting& s : settings) {
    CLI::Option* opt = find_option(cmd, s.name, origin);
    if (opt->count() > 0) continue;  // given on the command line
    // An empty value is every option's default here (no list or text option defaults to something else).
    if (s.values.empty() || (s.values.size() == 1 && s.values[0].empty())) continue;
    set_option(*opt, s.values, origin);
  }
}

bool same_values(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  const auto same = [](const std::string& x, const std::string& y) {
    if (x == y) return true;
    const auto truth = [](const std::string& s) { return s == "true" || s == "1" || s == "on" || s == "yes"; };
    const auto falsity = [](const std::string& s) { return s == "false" || s == "0" || s == "off" || s == "no"; };
    if ((truth(x) && truth(y)) || (falsity(x) && falsity(y))) return true;
    char* end_x = nullptr;
    char* end_y = nullptr;
    const double vx = std::strtod(x.c_str(), &end_x), vy = std::strtod(y.c_str(), &end_y);
    return !x.empty() && !y.empty() && *end_x == '\0' && *end_y == '\0' && vx == vy;
  };
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

std::string describe_setting(const std::string& flag, const std::vector<std::string>& values) {
  std::string text = flag;
  for (const std::string& v : values) text += " " + (v.empty() ? std::string("''") : v);
  return text;
}

}  // namespace aslnet::app

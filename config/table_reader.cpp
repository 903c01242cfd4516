#include "config/table_reader.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace sluice::config {
namespace {

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

}  // namespace

void FileContext::error(const toml::source_region& where, std::string key, std::string message) const {
  diags->push_back(Diagnostic{file, where.begin.line, where.begin.column, std::move(key), std::move(message)});
}

bool expand_env(std::string_view in, std::string& out, std::string& err) {
  out.clear();
  for (std::size_t i = 0; i < in.size();) {
    if (in[i] != '$' || i + 1 >= in.size() || in[i + 1] != '{') {
      out += in[i++];
      continue;
    }
    const std::size_t close = in.find('}', i + 2);
    if (close == std::string_view::npos) {
      err = "unterminated ${ in \"" + std::string(in) + "\"";
      return false;
    }
    std::string_view ref = in.substr(i + 2, close - i - 2);
    std::string_view fallback;
    bool has_default = false;
    if (auto sep = ref.find(":-"); sep != std::string_view::npos) {
      fallback = ref.substr(sep + 2);
      ref = ref.substr(0, sep);
      has_default = true;
    }
    const std::string var(ref);
    const char* value = std::getenv(var.c_str());
    if (value != nullptr && *value != '\0') {
      out += value;
    } else if (has_default) {
      out += fallback;
    } else {
      err = "environment variable " + var + " is not set (write ${" + var + ":-default} to give a default)";
      return false;
    }
    i = close + 1;
  }
  // A newline from the environment could smuggle structure into values that end up in
  // line-oriented places (logs, librdkafka properties); refuse it.
  if (out.find('\n') != std::string::npos) {
    err = "value contains a newline after ${VAR} expansion";
    return false;
  }
  return true;
}

TableReader::TableReader(const FileContext& ctx, const toml::table& table, std::string path)
    : ctx_(ctx), table_(table), path_(std::move(path)) {}

void TableReader::error(const toml::node* at, std::string_view key, std::string message) const {
  ctx_.error(at != nullptr ? at->source() : table_.source(), key_path(key), std::move(message));
}

const toml::node* TableReader::take(std::string_view key) {
  used_.emplace(key);
  return table_.get(key);
}

bool TableReader::str(std::string_view key, std::string& out, bool required) {
  const toml::node* n = take(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "is required");
    return false;
  }
  const auto* s = n->as_string();
  if (s == nullptr) {
    error(n, key, std::string("must be a string, not ") + type_name(n->type()));
    return false;
  }
  std::string err;
  if (!expand_env(s->get(), out, err)) {
    error(n, key, err);
    return false;
  }
  return true;
}

bool TableReader::integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* i = n->as_integer();
  if (i == nullptr) {
    error(n, key, std::string("must be an integer, not ") + type_name(n->type()));
    return false;
  }
  if (i->get() < lo || i->get() > hi) {
    error(n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " +
                      std::to_string(i->get()));
    return false;
  }
  out = i->get();
  return true;
}

bool TableReader::boolean(std::string_view key, bool& out) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* b = n->as_boolean();
  if (b == nullptr) {
    error(n, key, std::string("must be true or false, not ") + type_name(n->type()));
    return false;
  }
  out = b->get();
  return true;
}

bool TableReader::str_list(std::string_view key, std::vector<std::string>& out, bool required) {
  const toml::node* n = take(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "is required");
    return false;
  }
  const auto* a = n->as_array();
  if (a == nullptr) {
    error(n, key, std::string("must be an array of strings, not ") + type_name(n->type()));
    return false;
  }
  out.clear();
  bool ok = true;
  for (std::size_t idx = 0; idx < a->size(); ++idx) {
    const toml::node& e = *a->get(idx);
    const std::string k = std::string(key) + "[" + std::to_string(idx) + "]";
    std::string v;
    std::string err;
    if (const auto* s = e.as_string(); s == nullptr) {
      error(&e, k, std::string("must be a string, not ") + type_name(e.type()));
      ok = false;
    } else if (!expand_env(s->get(), v, err)) {
      error(&e, k, err);
      ok = false;
    } else {
      out.push_back(std::move(v));
    }
  }
  return ok;
}

bool TableReader::uint_pair(std::string_view key, std::array<std::uint32_t, 2>& out, std::int64_t lo,
                            std::int64_t hi) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* a = n->as_array();
  if (a == nullptr || a->size() != 2 || !a->get(0)->is_integer() || !a->get(1)->is_integer()) {
    error(n, key, "must be an array of two integers [min, max]");
    return false;
  }
  const std::int64_t mn = a->get(0)->as_integer()->get();
  const std::int64_t mx = a->get(1)->as_integer()->get();
  if (mn < lo || mx > hi || mn > mx) {
    error(n, key, "needs " + std::to_string(lo) + " <= min <= max <= " + std::to_string(hi));
    return false;
  }
  out = {static_cast<std::uint32_t>(mn), static_cast<std::uint32_t>(mx)};
  return true;
}

bool TableReader::scalar_map(std::string_view key, std::map<std::string, std::string>& out,
                             std::map<std::string, Diagnostic>* sources) {
  const toml::node* n = take(key);
  if (n == nullptr) return false;
  const auto* t = n->as_table();
  if (t == nullptr) {
    error(n, key, std::string("must be a table, not ") + type_name(n->type()));
    return false;
  }
  bool ok = true;
  for (const auto& [k, v] : *t) {
    const std::string kp = std::string(key) + "." + std::string(k.str());
    std::string value;
    if (const auto* s = v.as_string()) {
      std::string err;
      if (!expand_env(s->get(), value, err)) {
        error(&v, kp, err);
        ok = false;
        continue;
      }
    } else if (const auto* i = v.as_integer()) {
      value = std::to_string(i->get());
    } else if (const auto* b = v.as_boolean()) {
      value = b->get() ? "true" : "false";
    } else {
      error(&v, kp, std::string("must be a string, integer or boolean, not ") + type_name(v.type()));
      ok = false;
      continue;
    }
    out[std::string(k.str())] = std::move(value);
    if (sources != nullptr) {
      (*sources)[std::string(k.str())] =
          Diagnostic{ctx_.file, k.source().begin.line, k.source().begin.column, key_path(kp), ""};
    }
  }
  return ok;
}

const toml::table* TableReader::table(std::string_view key, bool required) {
  const toml::node* n = take(key);
  if (n == nullptr) {
    if (required) error(nullptr, key, "is required");
    return nullptr;
  }
  if (const auto* t = n->as_table()) return t;
  error(n, key, std::string("must be a table, not ") + type_name(n->type()));
  return nullptr;
}

const toml::array* TableReader::array(std::string_view key) {
  const toml::node* n = take(key);
  if (n == nullptr) return nullptr;
  if (const auto* a = n->as_array()) return a;
  error(n, key, std::string("must be an array, not ") + type_name(n->type()));
  return nullptr;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

void TableReader::finish() {
  for (const auto& [k, v] : table_) {
    if (used_.contains(k.str())) continue;
    // Every key this table knows was asked for (used_), present or not: the nearest of
    // them is what a typo most likely meant.
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, k.str().size() / 3) + 1;
    for (const auto& known : used_) {
      const std::size_t d = edit_distance(k.str(), known);
      if (d < best_distance) {
        best = known;
        best_distance = d;
      }
    }
    ctx_.error(k.source(), key_path(k.str()), best.empty() ? "unknown key" : "unknown key; did you mean \"" + best + "\"?");
  }
}

}  // namespace sluice::config

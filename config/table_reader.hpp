// Strict, position-aware reading of one TOML table: every key must be consumed, every
// value must have the expected type and range, and each problem becomes a Diagnostic
// naming file, line, column and key path. Reading never stops at the first problem.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace sluice::config {

struct FileContext {
  std::string file;
  std::vector<Diagnostic>* diags;
  void error(const toml::source_region& where, std::string key, std::string message) const;
};

// Expands ${VAR} and ${VAR:-default}. Returns false (and sets err) when a variable is
// unset without default, a reference is unterminated, or the result has a newline.
bool expand_env(std::string_view in, std::string& out, std::string& err);

class TableReader {
 public:
  TableReader(const FileContext& ctx, const toml::table& table, std::string path);

  bool has(std::string_view key) const { return table_.contains(key); }
  bool str(std::string_view key, std::string& out, bool required = false);
  bool integer(std::string_view key, std::int64_t& out, std::int64_t lo, std::int64_t hi);
  template <typename I>
  bool uint(std::string_view key, I& out, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = static_cast<std::int64_t>(out);
    if (!integer(key, v, lo, hi)) return false;
    out = static_cast<I>(v);
    return true;
  }
  bool boolean(std::string_view key, bool& out);
  bool str_list(std::string_view key, std::vector<std::string>& out, bool required = false);
  bool uint_pair(std::string_view key, std::array<std::uint32_t, 2>& out, std::int64_t lo, std::int64_t hi);
  // Table of scalars (strings, integers, booleans) kept as strings: librdkafka properties,
  // plugin options.
  // `sources`, if given, receives where each entry was written (message left empty).
  bool scalar_map(std::string_view key, std::map<std::string, std::string>& out,
                  std::map<std::string, Diagnostic>* sources = nullptr);
  const toml::table* table(std::string_view key, bool required = false);
  const toml::array* array(std::string_view key);

  template <typename E>
  bool choice(std::string_view key, E& out, std::initializer_list<std::pair<std::string_view, E>> options) {
    std::string s;
    if (!str(key, s)) return false;
    for (const auto& [name, value] : options) {
      if (s == name) {
        out = value;
        return true;
      }
    }
    std::string allowed;
    for (const auto& [name, value] : options) {
      if (!allowed.empty()) allowed += ", ";
      allowed.append("\"").append(name).append("\"");
    }
    error(table_.get(key), key, "\"" + s + "\" is not one of " + allowed);
    return false;
  }

  // Reports every key that no accessor consumed.
  void finish();

  void error(const toml::node* at, std::string_view key, std::string message) const;
  std::string key_path(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }
  const toml::source_region& where() const { return table_.source(); }
  const FileContext& context() const { return ctx_; }

 private:
  const toml::node* take(std::string_view key);

  const FileContext& ctx_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace sluice::config

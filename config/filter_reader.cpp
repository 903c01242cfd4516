#include "config/filter_reader.hpp"

#include <charconv>
#include <sstream>

namespace sluice::config {
namespace {

// The TOML node a JSON pointer into the table's JSON form names, or the deepest one that
// exists on the way (so an error always has a place).
const toml::node* node_at(const toml::table& t, const std::string& pointer, std::string& dotted) {
  const toml::node* at = &t;
  std::size_t i = 0;
  while (i < pointer.size() && pointer[i] == '/') {
    const std::size_t end = pointer.find('/', i + 1);
    std::string token = pointer.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1);
    for (std::size_t k = 0; (k = token.find('~', k)) != std::string::npos; ++k) {
      token.replace(k, 2, token.compare(k, 2, "~1") == 0 ? "/" : "~");
    }
    const toml::node* next = nullptr;
    if (const auto* table = at->as_table()) {
      next = table->get(token);
      dotted += "." + token;
    } else if (const auto* array = at->as_array()) {
      std::size_t index = 0;
      if (std::from_chars(token.data(), token.data() + token.size(), index).ec == std::errc{}) next = array->get(index);
      dotted += "[" + token + "]";
    }
    if (next == nullptr) break;
    at = next;
    i = end == std::string::npos ? pointer.size() : end;
  }
  return at;
}

}  // namespace

std::vector<Filter> read_filters(TableReader& r, const std::string& path) {
  std::vector<Filter> filters;
  const toml::array* list = r.array("filter");
  if (list == nullptr) return filters;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = path + ".filter[" + std::to_string(i) + "]";
    const toml::node& n = *list->get(i);
    const toml::table* t = n.as_table();
    if (t == nullptr) {
      r.context().error(n.source(), at, "must be a table ([[lambda.filter]])");
      continue;
    }
    if (const toml::node* pattern = t->get("pattern")) {
      const auto text = pattern->value<std::string>();
      if (!text) {
        r.context().error(pattern->source(), at + ".pattern", "must be a string holding a JSON filter pattern");
      } else if (t->size() != 1) {
        r.context().error(t->source(), at, "pattern is the whole filter: give it alone, or write the filter in TOML");
      } else {
        try {
          filters.push_back(compile_filter(*text));
        } catch (const FilterError& e) {
          const std::string where = e.pointer().empty() ? "" : " (at " + e.pointer() + ")";
          r.context().error(pattern->source(), at + ".pattern", std::string(e.what()) + where);
        }
      }
      continue;
    }
    std::ostringstream json;
    json << toml::json_formatter{*t};
    try {
      filters.push_back(compile_filter(json.str()));
    } catch (const FilterError& e) {
      std::string dotted = at;
      const toml::node* place = node_at(*t, e.pointer(), dotted);
      r.context().error(place->source(), dotted, e.what());
    }
  }
  return filters;
}

}  // namespace sluice::config

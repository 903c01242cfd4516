#include "config/filter.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace sluice::config {
namespace {

using json = nlohmann::json;

// Nesting of a value pattern beyond this is refused: nobody filters that deep, and the
// matcher's path comparisons stay short.
constexpr std::size_t kMaxPathDepth = 32;

std::string child(const std::string& pointer, std::string_view token) {
  std::string out = pointer + "/";
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}
std::string child(const std::string& pointer, std::size_t index) { return pointer + "/" + std::to_string(index); }

[[noreturn]] void fail(const std::string& pointer, const std::string& message) { throw FilterError(pointer, message); }

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Literal literal(const json& v, const std::string& at) {
  Literal l;
  if (v.is_string()) {
    l.text = v.get<std::string>();
  } else if (v.is_number()) {
    l.type = Literal::Type::kNumber;
    l.number = v.get<double>();
  } else if (v.is_boolean()) {
    l.type = Literal::Type::kBool;
    l.boolean = v.get<bool>();
  } else if (v.is_null()) {
    l.type = Literal::Type::kNull;
  } else {
    fail(at, "must be a string, number, boolean or null, or an object such as {\"prefix\": \"...\"}");
  }
  return l;
}

std::string text_operand(const json& v, const std::string& at, std::string_view name) {
  if (!v.is_string()) fail(at, std::string(name) + " takes a string");
  return v.get<std::string>();
}

Matcher::Op op_of(const json& v, const std::string& at) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "=") return Matcher::Op::kEq;
    if (s == "<") return Matcher::Op::kLt;
    if (s == "<=") return Matcher::Op::kLe;
    if (s == ">") return Matcher::Op::kGt;
    if (s == ">=") return Matcher::Op::kGe;
  }
  fail(at, "must be one of \"=\", \"<\", \"<=\", \">\", \">=\"");
}

// {"numeric": ["=", 5]}, [">", 0], [">", 0, "<=", 5]: one comparison, or a range (a lower
// bound then an upper one).
void numeric(const json& v, const std::string& at, Matcher& m) {
  if (!v.is_array() || (v.size() != 2 && v.size() != 4)) {
    fail(at, "numeric takes [op, number] or a range [\">\" or \">=\", low, \"<\" or \"<=\", high]");
  }
  for (std::size_t i = 0; i < v.size(); i += 2) {
    const Matcher::Op op = op_of(v[i], child(at, i));
    if (!v[i + 1].is_number() || !std::isfinite(v[i + 1].get<double>())) fail(child(at, i + 1), "must be a number");
    m.comparisons.emplace_back(op, v[i + 1].get<double>());
  }
  if (m.comparisons.size() == 2) {
    const auto [low_op, low] = m.comparisons[0];
    const auto [high_op, high] = m.comparisons[1];
    if ((low_op != Matcher::Op::kGt && low_op != Matcher::Op::kGe) ||
        (high_op != Matcher::Op::kLt && high_op != Matcher::Op::kLe)) {
      fail(at, "a range is a lower bound (\">\" or \">=\") then an upper one (\"<\" or \"<=\")");
    }
    if (!(low < high)) fail(at, "the range is empty: its lower bound is not below its upper bound");
  }
}

void anything_but(const json& v, const std::string& at, Matcher& m) {
  if (v.is_object()) {
    if (v.size() != 1 || (!v.contains("prefix") && !v.contains("suffix"))) {
      fail(at, "anything-but takes a value, a list of values, or {\"prefix\": ...} or {\"suffix\": ...}");
    }
    const bool prefix = v.contains("prefix");
    m.kind = prefix ? Matcher::Kind::kAnythingButPrefix : Matcher::Kind::kAnythingButSuffix;
    m.text = text_operand(v.begin().value(), child(at, v.begin().key()), prefix ? "prefix" : "suffix");
    return;
  }
  m.kind = Matcher::Kind::kAnythingBut;
  if (!v.is_array()) {
    m.literals.push_back(literal(v, at));
    return;
  }
  if (v.empty()) fail(at, "anything-but needs at least one value");
  for (std::size_t i = 0; i < v.size(); ++i) m.literals.push_back(literal(v[i], child(at, i)));
}

Matcher matcher(const json& v, const std::string& at) {
  Matcher m;
  if (!v.is_object()) {
    m.literals.push_back(literal(v, at));
    return m;
  }
  if (v.size() != 1) fail(at, "a matcher object has exactly one key (prefix, suffix, equals-ignore-case, anything-but, numeric or exists)");
  const std::string& name = v.begin().key();
  const json& operand = v.begin().value();
  const std::string in = child(at, name);
  if (name == "prefix") {
    m.kind = Matcher::Kind::kPrefix;
    m.text = text_operand(operand, in, name);
  } else if (name == "suffix") {
    m.kind = Matcher::Kind::kSuffix;
    m.text = text_operand(operand, in, name);
  } else if (name == "equals-ignore-case") {
    m.kind = Matcher::Kind::kEqualsIgnoreCase;
    m.text = ascii_lower(text_operand(operand, in, name));
  } else if (name == "anything-but") {
    anything_but(operand, in, m);
  } else if (name == "numeric") {
    m.kind = Matcher::Kind::kNumeric;
    numeric(operand, in, m);
  } else if (name == "exists") {
    if (!operand.is_boolean()) fail(in, "exists takes true or false");
    m.kind = Matcher::Kind::kExists;
    m.exists = operand.get<bool>();
  } else {
    fail(in, "\"" + name + "\" is not a matcher (prefix, suffix, equals-ignore-case, anything-but, numeric, exists)");
  }
  return m;
}

std::vector<Matcher> rule_list(const json& v, const std::string& at) {
  if (!v.is_array()) fail(at, "must be a list of values or matchers, such as [\"a\", {\"prefix\": \"b\"}]");
  if (v.empty()) fail(at, "an empty list matches nothing");
  std::vector<Matcher> any;
  for (std::size_t i = 0; i < v.size(); ++i) any.push_back(matcher(v[i], child(at, i)));
  return any;
}

void value_fields(const json& v, const std::string& at, std::vector<std::string>& path, Filter& f) {
  if (v.empty()) fail(at, "an empty object matches nothing; name at least one field");
  if (path.size() >= kMaxPathDepth) fail(at, "nested deeper than " + std::to_string(kMaxPathDepth) + " fields");
  for (const auto& [name, sub] : v.items()) {
    path.push_back(name);
    const std::string in = child(at, name);
    if (sub.is_object()) {
      value_fields(sub, in, path, f);
    } else {
      f.all.push_back({Condition::Field::kValue, {}, path, rule_list(sub, in)});
    }
    path.pop_back();
  }
}

}  // namespace

Filter compile_filter(std::string_view pattern_json) {
  const json p = json::parse(pattern_json, nullptr, false);
  if (p.is_discarded()) fail("", "is not JSON");
  if (!p.is_object()) fail("", "must be an object with topic, key, value or headers");
  if (p.empty()) fail("", "an empty filter would match every record; give topic, key, value or headers");
  Filter f;
  for (const auto& [name, v] : p.items()) {
    const std::string at = child("", name);
    if (name == "topic" || name == "key") {
      f.all.push_back({name == "topic" ? Condition::Field::kTopic : Condition::Field::kKey, {}, {}, rule_list(v, at)});
    } else if (name == "value") {
      if (v.is_object()) {
        std::vector<std::string> path;
        value_fields(v, at, path, f);
      } else {
        f.all.push_back({Condition::Field::kValue, {}, {}, rule_list(v, at)});
      }
    } else if (name == "headers") {
      if (!v.is_object() || v.empty()) fail(at, "must be a table of header name = [matchers]");
      for (const auto& [header, rules] : v.items()) {
        f.all.push_back({Condition::Field::kHeader, header, {}, rule_list(rules, child(at, header))});
      }
    } else {
      fail(at, "\"" + name + "\" is not a record field to filter on (topic, key, value, headers)");
    }
  }
  // Only now: the grammar bounds a valid pattern's nesting, and dump() recurses (a
  // pattern string nested 100,000 deep crashed `sluice validate` when dumped first).
  f.pattern = p.dump();
  return f;
}

}  // namespace sluice::config

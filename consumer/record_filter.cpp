#include "consumer/record_filter.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <simdjson.h>

namespace sluice::consumer {
namespace {

using config::Condition;
using config::Literal;
using config::Matcher;
using Scalar = RecordFilter::Scalar;

// Text that came as bytes read as a number: the whole of it, finite.
bool as_number(const Scalar& s, double& out) {
  if (s.type == Scalar::Type::kNumber) {
    out = s.number;
    return true;
  }
  if (s.type != Scalar::Type::kText || !s.raw || s.text.empty()) return false;
  const char* end = s.text.data() + s.text.size();
  const auto [ptr, ec] = std::from_chars(s.text.data(), end, out);
  return ec == std::errc{} && ptr == end && std::isfinite(out);
}

bool equals(const Literal& l, const Scalar& s) {
  switch (l.type) {
    case Literal::Type::kString:
      return s.type == Scalar::Type::kText && s.text == l.text;
    case Literal::Type::kNumber: {
      double n = 0;
      return as_number(s, n) && n == l.number;
    }
    case Literal::Type::kBool:
      return s.type == Scalar::Type::kBool && s.boolean == l.boolean;
    case Literal::Type::kNull:
      return s.type == Scalar::Type::kNull;
  }
  return false;
}

bool equals_ignore_case(std::string_view text, std::string_view lowered) {
  return text.size() == lowered.size() && std::equal(text.begin(), text.end(), lowered.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
         });
}

bool compare(Matcher::Op op, double a, double b) {
  switch (op) {
    case Matcher::Op::kEq: return a == b;
    case Matcher::Op::kLt: return a < b;
    case Matcher::Op::kLe: return a <= b;
    case Matcher::Op::kGt: return a > b;
    case Matcher::Op::kGe: return a >= b;
  }
  return false;
}

bool matches(const Matcher& m, const Scalar& s) {
  const bool text = s.type == Scalar::Type::kText;
  switch (m.kind) {
    case Matcher::Kind::kEquals:
      return equals(m.literals.front(), s);
    case Matcher::Kind::kPrefix:
      return text && s.text.starts_with(m.text);
    case Matcher::Kind::kSuffix:
      return text && s.text.ends_with(m.text);
    case Matcher::Kind::kEqualsIgnoreCase:
      return text && equals_ignore_case(s.text, m.text);
    case Matcher::Kind::kAnythingBut:
      return std::ranges::none_of(m.literals, [&](const Literal& l) { return equals(l, s); });
    case Matcher::Kind::kAnythingButPrefix:
      return text && !s.text.starts_with(m.text);
    case Matcher::Kind::kAnythingButSuffix:
      return text && !s.text.ends_with(m.text);
    case Matcher::Kind::kNumeric: {
      double n = 0;
      return as_number(s, n) &&
             std::ranges::all_of(m.comparisons, [&](const auto& c) { return compare(c.first, n, c.second); });
    }
    case Matcher::Kind::kExists:
      return false;  // decided by presence, not by a value
  }
  return false;
}

bool any_matches(const Condition& c, const Scalar& s) {
  return std::ranges::any_of(c.any, [&](const Matcher& m) { return matches(m, s); });
}

// What a condition says about presence alone: {exists = true/false}.
bool presence_matches(const Condition& c, bool present) {
  return std::ranges::any_of(c.any, [&](const Matcher& m) { return m.kind == Matcher::Kind::kExists && m.exists == present; });
}

Scalar raw_text(const void* p, std::size_t n) {
  Scalar s;
  s.text = std::string_view(static_cast<const char*>(p), n);
  s.raw = true;
  return s;
}

// Offers the scalars at the condition's path below `e` (arrays are transparent: a field
// holding a list matches when one of its elements does, as AWS's filters do).
void visit(const simdjson::dom::element& e, const Condition& c, std::size_t depth, std::vector<bool>::reference seen,
           std::vector<bool>::reference matched) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::ARRAY: {
      simdjson::dom::array list;
      if (e.get_array().get(list) != simdjson::SUCCESS) return;
      for (const simdjson::dom::element x : list) visit(x, c, depth, seen, matched);
      return;
    }
    case Type::OBJECT: {
      if (depth == c.path.size()) return;  // an object where a scalar is wanted
      simdjson::dom::object object;
      simdjson::dom::element child;
      if (e.get_object().get(object) == simdjson::SUCCESS && object.at_key(c.path[depth]).get(child) == simdjson::SUCCESS) {
        visit(child, c, depth + 1, seen, matched);
      }
      return;
    }
    default:
      break;
  }
  if (depth != c.path.size()) return;
  Scalar s;
  switch (e.type()) {
    case Type::STRING:
      s.text = e.get_string().value_unsafe();
      break;
    case Type::INT64:
      s.type = Scalar::Type::kNumber;
      s.number = static_cast<double>(e.get_int64().value_unsafe());
      break;
    case Type::UINT64:
      s.type = Scalar::Type::kNumber;
      s.number = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    case Type::DOUBLE:
      s.type = Scalar::Type::kNumber;
      s.number = e.get_double().value_unsafe();
      break;
    case Type::BOOL:
      s.type = Scalar::Type::kBool;
      s.boolean = e.get_bool().value_unsafe();
      break;
    default:
      s.type = Scalar::Type::kNull;
      break;
  }
  seen = true;
  if (!matched && any_matches(c, s)) matched = true;
}

}  // namespace

RecordFilter::RecordFilter(std::vector<config::Filter> filters)
    : filters_(std::move(filters)), parser_(std::make_unique<simdjson::dom::parser>()) {
  for (const auto& f : filters_) {
    auto& indexes = value_index_.emplace_back();
    for (const auto& c : f.all) {
      indexes.push_back(value_conditions_.size());
      if (c.field == Condition::Field::kValue) value_conditions_.push_back(&c);
    }
  }
  seen_.resize(value_conditions_.size());
  matched_.resize(value_conditions_.size());
}

RecordFilter::~RecordFilter() = default;
RecordFilter::RecordFilter(RecordFilter&&) noexcept = default;
RecordFilter& RecordFilter::operator=(RecordFilter&&) noexcept = default;

void RecordFilter::read_value(const rd_kafka_message_t& m) {
  value_read_ = true;
  std::fill(seen_.begin(), seen_.end(), false);
  std::fill(matched_.begin(), matched_.end(), false);
  value_is_object_ = false;
  if (m.payload == nullptr) return;  // a tombstone: nothing is there
  const char* begin = static_cast<const char*>(m.payload);
  const char* end = begin + m.len;
  const char* first = std::find_if(begin, end, [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; });
  // Only what could be JSON is parsed: plain text is matched as it is, without a pass.
  const bool maybe_json = first != end && (*first == '{' || *first == '[' || *first == '"' || *first == '-' ||
                                           (*first >= '0' && *first <= '9') || *first == 't' || *first == 'f' || *first == 'n');
  // simdjson copies the bytes into its padded buffer: the message's own need no padding.
  // Anything it refuses (not JSON, nested deeper than its limit, a number too large) is
  // matched as text.
  simdjson::dom::element root;
  if (maybe_json && parser_->parse(reinterpret_cast<const std::uint8_t*>(begin), m.len).get(root) == simdjson::SUCCESS) {
    value_is_object_ = root.is_object();
    for (std::size_t i = 0; i < value_conditions_.size(); ++i) visit(root, *value_conditions_[i], 0, seen_[i], matched_[i]);
    return;
  }
  const Scalar text = raw_text(m.payload, m.len);
  for (std::size_t i = 0; i < value_conditions_.size(); ++i) {
    if (!value_conditions_[i]->path.empty()) continue;
    seen_[i] = true;
    matched_[i] = any_matches(*value_conditions_[i], text);
  }
}

bool RecordFilter::holds(const Condition& c, std::size_t value_index, std::string_view topic, const rd_kafka_message_t& m,
                         std::span<const FetchedHeader> headers) {
  switch (c.field) {
    case Condition::Field::kTopic:
      return any_matches(c, raw_text(topic.data(), topic.size())) || presence_matches(c, true);
    case Condition::Field::kKey:
      // A null key is no key: only {exists = false} matches it.
      if (m.key == nullptr) return presence_matches(c, false);
      return any_matches(c, raw_text(m.key, m.key_len)) || presence_matches(c, true);
    case Condition::Field::kHeader: {
      bool present = false;
      for (const auto& h : headers) {
        if (h.name != c.header) continue;
        present = true;
        if (h.value != nullptr && any_matches(c, raw_text(h.value, h.size))) return true;
      }
      return presence_matches(c, present);
    }
    case Condition::Field::kValue: {
      if (!value_read_) read_value(m);
      if (c.path.empty()) return matched_[value_index] || presence_matches(c, m.payload != nullptr);
      // Fields of a value that is not a JSON object: the filter does not apply to it.
      if (!value_is_object_) return false;
      return matched_[value_index] || presence_matches(c, seen_[value_index]);
    }
  }
  return false;
}

bool RecordFilter::admits(std::string_view topic, const rd_kafka_message_t& m, std::span<const FetchedHeader> headers) {
  value_read_ = false;
  for (std::size_t f = 0; f < filters_.size(); ++f) {
    const auto& all = filters_[f].all;
    bool ok = true;
    for (std::size_t i = 0; i < all.size() && ok; ++i) ok = holds(all[i], value_index_[f][i], topic, m, headers);
    if (ok) return true;
  }
  return false;
}

}  // namespace sluice::consumer

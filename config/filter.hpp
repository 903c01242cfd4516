// A lambda's record filters (`[[lambda.filter]]`, docs/filters.md): AWS's event-filtering
// grammar over a record's topic, key, value (its JSON fields when it is a JSON object) and
// headers. A filter is the AND of its conditions; a lambda's filters are OR'ed. This is
// the grammar and its compiled form; the consumer evaluates it (consumer/record_filter).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

// A value a pattern compares with.
struct Literal {
  enum class Type { kString, kNumber, kBool, kNull } type = Type::kString;
  std::string text;     // kString
  double number = 0;    // kNumber
  bool boolean = false; // kBool
};

struct Matcher {
  enum class Kind {
    kEquals,            // literals[0]
    kPrefix,            // text
    kSuffix,            // text
    kEqualsIgnoreCase,  // text, ASCII lower-cased
    kAnythingBut,       // none of literals
    kAnythingButPrefix, // text
    kAnythingButSuffix, // text
    kNumeric,           // every comparison holds
    kExists,            // exists
  };
  enum class Op { kEq, kLt, kLe, kGt, kGe };
  Kind kind = Kind::kEquals;
  std::vector<Literal> literals;
  std::string text;
  std::vector<std::pair<Op, double>> comparisons;
  bool exists = true;
};

// One field of the record and the matchers it must satisfy (any one of them).
struct Condition {
  enum class Field { kTopic, kKey, kValue, kHeader };
  Field field = Field::kValue;
  std::string header;             // kHeader: the header's name (case-sensitive, as in Kafka)
  std::vector<std::string> path;  // kValue: JSON object keys; empty: the value as a whole
  std::vector<Matcher> any;
};

struct Filter {
  std::string pattern;  // the pattern as JSON text (what the children are given)
  std::vector<Condition> all;
};

// A pattern that is not in the grammar; `pointer` is the JSON pointer of the offending
// part ("/value/amount/0"), so that config errors can name its place in the file.
class FilterError : public std::runtime_error {
 public:
  FilterError(std::string pointer, const std::string& message)
      : std::runtime_error(message), pointer_(std::move(pointer)) {}
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

// Compiles a pattern given as JSON text. Throws FilterError.
Filter compile_filter(std::string_view pattern_json);

}  // namespace sluice::config

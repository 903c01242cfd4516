// A base for the readers of librdkafka's statistics report (broker_state.cpp,
// fetch_states.cpp): each streams past the report with nlohmann's SAX interface and
// keeps a few fields, so every event it does not care about is accepted here, and the
// nesting is counted here (depth_ 1 inside the report's object, 2 inside one of its
// values, ...).
#pragma once

#include <nlohmann/json.hpp>

namespace sluice::consumer {

class StatisticsSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool key(string_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 protected:
  int depth_ = 0;
};

}  // namespace sluice::consumer

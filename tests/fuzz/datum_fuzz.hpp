// The check every registry-schema fuzzer makes (worker/datum_schema.hpp): the first byte
// picks one of `schemas`, the rest is the data after the schema id; it must decode to
// JSON or be refused with a reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

template <typename Schema>
std::vector<std::unique_ptr<Schema>> make_schemas(std::initializer_list<const char*> texts) {
  std::vector<std::unique_ptr<Schema>> schemas;
  for (const char* text : texts) schemas.push_back(std::make_unique<Schema>(text));
  return schemas;
}

template <typename Schema>
void fuzz_datum(std::vector<std::unique_ptr<Schema>>& schemas, const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Schema& schema = *schemas[data[0] % schemas.size()];
  std::string json;
  std::string why;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (schema.to_json(bytes, json, why)) {
    if (!nlohmann::json::accept(json)) __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();  // a refusal always says why
  }
}

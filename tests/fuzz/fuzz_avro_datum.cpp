// Avro datums as records carry them (worker/avro_schema.cpp): any bytes against a fixed
// set of schemas covering every Avro type — unions, enums, fixed, maps, arrays, nested
// and recursive records — must decode or be refused with a reason, never crash, leak or
// read out of bounds (Avro C reads an enum's symbol unchecked; sluice checks it), and the
// JSON given for a datum must be JSON.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/avro_schema.hpp"

namespace {

std::vector<std::unique_ptr<sluice::worker::AvroSchema>>& schemas() {
  static std::vector<std::unique_ptr<sluice::worker::AvroSchema>> s = [] {
    std::vector<std::unique_ptr<sluice::worker::AvroSchema>> v;
    for (const char* text : {
             R"({"type":"record","name":"Order","namespace":"n","fields":[{"name":"id","type":"long"},
                {"name":"note","type":["null","string","bytes"]},
                {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID","SHIPPED"]}},
                {"name":"digest","type":{"type":"fixed","name":"D","size":4}},
                {"name":"price","type":["float","double"]},{"name":"ok","type":"boolean"},
                {"name":"lines","type":{"type":"array","items":{"type":"record","name":"L","fields":[{"name":"q","type":"int"}]}}},
                {"name":"attrs","type":{"type":"map","values":["null","L"]}}]})",
             R"({"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"kids","type":{"type":"array","items":"Node"}},{"name":"next","type":["null","Node"]}]})",
             R"(["null","string",{"type":"map","values":{"type":"array","items":"bytes"}}])",
             R"("string")",
         }) {
      v.push_back(std::make_unique<sluice::worker::AvroSchema>(text));
    }
    return v;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto& all = schemas();
  auto& schema = *all[data[0] % all.size()];
  std::string json;
  std::string why;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (schema.to_json(bytes, json, why)) {
    if (!nlohmann::json::accept(json)) __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();  // a refusal always says why
  }
  return 0;
}

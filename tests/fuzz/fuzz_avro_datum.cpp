// Avro datums as records carry them (worker/avro_schema.cpp): any bytes against a fixed
// set of schemas covering every Avro type — unions, enums, fixed, maps, arrays, nested
// and recursive records — must decode or be refused with a reason, never crash, leak or
// read out of bounds (Avro C reads an enum's symbol unchecked; sluice checks it), and the
// JSON given for a datum must be JSON.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datum_fuzz.hpp"
#include "worker/avro_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto schemas = make_schemas<sluice::worker::AvroSchema>({
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
  });
  fuzz_datum(schemas, data, size);
  return 0;
}

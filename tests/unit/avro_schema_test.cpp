// What Avro data become for handlers (docs/formats.md, "Schema-registry records"), with
// datums written by hand from the Avro specification's binary encoding (zig-zag varints,
// length-prefixed strings, union branch indexes) rather than by the library under test.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "worker/avro_schema.hpp"

namespace sluice::worker {
namespace {

using nlohmann::json;

// Avro's zig-zag varint for n.
std::string varint(std::int64_t n) {
  auto z = static_cast<std::uint64_t>((n << 1) ^ (n >> 63));
  std::string out;
  while (z >= 0x80) {
    out += static_cast<char>((z & 0x7F) | 0x80);
    z >>= 7;
  }
  out += static_cast<char>(z);
  return out;
}
std::string str(const std::string& s) { return varint(static_cast<std::int64_t>(s.size())) + s; }

const std::string kSchema = R"({"type":"record","name":"Order","fields":[
  {"name":"id","type":"long"},
  {"name":"note","type":["null","string"]},
  {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID"]}},
  {"name":"raw","type":"bytes"},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"lines","type":{"type":"array","items":"int"}},
  {"name":"attrs","type":{"type":"map","values":"string"}},
  {"name":"ok","type":"boolean"}]})";

std::string order(std::int64_t id, bool with_note) {
  std::string d = varint(id);
  d += with_note ? varint(1) + str("ring twice") : varint(0);
  d += varint(1);                                              // PAID
  d += str(std::string("\x00\xff", 2));                        // bytes
  d += varint(1718687340123);                                  // timestamp-millis
  d += varint(2) + varint(3) + varint(-4) + varint(0);         // [3, -4]
  d += varint(1) + str("k") + str("v") + varint(0);            // {"k": "v"}
  d += std::string("\x01", 1);                                 // true
  return d;
}

TEST(AvroSchema, DatumsBecomeAvrosJsonEncoding) {
  AvroSchema schema(kSchema);
  std::string out;
  std::string why;
  ASSERT_TRUE(schema.to_json(order(-7, true), out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"id":-7,"note":{"string":"ring twice"},"state":"PAID","raw":"\u0000\u00ff",
      "at":1718687340123,"lines":[3,-4],"attrs":{"k":"v"},"ok":true})"));
  ASSERT_TRUE(schema.to_json(order(8, false), out, why)) << why;
  EXPECT_EQ(json::parse(out)["note"], nullptr) << "the same schema object decodes the next datum afresh";
  EXPECT_EQ(json::parse(out)["id"], 8);
}

// A registry schema names the types it uses from other subjects (its references, by full
// name); each is put in where it is first used, a second use stays a name, a reference
// may use another one, and a name relative to the schema's namespace finds its type.
TEST(AvroSchema, ReferencedTypesAreDefinedWhereTheyAreFirstUsed) {
  const std::vector<ReferencedSchema> refs = {
      {"geo.Country", R"({"type":"record","name":"Country","namespace":"geo","fields":[{"name":"code","type":"string"}]})"},
      {"com.example.Address",
       R"({"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"city","type":"string"},
           {"name":"country","type":"geo.Country"}]})"}};
  const std::string customer = R"({"type":"record","name":"Customer","namespace":"com.example","fields":[
      {"name":"name","type":"string"},{"name":"home","type":"Address"},{"name":"work","type":["null","com.example.Address"]},
      {"name":"born","type":"geo.Country"}]})";
  AvroSchema schema(customer, refs);
  const std::string address = str("Oslo") + str("NO");
  std::string out, why;
  ASSERT_TRUE(schema.to_json(str("ann") + address + varint(1) + str("Rome") + str("IT") + str("SE"), out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"name":"ann","home":{"city":"Oslo","country":{"code":"NO"}},
      "work":{"com.example.Address":{"city":"Rome","country":{"code":"IT"}}},"born":{"code":"SE"}})"));
  EXPECT_THROW(AvroSchema(customer, std::vector<ReferencedSchema>{refs[1]}), std::runtime_error)
      << "geo.Country is missing: Avro C refuses the unknown name";
  EXPECT_THROW(AvroSchema(customer, std::vector<ReferencedSchema>{{"geo.Country", "{"}}), std::runtime_error);
}

TEST(AvroSchema, BytesThatAreNotADatumOfTheSchemaAreRefusedWithAReason) {
  AvroSchema schema(kSchema);
  const std::string good = order(1, true);
  std::string out;
  std::string why;
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_FALSE(schema.to_json(good.substr(0, cut), out, why)) << "a datum cut short at byte " << cut;
  }
  EXPECT_FALSE(schema.to_json(good + "x", out, why));
  EXPECT_EQ(why, "bytes left over after a datum of the schema");
  std::string bad_branch = good;
  bad_branch[1] = varint(5)[0];  // union index 5 of a two-branch union
  EXPECT_FALSE(schema.to_json(bad_branch, out, why));
  std::string bad_symbol = order(1, false);
  bad_symbol[2] = varint(9)[0];  // enum symbol 9 of two
  EXPECT_FALSE(schema.to_json(bad_symbol, out, why));
  const std::string huge_string = varint(1) + varint(1) + varint(std::int64_t{1} << 60);
  EXPECT_FALSE(schema.to_json(huge_string, out, why)) << "a length far past the bytes given";
  EXPECT_TRUE(schema.to_json(good, out, why)) << "and it still decodes a good one: " << why;
}

TEST(AvroSchema, ASchemaAvroCannotParseIsAnErrorNamingWhy) {
  EXPECT_THROW(AvroSchema("{\"type\":\"record\"}"), std::runtime_error);
  EXPECT_THROW(AvroSchema("not json"), std::runtime_error);
  try {
    AvroSchema("{\"type\":\"nosuchtype\"}");
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not an Avro schema"), std::string::npos) << e.what();
  }
}

// A datum's lengths and counts are the record's word, not the truth: a few bytes asking
// for a terabyte string or 2^40 nulls (which take no bytes each) are refused at once,
// without the allocation or the loop.
TEST(AvroSchema, ADatumCannotMakeTheWorkerAllocateOrLoopFarBeyondItsSize) {
  std::string out;
  std::string why;
  AvroSchema nulls(R"({"type":"array","items":"null"})");
  EXPECT_FALSE(nulls.to_json(varint(std::int64_t{1} << 40) + varint(0), out, why));
  EXPECT_NE(why.find("Couldn't expand array"), std::string::npos) << why;
  ASSERT_TRUE(nulls.to_json(varint(3) + varint(0), out, why)) << "a refused datum spoils nothing for the next: " << why;
  EXPECT_EQ(out, "[null,null,null]");
  AvroSchema text(R"("string")");
  EXPECT_FALSE(text.to_json(varint(std::int64_t{1} << 40) + "abc", out, why));
  AvroSchema map(R"({"type":"map","values":"null"})");
  EXPECT_FALSE(map.to_json(varint(std::int64_t{1} << 40) + varint(0), out, why));
}

// A linked list nested 100,000 deep is 100,001 bytes: Avro C's recursive reader would
// overflow the worker's stack on it (it did, at 40,000 levels). It is refused instead; a
// short list decodes, and a schema that merely reuses a named type is not recursive.
TEST(AvroSchema, DataOfARecursiveSchemaCannotNestDeepEnoughToTakeTheWorkerDown) {
  AvroSchema list(R"({"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]})");
  std::string out;
  std::string why;
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += varint(i % 50) + varint(1);
  deep += varint(0) + varint(0);
  EXPECT_FALSE(list.to_json(deep, out, why));
  EXPECT_NE(why.find("recursive schema"), std::string::npos) << why;
  const std::string two = varint(1) + varint(1) + varint(2) + varint(0);
  ASSERT_TRUE(list.to_json(two, out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"v":1,"next":{"Node":{"v":2,"next":null}}})"));
  std::string nested;  // 200 levels of 2-byte nodes fit the byte limit but not the printer's depth
  for (int i = 0; i < 300; ++i) nested += varint(0) + varint(1);
  nested += varint(0) + varint(0);
  EXPECT_FALSE(list.to_json(nested, out, why));
  EXPECT_NE(why.find("nests deeper than"), std::string::npos) << why;

  AvroSchema reuse(R"({"type":"record","name":"Pair","fields":[
    {"name":"a","type":{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}},{"name":"b","type":"P"},
    {"name":"c","type":{"type":"array","items":"int"}}]})");
  std::string big = varint(1) + varint(2) + varint(1500);
  for (int i = 0; i < 1500; ++i) big += varint(100);  // two bytes each: past kMaxRecursiveBytes
  big += varint(0);
  ASSERT_GT(big.size(), AvroSchema::kMaxRecursiveBytes);
  ASSERT_TRUE(reuse.to_json(big, out, why)) << why;
  const auto j = json::parse(out);
  EXPECT_EQ(j["a"], json::parse(R"({"x":1})"));
  EXPECT_EQ(j["b"], json::parse(R"({"x":2})"));
  EXPECT_EQ(j["c"].size(), 1500U);
}

}  // namespace
}  // namespace sluice::worker

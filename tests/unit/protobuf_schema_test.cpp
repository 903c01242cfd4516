// What Protobuf data become for handlers (docs/formats.md, "Schema-registry records"),
// with messages written by hand from the Protobuf encoding (tags, varints, length-
// delimited fields) and Confluent's message indexes, not by the library under test.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "worker/protobuf_schema.hpp"

namespace sluice::worker {
namespace {

using nlohmann::json;

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string tag(int field, int wire_type) { return varint(static_cast<std::uint64_t>(field << 3 | wire_type)); }
std::string len_field(int field, const std::string& bytes) { return tag(field, 2) + varint(bytes.size()) + bytes; }
std::string int_field(int field, std::uint64_t v) { return tag(field, 0) + varint(v); }

// tests/golden/schemas/order.proto (the integration test's schema too): nested,
// oneof, enum, repeated, map and a well-known type.
const std::string kSchema = [] {
  std::ifstream f(std::string(GOLDEN_DIR) + "/schemas/order.proto");
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}();

std::string order() {
  std::string m = int_field(1, 7) + len_field(2, "hi") + len_field(3, "a") + len_field(3, "b") + int_field(4, 1);
  m += len_field(5, len_field(1, "ann"));
  m += int_field(7, 5);
  m += len_field(8, len_field(1, "k") + int_field(2, 3));      // a map entry: key 1, value 2
  m += len_field(9, int_field(1, 1718687340));                 // Timestamp.seconds
  m += len_field(10, len_field(1, "x") + int_field(2, 2));
  return m;
}

TEST(ProtobufSchema, MessagesBecomeProtobufsJsonMappingChosenByTheirIndexes) {
  ProtobufSchema schema(kSchema);
  EXPECT_EQ(schema.data_format(), "PROTOBUF");
  std::string out;
  std::string why;
  // Index count 0: the schema's first message.
  ASSERT_TRUE(schema.to_json(std::string(1, '\0') + order(), out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"id":"7","note":"hi","tags":["a","b"],"status":"PAID",
      "customer":{"name":"ann"},"voucher":5,"counts":{"k":3},"created":"2024-06-18T05:09:00Z",
      "lines":[{"sku":"x","qty":2}]})")) << out;
  // Indexes [1]: the second top-level message; [0, 1]: the second type nested in the first
  // (the map field's entry type, declared before it, is the first, as in the descriptor).
  ASSERT_TRUE(schema.to_json(varint(2) + varint(2) + len_field(1, "bob"), out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"name":"bob"})"));
  ASSERT_TRUE(schema.to_json(varint(4) + varint(0) + varint(2) + len_field(1, "y"), out, why)) << why;
  EXPECT_EQ(json::parse(out), json::parse(R"({"sku":"y","qty":0})")) << "a zero is printed, not left out";
  // An empty message is all defaults.
  ASSERT_TRUE(schema.to_json(std::string(1, '\0'), out, why)) << why;
  EXPECT_EQ(json::parse(out)["id"], "0");
}

TEST(ProtobufSchema, BytesThatAreNotAMessageOfTheSchemaAreRefusedWithAReason) {
  ProtobufSchema schema(kSchema);
  std::string out;
  std::string why;
  EXPECT_FALSE(schema.to_json(varint(2) + varint(10), out, why));
  EXPECT_EQ(why, "message index 5 names no message of the schema");
  EXPECT_FALSE(schema.to_json(varint(4) + varint(0) + varint(8), out, why));
  EXPECT_EQ(why, "message index 4 names no message of the schema");
  EXPECT_FALSE(schema.to_json(varint(2) + varint(1), out, why)) << "a negative index";
  EXPECT_FALSE(schema.to_json("", out, why));
  EXPECT_EQ(why, "the message indexes after the schema id cannot be read");
  EXPECT_FALSE(schema.to_json(varint(200), out, why)) << "more indexes than any schema nests";
  EXPECT_FALSE(schema.to_json(std::string(1, '\0') + tag(2, 2) + varint(5) + "h", out, why)) << "a field cut short";
  EXPECT_EQ(why, "the bytes are not a shop.Order message");
  EXPECT_FALSE(schema.to_json(std::string(1, '\0') + len_field(2, "\xff\xfe"), out, why)) << "proto3 strings are UTF-8";
  EXPECT_FALSE(schema.to_json(std::string(1, '\0') + tag(1, 7), out, why)) << "no wire type 7";
  // Deeper than the parser's recursion limit: refused, not a stack overflow.
  ProtobufSchema tree("syntax = \"proto3\"; message T { T child = 1; }");
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep = len_field(1, deep);
  EXPECT_FALSE(tree.to_json(std::string(1, '\0') + deep, out, why));
  ASSERT_TRUE(schema.to_json(std::string(1, '\0') + order(), out, why)) << "and it still decodes a good one: " << why;
}

TEST(ProtobufSchema, Proto2RequiredFieldsMustBeThere) {
  ProtobufSchema schema("syntax = \"proto2\"; message M { required int32 a = 1; optional string b = 2; }");
  std::string out;
  std::string why;
  EXPECT_FALSE(schema.to_json(std::string(1, '\0') + len_field(2, "x"), out, why));
  EXPECT_EQ(why, "the M message lacks required fields: a");
  ASSERT_TRUE(schema.to_json(std::string(1, '\0') + int_field(1, 1), out, why)) << why;
  EXPECT_EQ(json::parse(out)["a"], 1);
  // proto2 does not check strings are UTF-8; the JSON a handler gets must be.
  EXPECT_FALSE(schema.to_json(std::string(1, '\0') + int_field(1, 1) + len_field(2, "\xc0\xb7"), out, why));
  EXPECT_EQ(why, "a string of the M message is not UTF-8");
}

// A registry reference is the file its name imports; references come each after those it
// imports, and a message of the schema may hold messages of any of them.
TEST(ProtobufSchema, ImportsResolveToTheSchemasReferences) {
  const std::vector<ReferencedSchema> refs = {
      {"geo/country.proto", "syntax = \"proto3\"; package geo; message Country { string code = 1; }"},
      {"shop/address.proto",
       "syntax = \"proto3\"; package shop; import \"geo/country.proto\"; message Address { string city = 1; "
       "geo.Country country = 2; }"}};
  ProtobufSchema schema("syntax = \"proto3\"; package shop; import \"shop/address.proto\"; "
                        "message Customer { string name = 1; Address home = 2; }",
                        refs);
  // Customer{name: "ann", home: {city: "Oslo", country: {code: "NO"}}}
  const std::string country = len_field(1, "NO");
  const std::string address = len_field(1, "Oslo") + len_field(2, country);
  std::string out, why;
  ASSERT_TRUE(schema.to_json(std::string(1, '\0') + len_field(1, "ann") + len_field(2, address), out, why)) << why;
  EXPECT_EQ(nlohmann::json::parse(out),
            nlohmann::json::parse(R"({"name":"ann","home":{"city":"Oslo","country":{"code":"NO"}}})"));
  try {
    ProtobufSchema broken("syntax = \"proto3\"; import \"a.proto\"; message M { int32 x = 1; }",
                          std::vector<ReferencedSchema>{{"a.proto", "syntax = \"proto3\"; message A { int32 x = 1 }"}});
    FAIL() << "a reference that is not a schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the reference \"a.proto\" is not a Protobuf schema: line 1"), std::string::npos)
        << e.what();
  }
}

TEST(ProtobufSchema, ASchemaThatCannotBeUsedIsAnErrorNamingWhy) {
  const auto error_of = [](const std::string& text) {
    try {
      ProtobufSchema schema(text);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("syntax = \"proto3\";\nmessage M { int32 a = 1 }"),
            "the schema is not a Protobuf schema: line 2, column 25: Expected \";\".");
  EXPECT_NE(error_of("syntax = \"proto3\"; import \"other.proto\"; message M { other.O o = 1; }")
                .find("an import that is neither one of the schema's references nor a well-known type"),
            std::string::npos);
  EXPECT_NE(error_of("syntax = \"proto3\"; message M { Unknown u = 1; }").find("\"Unknown\" is not defined"),
            std::string::npos);
  EXPECT_EQ(error_of("syntax = \"proto3\"; enum E { A = 0; }"), "the Protobuf schema defines no message");
}

}  // namespace
}  // namespace sluice::worker

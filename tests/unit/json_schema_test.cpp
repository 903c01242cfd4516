// JSON Schema records: the bytes after the frame are handed on as they are when they
// are one well-formed JSON value, and refused with the parser's reason when not.
#include <gtest/gtest.h>

#include <stdexcept>

#include "worker/json_schema.hpp"

namespace sluice::worker {
namespace {

const char* kSchema = R"({"type":"object","properties":{"id":{"type":"integer"}}})";

TEST(JsonSchema, WellFormedDataIsHandedOnAsItIs) {
  JsonSchema schema(kSchema);
  EXPECT_EQ(schema.data_format(), "JSON");
  std::string json, error;
  // Every digit kept: a DOM round trip would turn this integer into a double.
  ASSERT_TRUE(schema.to_json(R"({"id": 123456789012345678901234567890, "name": "caf\u00e9 ü"})", json, error)) << error;
  EXPECT_EQ(json, R"({"id": 123456789012345678901234567890, "name": "caf\u00e9 ü"})");
  ASSERT_TRUE(schema.to_json(" \n[1, 2.50]\r\n", json, error)) << error;
  EXPECT_EQ(json, "[1, 2.50]") << "surrounding white space is dropped, nothing else changes";
  ASSERT_TRUE(schema.to_json("null", json, error));
  EXPECT_EQ(json, "null");
}

TEST(JsonSchema, DataThatIsNotOneJsonValueIsRefusedWithAReason) {
  JsonSchema schema(kSchema);
  std::string json = "untouched", error;
  for (const std::string& bad : {std::string(""), std::string("  "), std::string("{\"id\": 1"), std::string("{} {}"),
                                std::string("{\"a\": \"\xff\"}"), std::string("[1,]"), std::string("\x00", 1),
                                std::string("1\0, 2", 5)}) {
    error.clear();
    EXPECT_FALSE(schema.to_json(bad, json, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_EQ(json, "untouched");
  schema.to_json("{} {}", json, error);
  EXPECT_NE(error.find("the data is not JSON: "), std::string::npos) << error;
  EXPECT_NE(error.find("parse error"), std::string::npos) << "nlohmann's reason, with where: " << error;
}

TEST(JsonSchema, ASchemaThatIsNotJsonIsRefused) {
  EXPECT_THROW(JsonSchema("{\"type\": "), std::runtime_error);
  EXPECT_NO_THROW(JsonSchema("true")) << "a boolean is a JSON Schema (it admits everything)";
}

}  // namespace
}  // namespace sluice::worker

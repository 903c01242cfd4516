// Protobuf data as records carry them after the schema id (worker/protobuf_schema.cpp):
// Confluent's message indexes, then a message. Any bytes against a fixed set of schemas
// (scalars of every kind, nested and recursive messages, oneof, maps, enums, well-known
// types, proto2 required fields) must decode or be refused with a reason, never crash
// or read out of bounds, and the JSON given must be JSON.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datum_fuzz.hpp"
#include "worker/protobuf_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto schemas = make_schemas<sluice::worker::ProtobufSchema>({
             R"(syntax = "proto3"; package p;
                import "google/protobuf/timestamp.proto"; import "google/protobuf/struct.proto";
                import "google/protobuf/wrappers.proto"; import "google/protobuf/any.proto";
                message Order { int64 id = 1; string note = 2; bytes raw = 3; repeated sint32 q = 4;
                  fixed64 f = 5; double d = 6; float fl = 7; bool ok = 8; State st = 9;
                  oneof pay { string card = 10; uint32 voucher = 11; }
                  map<string, Line> lines = 12; google.protobuf.Timestamp at = 13;
                  google.protobuf.Struct extra = 14; google.protobuf.Int64Value w = 15;
                  google.protobuf.Any any = 16; repeated Order children = 17;
                  message Line { string sku = 1; int32 qty = 2; } }
                enum State { NEW = 0; PAID = 1; })",
             R"(syntax = "proto2"; message R { required int32 a = 1; optional string s = 2; repeated R r = 3;
                optional group G = 4 { optional int32 x = 5; } })",
  });
  fuzz_datum(schemas, data, size);
  return 0;
}

#include "worker/protobuf_schema.hpp"

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "worker/text_codec.hpp"

namespace sluice::worker {

namespace pb = google::protobuf;

namespace {

// The first error the .proto parser reports, with its place.
class ParseErrors final : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (first.empty()) first = "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1) + ": " + message;
  }
  std::string first;
};

// The first error building the file's descriptors reports (an unknown type, an import
// that is not a well-known type).
class BuildErrors final : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& /*filename*/, const std::string& element, const pb::Message* /*descriptor*/,
                ErrorLocation location, const std::string& message) override {
    if (!first.empty()) return;
    first = (location == IMPORT ? "an import that is neither one of the schema's references nor a well-known type: " : "") +
            (element.empty() ? "" : element + ": ") + message;
  }
  std::string first;
};

// libprotobuf logs what it finds wrong in data to stderr (invalid UTF-8 in a string
// field, for one): a stream of bad records would flood the daemon's log with lines that
// say less than the record's own failure reason does.
void quiet_log(pb::LogLevel /*level*/, const char* /*filename*/, int /*line*/, const std::string& /*message*/) {}

// A Confluent message index: a zigzag varint.
bool read_index(std::string_view& data, std::int64_t& out) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (data.empty()) return false;
    const auto b = static_cast<unsigned char>(data.front());
    data.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      out = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
      return true;
    }
  }
  return false;
}

// The .proto text as a file of the pool's, named `name`; throws with the parser's first
// error, `what` naming the text.
pb::FileDescriptorProto parse_proto(std::string_view text, const std::string& name, const std::string& what) {
  pb::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  ParseErrors parse_errors;
  pb::io::Tokenizer tokenizer(&input, &parse_errors);
  pb::compiler::Parser parser;
  parser.RecordErrorsTo(&parse_errors);
  pb::FileDescriptorProto proto;
  if (!parser.Parse(&tokenizer, &proto) || !parse_errors.first.empty()) {
    throw std::runtime_error(what + " is not a Protobuf schema: " + parse_errors.first);
  }
  proto.set_name(name);
  return proto;
}

}  // namespace

struct ProtobufSchema::State {
  // Over the generated pool, so that imports of protobuf's well-known types (Timestamp,
  // Duration, wrappers, Struct...) resolve to the ones compiled into libprotobuf.
  pb::DescriptorPool pool{pb::DescriptorPool::generated_pool()};
  const pb::FileDescriptor* file = nullptr;
  pb::DynamicMessageFactory factory{&pool};
  // One message per type, reused record after record (Clear() keeps its allocations).
  std::unordered_map<const pb::Descriptor*, std::unique_ptr<pb::Message>> messages;
  std::vector<std::int64_t> indexes;
};

ProtobufSchema::ProtobufSchema(std::string_view proto_text, std::span<const ReferencedSchema> references)
    : s_(std::make_unique<State>()) {
  static std::once_flag quiet;
  std::call_once(quiet, [] { pb::SetLogHandler(&quiet_log); });
  // Each reference is the file its name imports, built before those that import it.
  for (const auto& ref : references) {
    if (s_->pool.FindFileByName(ref.name) != nullptr) continue;  // a well-known type's name, or a repeat
    BuildErrors build_errors;
    const std::string what = "the reference \"" + ref.name + "\"";
    if (s_->pool.BuildFileCollectingErrors(parse_proto(ref.text, ref.name, what), &build_errors) == nullptr) {
      throw std::runtime_error(what + " is not a usable Protobuf schema: " + build_errors.first);
    }
  }
  BuildErrors build_errors;
  s_->file = s_->pool.BuildFileCollectingErrors(parse_proto(proto_text, "sluice-registry-schema.proto", "the schema"),
                                                &build_errors);
  if (s_->file == nullptr) throw std::runtime_error("not a usable Protobuf schema: " + build_errors.first);
  if (s_->file->message_type_count() == 0) throw std::runtime_error("the Protobuf schema defines no message");
}

ProtobufSchema::~ProtobufSchema() = default;

bool ProtobufSchema::to_json(std::string_view data, std::string& json, std::string& error) {
  std::int64_t count = 0;
  if (!read_index(data, count) || count < 0 || static_cast<std::uint64_t>(count) > kMaxIndexes) {
    error = "the message indexes after the schema id cannot be read";
    return false;
  }
  s_->indexes.clear();
  if (count == 0) s_->indexes.push_back(0);  // the schema's first message
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t index = 0;
    if (!read_index(data, index)) {
      error = "the message indexes after the schema id cannot be read";
      return false;
    }
    s_->indexes.push_back(index);
  }
  const pb::Descriptor* type = nullptr;
  for (std::size_t i = 0; i < s_->indexes.size(); ++i) {
    const std::int64_t at = s_->indexes[i];
    const int n = i == 0 ? s_->file->message_type_count() : type->nested_type_count();
    if (at < 0 || at >= n) {
      error = "message index " + std::to_string(at) + " names no message of the schema";
      return false;
    }
    type = i == 0 ? s_->file->message_type(static_cast<int>(at)) : type->nested_type(static_cast<int>(at));
  }
  auto& message = s_->messages[type];
  if (!message) message.reset(s_->factory.GetPrototype(type)->New());
  message->Clear();
  // Nesting in the data is bounded by the parser's recursion limit (100 levels).
  if (!message->ParsePartialFromArray(data.data(), static_cast<int>(data.size()))) {
    error = "the bytes are not a " + type->full_name() + " message";
    return false;
  }
  if (!message->IsInitialized()) {
    error = "the " + type->full_name() + " message lacks required fields: " + message->InitializationErrorString();
    return false;
  }
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;     // the schema's names, as Avro's are
  options.always_print_primitive_fields = true;  // a zero is a value, not a missing field
  json.clear();
  if (const auto status = pb::util::MessageToJsonString(*message, &json, options); !status.ok()) {
    error = "the " + type->full_name() + " message cannot be printed as JSON: " + status.ToString();
    return false;
  }
  // proto2 does not check that strings are UTF-8, and the printer copies their bytes.
  if (!valid_utf8(json)) {
    error = "a string of the " + type->full_name() + " message is not UTF-8";
    return false;
  }
  return true;
}

}  // namespace sluice::worker

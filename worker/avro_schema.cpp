#include "worker/avro_schema.hpp"

#include <avro.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "worker/avro_references.hpp"
#include "worker/json_text.hpp"

namespace sluice::worker {

// Avro C objects are reference-counted C handles: each is released once, here.
struct AvroSchema::State {
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value{};
  bool has_value = false;
  avro_reader_t reader = nullptr;
  bool recursive = false;
  std::unordered_set<void*> tracked;  // allocations of the read under way

  ~State() {
    if (reader != nullptr) avro_reader_free(reader);
    if (has_value) avro_value_decref(&value);
    if (iface != nullptr) avro_value_iface_decref(iface);
    if (schema != nullptr) avro_schema_decref(schema);
  }
};

namespace {

// Deepest data nesting printed: a recursive schema lets data nest as deep as its bytes go.
constexpr int kMaxDepth = 200;

// Avro C trusts the lengths and counts a datum states: a 10-byte record can ask for a
// string of an exabyte or a billion nulls (which take no bytes each). While a datum is
// read, its allocations together may take at most a budget in proportion to its size;
// past that Avro C's allocator fails and so does the read (with "Cannot allocate ...").
thread_local std::size_t t_budget = SIZE_MAX;
// And Avro C 1.11.1 leaks what it allocated for a string or bytes value whose read then
// fails (fuzzing leaked 1.3 GB in 1.5 M refused datums): a record stream could grow a
// worker without bound. What a read allocates is tracked, and what is still tracked
// after a failed read's value is released — memory nothing refers to — is freed here.
thread_local std::unordered_set<void*>* t_tracked = nullptr;

void* budgeted(void* /*user_data*/, void* ptr, std::size_t old_size, std::size_t new_size) {
  if (t_tracked != nullptr && ptr != nullptr) t_tracked->erase(ptr);
  if (new_size == 0) {
    std::free(ptr);  // NOLINT: Avro C's allocator interface is realloc's
    return nullptr;
  }
  if (new_size > old_size) {
    if (new_size - old_size > t_budget) {
      if (t_tracked != nullptr && ptr != nullptr) t_tracked->insert(ptr);  // still theirs
      return nullptr;
    }
    if (t_budget != SIZE_MAX) t_budget -= new_size - old_size;
  }
  void* p = std::realloc(ptr, new_size);  // NOLINT
  if (t_tracked != nullptr) t_tracked->insert(p != nullptr ? p : ptr);
  return p;
}

// While a datum is read: its budget, and its allocations tracked.
class Reading {
 public:
  Reading(std::size_t datum_bytes, std::unordered_set<void*>& tracked) : tracked_(tracked) {
    t_budget = std::max<std::size_t>(1 << 20, datum_bytes * 64);
    tracked_.clear();
    t_tracked = &tracked_;
  }
  ~Reading() { end(); }
  Reading(const Reading&) = delete;
  Reading& operator=(const Reading&) = delete;
  void end() {
    t_budget = SIZE_MAX;
    t_tracked = nullptr;
  }
  // After a failed read whose value was released (so its frees untracked what it held):
  // the rest was lost by Avro C.
  void free_lost() {
    end();
    for (void* p : tracked_) std::free(p);  // NOLINT
    tracked_.clear();
  }

 private:
  std::unordered_set<void*>& tracked_;
};

std::string avro_error() {
  std::string why = avro_strerror();
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why.empty() ? "unknown Avro error" : why;
}

// Avro's JSON encoding of bytes and fixed: each byte is the code point of that value.
std::string latin1_to_utf8(const void* data, std::size_t size) {
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const auto c = static_cast<const unsigned char*>(data)[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// Whether the schema refers to a type that encloses the reference (a linked list, a
// tree): data of it can nest as deep as its bytes allow. Avro C keeps every reference
// to a named type as a link, reused or recursive; a depth-first walk tells them apart
// (a link back to a schema on the current path is a cycle).
bool recursive(avro_schema_t s, std::vector<avro_schema_t>& path, std::unordered_set<avro_schema_t>& done) {
  if (s == nullptr || path.size() > 1000) return true;  // deeper than any schema Avro C parses
  if (avro_typeof(s) == AVRO_LINK) s = avro_schema_link_target(s);
  if (std::find(path.begin(), path.end(), s) != path.end()) return true;
  if (done.contains(s)) return false;
  path.push_back(s);
  bool found = false;
  switch (avro_typeof(s)) {
    case AVRO_RECORD:
      for (std::size_t i = 0; i < avro_schema_record_size(s) && !found; ++i) {
        found = recursive(avro_schema_record_field_get_by_index(s, static_cast<int>(i)), path, done);
      }
      break;
    case AVRO_ARRAY: found = recursive(avro_schema_array_items(s), path, done); break;
    case AVRO_MAP: found = recursive(avro_schema_map_values(s), path, done); break;
    case AVRO_UNION:
      for (std::size_t i = 0; i < avro_schema_union_size(s) && !found; ++i) {
        found = recursive(avro_schema_union_branch(s, static_cast<int>(i)), path, done);
      }
      break;
    default: break;
  }
  path.pop_back();
  done.insert(s);
  return found;
}

std::string full_name(avro_schema_t s) {
  // A use of a type defined earlier is a link, which has the name but not the namespace.
  while (is_avro_link(s)) s = avro_schema_link_target(s);
  const char* ns = avro_schema_namespace(s);
  const std::string name = avro_schema_type_name(s);
  return ns != nullptr && *ns != '\0' ? std::string(ns) + "." + name : name;
}

// Avro C's own avro_value_to_json stops a bytes value at its first NUL and drops bytes
// that are not UTF-8, so the value is walked here (the decoding is still Avro C's) and
// printed straight to text.
bool print(avro_value_t& v, std::string& out, std::string& why, int depth) {
  if (depth > kMaxDepth) {
    why = "the datum nests deeper than " + std::to_string(kMaxDepth) + " levels";
    return false;
  }
  switch (avro_value_get_type(&v)) {
    case AVRO_NULL:
      out += "null";
      return true;
    case AVRO_BOOLEAN: {
      int b = 0;
      avro_value_get_boolean(&v, &b);
      out += b != 0 ? "true" : "false";
      return true;
    }
    case AVRO_INT32: {
      std::int32_t i = 0;
      avro_value_get_int(&v, &i);
      append_json_number(out, std::int64_t{i});
      return true;
    }
    case AVRO_INT64: {
      std::int64_t i = 0;
      avro_value_get_long(&v, &i);
      append_json_number(out, i);
      return true;
    }
    case AVRO_FLOAT: {
      float f = 0;
      avro_value_get_float(&v, &f);
      append_json_number(out, f);
      return true;
    }
    case AVRO_DOUBLE: {
      double d = 0;
      avro_value_get_double(&v, &d);
      append_json_number(out, d);
      return true;
    }
    case AVRO_STRING: {
      const char* s = nullptr;
      std::size_t size = 0;
      avro_value_get_string(&v, &s, &size);
      if (!append_json_string(out, {s, size == 0 ? 0 : size - 1})) {  // Avro C counts the terminating NUL
        why = "a string of the datum is not UTF-8";
        return false;
      }
      return true;
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
      const void* b = nullptr;
      std::size_t size = 0;
      if (avro_value_get_type(&v) == AVRO_BYTES) avro_value_get_bytes(&v, &b, &size);
      else avro_value_get_fixed(&v, &b, &size);
      append_json_string(out, latin1_to_utf8(b, size));  // always UTF-8
      return true;
    }
    case AVRO_ENUM: {
      int symbol = 0;
      avro_value_get_enum(&v, &symbol);
      // Avro C reads any index and looks symbols up unchecked: a record's byte must not
      // make it read past the symbol table.
      const avro_schema_t schema = avro_value_get_schema(&v);
      const char* name = symbol >= 0 && symbol < avro_schema_enum_number_of_symbols(schema)
                             ? avro_schema_enum_get(schema, symbol)
                             : nullptr;
      if (name == nullptr || !append_json_string(out, name)) {
        why = "enum symbol " + std::to_string(symbol) + " is not in the schema";
        return false;
      }
      return true;
    }
    case AVRO_RECORD:
    case AVRO_MAP:
    case AVRO_ARRAY: {
      const bool array = avro_value_get_type(&v) == AVRO_ARRAY;
      out += array ? '[' : '{';
      std::size_t n = 0;
      avro_value_get_size(&v, &n);
      for (std::size_t i = 0; i < n; ++i) {
        avro_value_t child;
        const char* name = nullptr;
        if (avro_value_get_by_index(&v, i, &child, &name) != 0) {
          why = avro_error();
          return false;
        }
        if (i != 0) out += ',';
        if (!array) {
          if (!append_json_string(out, name != nullptr ? name : "")) {
            why = "a map key of the datum is not UTF-8";
            return false;
          }
          out += ':';
        }
        if (!print(child, out, why, depth + 1)) return false;
      }
      out += array ? ']' : '}';
      return true;
    }
    case AVRO_UNION: {
      avro_value_t branch;
      int index = 0;
      avro_value_get_discriminant(&v, &index);
      if (avro_value_get_current_branch(&v, &branch) != 0) {
        why = avro_error();
        return false;
      }
      if (avro_value_get_type(&branch) == AVRO_NULL) {
        out += "null";
        return true;
      }
      // A union's value is wrapped in an object naming its branch.
      out += '{';
      append_json_string(out, full_name(avro_schema_union_branch(avro_value_get_schema(&v), index)));
      out += ':';
      if (!print(branch, out, why, depth + 1)) return false;
      out += '}';
      return true;
    }
    default:
      why = "a value of a type sluice cannot print";
      return false;
  }
}

}  // namespace

AvroSchema::AvroSchema(std::string_view schema_json, std::span<const ReferencedSchema> references)
    : s_(std::make_unique<State>()) {
  static std::once_flag installed;
  std::call_once(installed, [] { avro_set_allocator(&budgeted, nullptr); });
  std::string whole;
  if (!references.empty()) {
    whole = inline_avro_references(schema_json, references);
    schema_json = whole;
  }
  if (avro_schema_from_json_length(schema_json.data(), schema_json.size(), &s_->schema) != 0) {
    throw std::runtime_error("not an Avro schema: " + avro_error());
  }
  s_->iface = avro_generic_class_from_schema(s_->schema);
  if (s_->iface == nullptr || avro_generic_value_new(s_->iface, &s_->value) != 0) {
    throw std::runtime_error("cannot build a reader for the Avro schema: " + avro_error());
  }
  s_->has_value = true;
  std::vector<avro_schema_t> path;
  std::unordered_set<avro_schema_t> done;
  s_->recursive = recursive(s_->schema, path, done);
  s_->reader = avro_reader_memory(nullptr, 0);
  if (s_->reader == nullptr) throw std::runtime_error("cannot make an Avro reader");
}

AvroSchema::~AvroSchema() = default;

bool AvroSchema::to_json(std::string_view bytes, std::string& json, std::string& error) {
  if (s_->recursive && bytes.size() > kMaxRecursiveBytes) {
    // Avro C reads recursively, a level per byte or two: 40,000 levels overflowed an
    // 8 MiB stack here. Until reading moves to a stack sized for the record, such data
    // is refused rather than allowed to take the worker down.
    error = "a datum of a recursive schema longer than " + std::to_string(kMaxRecursiveBytes) +
            " bytes could nest deeper than sluice reads safely";
    return false;
  }
  // The same value and reader serve every record of this schema: no allocation per
  // record beyond what the datum itself needs.
  if (!s_->has_value && avro_generic_value_new(s_->iface, &s_->value) != 0) {
    error = "cannot make an Avro value: " + avro_error();
    return false;
  }
  s_->has_value = true;
  avro_reader_memory_set_source(s_->reader, bytes.data(), static_cast<int64_t>(bytes.size()));
  avro_value_reset(&s_->value);
  Reading reading(bytes.size(), s_->tracked);
  if (avro_value_read(s_->reader, &s_->value) != 0) {
    error = "the bytes are not a datum of the schema: " + avro_error();
    // A read that failed half way can leave the value unusable for the next datum (a
    // refused array expansion did): start the next one from a new value.
    avro_value_decref(&s_->value);
    reading.free_lost();
    s_->has_value = avro_generic_value_new(s_->iface, &s_->value) == 0;
    return false;
  }
  reading.end();  // what the read allocated now belongs to the value
  if (avro_reader_is_eof(s_->reader) == 0) {
    // Avro C's memory reader says eof only after a read past the end: look one byte on.
    char extra = 0;
    if (avro_read(s_->reader, &extra, 1) == 0) {
      error = "bytes left over after a datum of the schema";
      return false;
    }
  }
  json.clear();
  return print(s_->value, json, error, 0);
}

}  // namespace sluice::worker

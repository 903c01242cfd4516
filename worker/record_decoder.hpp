// What turns a record's key or value into what its handler should see before the call
// (schema-registry decoding, worker/schema_decoder.hpp). The worker loop asks it about
// every record; the plain worker has none.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "worker/schema_ref.hpp"

namespace sluice::worker {

class RecordDecoder {
 public:
  enum class Result {
    kAsIs,         // nothing to decode: the bytes go to the handler unchanged
    kDecoded,      // `out` holds what the handler gets instead
    kFailed,       // the bytes cannot be decoded: the record takes the failure path (`why`)
    kUnavailable,  // what decoding needs cannot be had now (a registry down): try again later
  };
  virtual ~RecordDecoder() = default;
  // bytes: nullptr for a null key or value. `key` says which part it is. On kDecoded,
  // `ref` names the schema.
  virtual Result decode(const char* bytes, std::size_t len, bool key, std::string& out, SchemaRef& ref,
                        std::string& why) = 0;
};

using DecoderFactory = std::unique_ptr<RecordDecoder> (*)(const config::Lambda& lambda);

}  // namespace sluice::worker

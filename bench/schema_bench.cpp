// What schema-registry decoding costs: 1 KiB Confluent-framed Avro values through the
// no-op plugin, decoded to JSON by the worker (`[lambda.schema_registry]`, value_format
// "avro") vs passed as they are (no registry), with 1 and 2 workers. Interleaved runs,
// each in its own consumer group, timed from the first to the last record handled;
// exactly the expected records must arrive (each value carries its sequence number in
// its first field, which the plugin reads from the raw and from the decoded bytes).
// The registry is a cpp-httplib server in this process answering like Confluent's.
//
//   schema_bench [--runs 3] [--messages 100000]
#include <avro.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.hpp"

namespace {
namespace fs = std::filesystem;
using namespace sluice::bench;

// The mock broker keeps about 5 MiB per partition: 100,000 records of 1 KiB need many.
constexpr int kPartitions = 64;
constexpr std::size_t kFramedBytes = 1024;
constexpr std::size_t kRawPrefixAt = 6;      // magic byte, 4-byte id, the id string's length byte
constexpr std::size_t kDecodedPrefixAt = 7;  // {"id":"

// Nested record, optional union, enum, array, map and a logical type: what an order
// event looks like, not a single string.
const char* const kSchema = R"({"type":"record","name":"Order","namespace":"bench","fields":[
  {"name":"id","type":"string"},
  {"name":"seq","type":"long"},
  {"name":"created","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"amount","type":"double"},
  {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}},
  {"name":"customer","type":{"type":"record","name":"Customer","fields":[
    {"name":"name","type":"string"},{"name":"email","type":["null","string"]},{"name":"city","type":"string"}]}},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"attributes","type":{"type":"map","values":"string"}},
  {"name":"note","type":"string"}]})";

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + avro_strerror());
}

// Encodes orders with Avro C (the library sluice decodes with is not on trial here: the
// tests encode with python3-avro) and frames them for schema id 1.
class OrderEncoder {
 public:
  OrderEncoder() {
    check(avro_schema_from_json_length(kSchema, std::strlen(kSchema), &schema_), "schema");
    iface_ = avro_generic_class_from_schema(schema_);
    check(avro_generic_value_new(iface_, &value_), "value");
    note_bytes_ = 0;
    const std::size_t base = encode(0).size();  // a 0-byte note takes one length byte
    // A note of n >= 64 bytes takes two length bytes (zigzag varint).
    note_bytes_ = kFramedBytes - base - 1;
    if (encode(0).size() != kFramedBytes) throw std::runtime_error("cannot size the order to 1 KiB");
  }
  ~OrderEncoder() {
    avro_value_decref(&value_);
    avro_value_iface_decref(iface_);
    avro_schema_decref(schema_);
  }
  OrderEncoder(const OrderEncoder&) = delete;
  OrderEncoder& operator=(const OrderEncoder&) = delete;

  std::string encode(std::uint64_t seq) {
    check(avro_value_reset(&value_), "reset");
    const std::string id = bench_value(seq, 0, SLUICE_BENCH_PREFIX_BYTES);
    set_string("id", id);
    field("seq", [&](avro_value_t& f) { return avro_value_set_long(&f, static_cast<std::int64_t>(seq)); });
    field("created", [&](avro_value_t& f) { return avro_value_set_long(&f, 1718687340123 + static_cast<std::int64_t>(seq)); });
    field("amount", [&](avro_value_t& f) { return avro_value_set_double(&f, 19.99 + static_cast<double>(seq % 100)); });
    field("status", [&](avro_value_t& f) { return avro_value_set_enum(&f, static_cast<int>(seq % 3)); });
    avro_value_t customer;
    avro_value_t f;
    check(avro_value_get_by_name(&value_, "customer", &customer, nullptr), "customer");
    check(avro_value_get_by_name(&customer, "name", &f, nullptr), "name");
    check(avro_value_set_string(&f, "Ann Example"), "name");
    avro_value_t email;
    check(avro_value_get_by_name(&customer, "email", &email, nullptr), "email");
    check(avro_value_set_branch(&email, 1, &f), "email");
    check(avro_value_set_string(&f, "ann@example.com"), "email");
    check(avro_value_get_by_name(&customer, "city", &f, nullptr), "city");
    check(avro_value_set_string(&f, "Oslo"), "city");
    avro_value_t list;
    check(avro_value_get_by_name(&value_, "tags", &list, nullptr), "tags");
    for (const char* tag : {"priority", "gift", "express", "eu"}) {
      check(avro_value_append(&list, &f, nullptr), "tag");
      check(avro_value_set_string(&f, tag), "tag");
    }
    avro_value_t map;
    check(avro_value_get_by_name(&value_, "attributes", &map, nullptr), "attributes");
    for (const char* key : {"channel", "campaign", "warehouse", "carrier"}) {
      check(avro_value_add(&map, key, &f, nullptr, nullptr), "attribute");
      check(avro_value_set_string(&f, "value-of-the-attribute"), "attribute");
    }
    set_string("note", std::string(note_bytes_, 'n'));
    std::size_t size = 0;
    check(avro_value_sizeof(&value_, &size), "sizeof");
    std::string out(5 + size, '\0');
    out[4] = 1;  // magic byte 0, schema id 1 (big-endian)
    avro_writer_t w = avro_writer_memory(out.data() + 5, static_cast<int64_t>(size));
    const int rc = avro_value_write(w, &value_);
    avro_writer_free(w);
    check(rc, "write");
    return out;
  }

 private:
  template <typename Set>
  void field(const char* name, Set set) {
    avro_value_t f;
    check(avro_value_get_by_name(&value_, name, &f, nullptr), name);
    check(set(f), name);
  }
  void set_string(const char* name, const std::string& s) {
    field(name, [&](avro_value_t& f) { return avro_value_set_string_len(&f, s.c_str(), s.size() + 1); });
  }

  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
  std::size_t note_bytes_ = 0;
};

class Registry {
 public:
  Registry() {
    const std::string body = nlohmann::json{{"schema", kSchema}}.dump();
    server_.Get("/schemas/ids/1", [this, body](const httplib::Request&, httplib::Response& res) {
      ++asked_;
      res.set_content(body, "application/vnd.schemaregistry.v1+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Registry() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int asked() const { return asked_.load(); }

 private:
  httplib::Server server_;
  std::atomic<int> asked_{0};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  int runs = 3;
  std::uint64_t messages = 100'000;
  for (std::size_t i = 0; i + 1 < a.size(); i += 2) {
    if (a[i] == "--runs") runs = std::stoi(a[i + 1]);
    if (a[i] == "--messages") messages = std::stoull(a[i + 1]);
  }
  const fs::path dir = fs::temp_directory_path() / ("sluice-schema-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  pid_t broker = -1;
  const std::string bootstrap = start_broker(SLUICE_BIN, {"orders:" + std::to_string(kPartitions)}, dir.string(), broker);
  {
    OrderEncoder encoder;
    produce_values(bootstrap, "orders", kPartitions, messages, [&](std::uint64_t i) { return encoder.encode(i); });
  }
  Registry registry;

  struct Contender {
    std::string name;
    bool decoded;
    int workers;
  };
  const std::vector<Contender> contenders = {
      {"raw-1", false, 1}, {"avro-1", true, 1}, {"raw-2", false, 2}, {"avro-2", true, 2}};
  std::map<std::string, std::vector<double>> tp, cpu;
  bool failed = false;
  for (int r = 0; r < runs; ++r) {
    for (const auto& c : contenders) {
      const std::string stats = (dir / (c.name + std::to_string(r))).string();
      CountersFile counters(stats + ".counters", messages);
      std::ofstream toml(stats + ".toml");
      toml << "instance = \"sb" << getpid() << c.name << r << "\"\nruntime_dir = \"" << dir.string()
           << "/run\"\n[kafka]\nbootstrap_servers = \"" << bootstrap
           << "\"\n[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\"session.timeout.ms\" = \"6000\"\n"
              "\"heartbeat.interval.ms\" = \"500\"\n[[lambda]]\nname = \"orders\"\ntopics = [\"orders\"]\ngroup_id = \""
           << c.name << "-" << r << "\"\nworkers = " << c.workers << "\n[lambda.handler]\ntype = \"plugin\"\npath = \"" NOOP_PLUGIN
           << "\"\noptions = { stats_file = \"" << counters.path() << "\", prefix_at = \""
           << (c.decoded ? kDecodedPrefixAt : kRawPrefixAt) << "\" }\n";
      if (c.decoded) toml << "[lambda.schema_registry]\nurl = \"" << registry.url() << "\"\nvalue_format = \"avro\"\n";
      toml.close();
      const pid_t pid = spawn({SLUICE_BIN, "run", "-c", stats + ".toml"}, stats + ".out");
      const Result res = finish(pid, counters, messages, true, c.name);
      tp[c.name].push_back(res.msgs_per_s);
      cpu[c.name].push_back(res.cpu_us_per_msg);
      std::printf("run %d %-7s %10.0f msg/s  %8.2f CPU us/msg  missing %llu duplicates %llu\n", r, c.name.c_str(),
                  res.msgs_per_s, res.cpu_us_per_msg, static_cast<unsigned long long>(res.missing),
                  static_cast<unsigned long long>(res.duplicates));
      std::fflush(stdout);
      if (res.missing != 0 || res.duplicates != 0) failed = true;
    }
  }
  const int asked = registry.asked();
  stop_process(broker);
  if (getenv("SLUICE_BENCH_KEEP") == nullptr) fs::remove_all(dir);

  std::printf("\n%s\n", machine_line().c_str());
  std::printf("setup: %llu records of %zu bytes (Confluent-framed Avro, one schema), %d partitions, no-op plugin, format "
              "raw; %d interleaved run(s); the registry was asked %d time(s) in all\n",
              static_cast<unsigned long long>(messages), kFramedBytes, kPartitions, runs, asked);
  std::printf("| workers | raw msg/s | decoded msg/s | ratio | raw CPU us/msg | decoded CPU us/msg | decoding's CPU us/msg |\n"
              "|---|---|---|---|---|---|---|\n");
  for (const int w : {1, 2}) {
    const std::string raw = "raw-" + std::to_string(w);
    const std::string avro = "avro-" + std::to_string(w);
    std::printf("| %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", w, median(tp[raw]), median(tp[avro]),
                median(tp[avro]) / median(tp[raw]), median(cpu[raw]), median(cpu[avro]), median(cpu[avro]) - median(cpu[raw]));
  }
  return failed ? 1 : 0;
}

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "config/lambda_json.hpp"

namespace sluice::config {
namespace {
namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("sluice-config-test-" + std::to_string(getpid()));
  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir / "lambdas.d");
    unsetenv("KAFKA_BROKERS");
    unsetenv("SLUICE_TEST_UNSET");
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path write(const std::string& rel, const std::string& text) {
    std::ofstream(dir / rel) << text;
    return dir / rel;
  }
  // Loads and returns every diagnostic as "file:line:col: key: message", with the
  // directory stripped so expectations stay short.
  std::vector<std::string> errors(const fs::path& main) {
    try {
      load(main);
    } catch (const ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& d : e.diagnostics()) {
        std::string s = d.str();
        const std::string prefix = dir.string() + "/";
        if (s.starts_with(prefix)) s = s.substr(prefix.size());
        out.push_back(s);
      }
      return out;
    }
    return {};
  }
  // Each case's file is refused, its first diagnostic exactly `expected`.
  template <typename Cases>
  void expect_first_errors(const Cases& cases) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto errs = errors(write("main.toml", c.text));
      ASSERT_FALSE(errs.empty()) << "accepted:\n" << c.text;
      EXPECT_EQ(errs[0], c.expected);
    }
  }
};

const char* kLambda = R"(
[[lambda]]
name = "orders"
topics = ["orders"]
[lambda.handler]
type = "plugin"
path = "libx.so"
)";

struct BadCase {
  const char* name;
  std::string text;
  std::string expected;  // exact first diagnostic
};

TEST_F(ConfigTest, EveryBadFileNamesFileLineColumnAndKey) {
  const std::string head = "[kafka]\nbootstrap_servers = \"b:9092\"\n";
  write("handler.sh", "#!/bin/sh\n");  // mode 0644: not executable, even for root
  const std::vector<BadCase> cases = {
      {"malformed", "instance = \"x\n", "main.toml:1:"},
      {"unknown top-level key", "bogus = 1\n" + head, "main.toml:1:1: bogus: unknown key"},
      {"unknown lambda key", head + kLambda + "[lambda.extra]\n",
       "main.toml:10:9: lambda[0].extra: unknown key"},
      {"wrong type", "shutdown_timeout_ms = \"3\"\n" + head,
       "main.toml:1:23: shutdown_timeout_ms: must be an integer, not a string"},
      {"out of range", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\nworkers = 0\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:6:11: lambda[0].workers: must be between 1 and 256, not 0"},
      {"missing handler", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n",
       "main.toml:3:1: lambda[0].handler: is required"},
      {"plugin without path", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\n",
       "main.toml:6:1: lambda[0].handler.path: is required for a plugin handler (the shared library)"},
      {"bad enum", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\nordering = \"random\"\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:6:12: lambda[0].ordering: \"random\" is not one of \"partition\", \"key\", \"none\""},
      {"unset env var", "admin_listen = \"${SLUICE_TEST_UNSET}\"\n" + head,
       "main.toml:1:16: admin_listen: environment variable SLUICE_TEST_UNSET is not set (write ${SLUICE_TEST_UNSET:-default} to give a default)"},
      {"dead letter without topic", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\non_failure = \"dead_letter\"\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:6:14: lambda[0].on_failure: \"dead_letter\" needs dead_letter_topic"},
      {"bad lambda name", head + "[[lambda]]\nname = \"a b\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:4:8: lambda[0].name: \"a b\" must be 1-64 letters, digits, '_' or '-'"},
      {"no brokers", "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:1:1: lambda[0].kafka.bootstrap_servers: no brokers: set [kafka] bootstrap_servers in the main file or the lambda, or KAFKA_BROKERS"},
      {"bool of wrong type", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\nstatic_membership = 1\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:6:21: lambda[0].static_membership: must be true or false, not an integer"},
      {"record bigger than ring", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\nring_bytes = 65536\nmax_record_bytes = 65536\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:7:20: lambda[0].max_record_bytes: must be at most half of ring_bytes (65536) minus 128"},
      {"plugin that does not exist", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"/no/such/lib.so\"\n",
       "main.toml:8:8: lambda[0].handler.path: \"/no/such/lib.so\": no such file"},
      {"exec command not executable", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"exec\"\ncommand = [\"" + (dir / "handler.sh").string() + "\", \"x\"]\n",
       "main.toml:8:11: lambda[0].handler.command: \"" + (dir / "handler.sh").string() + "\": not executable: Permission denied"},
      {"exec command not in PATH", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"exec\"\ncommand = [\"no-such-command-xyz\"]\n",
       "main.toml:8:11: lambda[0].handler.command: \"no-such-command-xyz\": not found in PATH"},
      {"http url without a scheme", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"http\"\nurl = \"localhost:8080/f\"\n",
       "main.toml:8:7: lambda[0].handler.url: \"localhost:8080/f\" must start with http:// or https://"},
      {"http CA file missing", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"http\"\nurl = \"https://h/f\"\nca_file = \"/no/ca.pem\"\n",
       "main.toml:9:11: lambda[0].handler.ca_file: \"/no/ca.pem\": no such file"},
      {"http CA file given as a bare name", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"http\"\nurl = \"https://h/f\"\nca_file = \"no-such-ca.pem\"\n",
       "main.toml:9:11: lambda[0].handler.ca_file: \"no-such-ca.pem\": no such file"},
      {"max_concurrency out of range", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"http\"\nurl = \"http://h/f\"\nmax_concurrency = 0\n",
       "main.toml:9:19: lambda[0].handler.max_concurrency: must be between 1 and 1024, not 0"},
      {"max_concurrency for a plugin", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\nmax_concurrency = 4\n",
       "main.toml:9:19: lambda[0].handler.max_concurrency: is for http and exec handlers"},
      {"python file that does not exist", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"python\"\npath = \"/no/such/f.py\"\n",
       "main.toml:8:8: lambda[0].handler.path: \"/no/such/f.py\": no such file"},
      {"python without a file", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"python\"\n",
       "main.toml:6:1: lambda[0].handler.path: is required for a python handler (the file that defines the function)"},
      {"max_concurrency for python", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"python\"\npath = \"" + (dir / "handler.sh").string() + "\"\nmax_concurrency = 4\n",
       "main.toml:9:19: lambda[0].handler.max_concurrency: is for http and exec handlers: a worker calls its Python function one call at a time"},
      {"function for exec", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"exec\"\ncommand = [\"sh\"]\nfunction = \"g\"\n",
       "main.toml:9:12: lambda[0].handler.function: is for python handlers"},
      {"http_version for exec", head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"exec\"\ncommand = [\"sh\"]\nhttp_version = \"2\"\n",
       "main.toml:9:16: lambda[0].handler.http_version: is for http handlers"},
      {"drain longer than shutdown", "shutdown_timeout_ms = 5000\n" + head + "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\ndrain_timeout_ms = 5000\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n",
       "main.toml:7:20: lambda[0].drain_timeout_ms: must be less than shutdown_timeout_ms (5000)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto errs = errors(write("main.toml", c.text));
    ASSERT_FALSE(errs.empty()) << "accepted a bad file";
    EXPECT_EQ(errs.front().substr(0, c.expected.size()), c.expected) << "got: " << errs.front();
  }
}

TEST_F(ConfigTest, DuplicateLambdaAcrossFilesNamesBoth) {
  auto main = write("main.toml", std::string("[kafka]\nbootstrap_servers = \"b:1\"\n") + kLambda);
  write("lambdas.d/orders.toml", "[lambda]\ntopics = [\"o\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"liby.so\"\n");
  const auto errs = errors(main);
  ASSERT_EQ(errs.size(), 1U);
  EXPECT_EQ(errs[0], "lambdas.d/orders.toml:1:1: lambda.name: duplicate lambda \"orders\" (also defined in " +
                         (dir / "main.toml").string() + ")");
}

// An unknown key that is a typo of a known one says which; errors come in file order
// (the top level's unknown keys used to come after every table's errors).
TEST_F(ConfigTest, TyposGetASuggestionAndErrorsComeInFileOrder) {
  auto main = write("main.toml", "instanse = \"x\"\n[supervisor]\nmax_restarts = \"many\"\n[kafka]\nbootstrap_server = \"b:1\"\n");
  const auto errs = errors(main);
  ASSERT_EQ(errs.size(), 3U);
  EXPECT_EQ(errs[0], "main.toml:1:1: instanse: unknown key; did you mean \"instance\"?");
  EXPECT_EQ(errs[1].substr(0, 30), "main.toml:3:16: supervisor.max") << errs[1];
  EXPECT_EQ(errs[2], "main.toml:5:1: kafka.bootstrap_server: unknown key; did you mean \"bootstrap_servers\"?");
  const auto far = errors(write("main.toml", "zzzzzz = 1\n[kafka]\nbootstrap_servers = \"b:1\"\n"));
  ASSERT_EQ(far.size(), 1U);
  EXPECT_EQ(far[0], "main.toml:1:1: zzzzzz: unknown key") << "no suggestion when nothing is close";
}

TEST_F(ConfigTest, ReportsEveryErrorNotJustTheFirst) {
  auto main = write("main.toml", "bogus = 1\n[kafka]\nbootstrap_servers = 5\n");
  write("lambdas.d/x.toml", "[lambda]\nname = \"y\"\ntopics = []\n[lambda.handler]\ntype = \"ftp\"\n");
  const auto errs = errors(main);
  EXPECT_GE(errs.size(), 5U);
}

TEST_F(ConfigTest, LambdaFileNameMustMatchItsName) {
  auto main = write("main.toml", "[kafka]\nbootstrap_servers = \"b:1\"\n");
  write("lambdas.d/billing.toml", "[lambda]\nname = \"orders\"\ntopics = [\"o\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"liby.so\"\n");
  const auto errs = errors(main);
  ASSERT_EQ(errs.size(), 1U);
  EXPECT_NE(errs[0].find("lambdas.d/billing.toml:2:8: lambda.name: \"orders\" differs from the file name"), std::string::npos)
      << errs[0];
}

TEST_F(ConfigTest, DefaultsEnvAndFallbacks) {
  setenv("KAFKA_BROKERS", "k1:9092,k2:9092", 1);
  setenv("SLUICE_TEST_DIR", dir.c_str(), 1);
  write("o.so", "");  // a plugin path with a slash must name an existing file
  auto main = write("main.toml", "[kafka.properties]\n\"security.protocol\" = \"${SLUICE_TEST_UNSET:-plaintext}\"\n");
  write("lambdas.d/orders.toml",
        "[lambda]\ntopics = [\"orders\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"${SLUICE_TEST_DIR}/o.so\"\n");
  write("lambdas.d/billing.toml",
        "[lambda]\ntopics = [\"b\"]\ngroup_id = \"custom\"\nworkers = 4\nordering = \"key\"\nbisect_batch_on_error = false\ntrace = true\n"
        "[lambda.handler]\ntype = \"plugin\"\npath = \"libb.so\"\n");
  write("lambdas.d/README", "not toml, ignored");
  const Config c = load(main);
  ASSERT_EQ(c.lambdas.size(), 2U);
  const Lambda& b = c.lambdas[0];  // files are read in name order
  const Lambda& o = c.lambdas[1];
  EXPECT_EQ(o.name, "orders");
  EXPECT_EQ(o.group_id, "lambda-orders");
  EXPECT_EQ(o.bootstrap_servers, "k1:9092,k2:9092");
  EXPECT_EQ(o.handler.path, (dir / "o.so").string());
  EXPECT_EQ(o.kafka_properties.at("security.protocol"), "plaintext");
  EXPECT_EQ(o.on_failure, OnFailure::kStop);
  EXPECT_TRUE(o.bisect_batch_on_error) << "a batch that fails as a whole is split by default";
  EXPECT_FALSE(b.bisect_batch_on_error);
  EXPECT_FALSE(lambda_from_json(to_json(b)).bisect_batch_on_error) << "and the children are told";
  EXPECT_FALSE(o.trace) << "no trace is started unless asked";
  EXPECT_TRUE(b.trace);
  EXPECT_TRUE(lambda_from_json(to_json(b)).trace);
  EXPECT_EQ(b.group_id, "custom");
  EXPECT_EQ(b.workers, 4U);
  EXPECT_EQ(b.ordering, Ordering::kKey);
  EXPECT_EQ(o.handler.max_concurrency, 16U) << "http requests in flight / exec requests ahead, per worker";
  EXPECT_EQ(o.handler.http_version, HttpVersion::kAuto);
  EXPECT_EQ(c.lambdas_dir, (dir / "lambdas.d").string());
  unsetenv("SLUICE_TEST_DIR");
}

TEST_F(ConfigTest, NewlineFromEnvironmentIsRefused) {
  setenv("SLUICE_TEST_NL", "a\nb", 1);
  const auto errs = errors(write("main.toml", "admin_listen = \"${SLUICE_TEST_NL}\"\n"));
  ASSERT_FALSE(errs.empty());
  EXPECT_NE(errs[0].find("newline"), std::string::npos) << errs[0];
  unsetenv("SLUICE_TEST_NL");
}

TEST_F(ConfigTest, DeadLetterTopicImpliesDeadLetterPolicy) {
  const Config c = load(write("main.toml", std::string("[kafka]\nbootstrap_servers = \"b:1\"\n") +
                                               "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\ndead_letter_topic = \"t.dlq\"\n"
                                               "[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n"));
  EXPECT_EQ(c.lambdas.at(0).on_failure, OnFailure::kDeadLetter);
}

TEST_F(ConfigTest, MissingFileIsAClearError) {
  const auto errs = errors(dir / "nope.toml");
  ASSERT_EQ(errs.size(), 1U);
  EXPECT_NE(errs[0].find("cannot read config file"), std::string::npos);
}

TEST_F(ConfigTest, LambdaSurvivesJsonRoundTrip) {
  const Config c = load(write("main.toml", std::string("[kafka]\nbootstrap_servers = \"b:1\"\n") + kLambda));
  const Lambda back = lambda_from_json(to_json(c.lambdas.at(0)));
  EXPECT_EQ(to_json(back), to_json(c.lambdas.at(0)));
  EXPECT_EQ(back.handler.path, "libx.so");
}

TEST(SecretProperties, AreRecognised) {
  EXPECT_TRUE(is_secret_property("sasl.password"));
  EXPECT_TRUE(is_secret_property("ssl.key.password"));
  EXPECT_TRUE(is_secret_property("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(is_secret_property("ssl.key.location"));
  EXPECT_FALSE(is_secret_property("fetch.wait.max.ms"));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(RedactUrl, HidesCredentialsAndQueryValuesOnly) {
  EXPECT_EQ(redact_url("https://user:pw@example.com:8443/a/b?token=abc&x=1#frag"),
            "https://***@example.com:8443/a/b?token=***&x=***#frag");
  EXPECT_EQ(redact_url("http://127.0.0.1:8080/orders"), "http://127.0.0.1:8080/orders");
  EXPECT_EQ(redact_url("http://h/p?flag"), "http://h/p?flag");
  EXPECT_EQ(redact_url("http://h/p?a=1&&b="), "http://h/p?a=***&&b=***");
  EXPECT_EQ(redact_url("http://u@h/p@q"), "http://***@h/p@q");
  EXPECT_EQ(redact_url("not a url?secret=1"), "not a url?secret=***");
}

// [[lambda.filter]]: every mistake in a pattern is named at its own place in the file,
// written in TOML or as AWS's JSON pattern string.
TEST_F(ConfigTest, EveryBadFilterNamesFileLineColumnAndWhatIsWrong) {
  const std::string head = "[kafka]\nbootstrap_servers = \"b:9092\"\n[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n"
                           "[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n[[lambda.filter]]\n";
  const std::vector<BadCase> cases = {
      {"unknown matcher", head + "value.amount = [{ bigger = 3 }]\n",
       "main.toml:10:28: lambda[0].filter[0].value.amount[0].bigger: \"bigger\" is not a matcher (prefix, suffix, "
       "equals-ignore-case, anything-but, numeric, exists)"},
      {"bad numeric op", head + "value.amount = [{ numeric = [\"~\", 3] }]\n",
       "main.toml:10:30: lambda[0].filter[0].value.amount[0].numeric[0]: must be one of \"=\", \"<\", \"<=\", \">\", \">=\""},
      {"empty range", head + "value.n = [{ numeric = [\">\", 5, \"<\", 5] }]\n",
       "main.toml:10:24: lambda[0].filter[0].value.n[0].numeric: the range is empty: its lower bound is not below its upper bound"},
      {"not a list", head + "key = \"user-1\"\n",
       "main.toml:10:7: lambda[0].filter[0].key: must be a list of values or matchers, such as [\"a\", {\"prefix\": \"b\"}]"},
      {"empty list", head + "headers.source = []\n",
       "main.toml:10:18: lambda[0].filter[0].headers.source: an empty list matches nothing"},
      {"unknown field", head + "partition = [1]\n",
       "main.toml:10:13: lambda[0].filter[0].partition: \"partition\" is not a record field to filter on (topic, key, value, headers)"},
      {"empty filter", head,
       "main.toml:9:1: lambda[0].filter[0]: an empty filter would match every record; give topic, key, value or headers"},
      {"bad prefix operand", head + "key = [{ prefix = 3 }]\n",
       "main.toml:10:19: lambda[0].filter[0].key[0].prefix: prefix takes a string"},
      {"json pattern", head + "pattern = '{\"value\": {\"id\": [{\"prefix\": 1}]}}'\n",
       "main.toml:10:11: lambda[0].filter[0].pattern: prefix takes a string (at /value/id/0/prefix)"},
      {"json not json", head + "pattern = '{\"value\": '\n", "main.toml:10:11: lambda[0].filter[0].pattern: is not JSON"},
      {"pattern and more", head + "pattern = '{\"key\": [\"a\"]}'\nkey = [\"b\"]\n",
       "main.toml:9:1: lambda[0].filter[0]: pattern is the whole filter: give it alone, or write the filter in TOML"},
  };
  expect_first_errors(cases);
}

TEST_F(ConfigTest, EveryBadSchemaRegistryNamesFileLineColumnAndWhatIsWrong) {
  const std::string head = "[kafka]\nbootstrap_servers = \"b:9092\"\n[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n"
                           "[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n[lambda.schema_registry]\n";
  const std::vector<BadCase> cases = {
      {"no url", head + "value_format = \"avro\"\n", "main.toml:9:1: lambda[0].schema_registry.url: is required"},
      {"not http", head + "url = \"ftp://r\"\n",
       "main.toml:10:7: lambda[0].schema_registry.url: \"ftp://r\" must start with http:// or https://"},
      {"no such format", head + "url = \"http://r\"\nvalue_format = \"json\"\n",
       "main.toml:11:16: lambda[0].schema_registry.value_format: \"json\" is not one of \"none\", \"auto\", \"avro\", "
       "\"protobuf\", \"json_schema\""},
      {"half basic auth", head + "url = \"http://r\"\nusername = \"u\"\n",
       "main.toml:11:12: lambda[0].schema_registry.username: username and password go together (basic auth)"},
      {"both auths", head + "url = \"http://r\"\nusername = \"u\"\npassword = \"p\"\ntoken = \"t\"\n",
       "main.toml:13:9: lambda[0].schema_registry.token: give either token or username, not both"},
      {"unknown key", head + "url = \"http://r\"\nsubject = \"x\"\n",
       "main.toml:11:1: lambda[0].schema_registry.subject: unknown key"},
  };
  expect_first_errors(cases);
  const auto good = write("main.toml", head + "url = \"https://r:8081/\"\ntoken = \"${REGISTRY_TOKEN:-t0}\"\nkey_format = \"avro\"\n");
  const Config c = load(good);
  const auto& r = c.lambdas.at(0).schema_registry;
  EXPECT_EQ(r.token, "t0");
  EXPECT_EQ(r.value_format, SchemaFormat::kAuto) << "a registry decodes values when they are framed, by default";
  EXPECT_EQ(r.key_format, SchemaFormat::kAvro);
  EXPECT_EQ(lambda_from_json(to_json(c.lambdas.at(0))).schema_registry.url, "https://r:8081/") << "it reaches the workers";
}

// A JSON pattern nested far deeper than any filter is an error like any other, not a
// crash of `sluice validate` (its text used to be re-serialized, recursively, first).
TEST_F(ConfigTest, ADeeplyNestedJsonPatternIsAnErrorNotACrash) {
  const std::string deep = "{\"key\": " + std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_THROW(compile_filter(deep), FilterError);
  const std::string deep_object = R"({"value": {"a": )" + std::string(200000, '[') + std::string(200000, ']') + "}}";
  try {
    compile_filter(deep_object);
    FAIL() << "accepted";
  } catch (const FilterError& e) {
    EXPECT_EQ(e.pointer(), "/value/a/0");
  }
}

TEST_F(ConfigTest, FiltersInTomlAndAsJsonPatternsCompileAndReachTheChildren) {
  const auto main = write("main.toml",
                          "[kafka]\nbootstrap_servers = \"b:9092\"\n[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n"
                          "[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n"
                          "[[lambda.filter]]\nvalue.order.total = [{ numeric = [\">=\", 100, \"<\", 1e6] }]\n"
                          "headers.source = [\"web\", { prefix = \"app-\" }]\n"
                          "[[lambda.filter]]\npattern = '{\"key\": [{\"anything-but\": [\"test\", null]}]}'\n");
  const Config c = load(main);
  ASSERT_EQ(c.lambdas.size(), 1U);
  const auto& f = c.lambdas[0].filters;
  ASSERT_EQ(f.size(), 2U);
  ASSERT_EQ(f[0].all.size(), 2U);
  EXPECT_EQ(f[0].all[0].field, Condition::Field::kHeader);
  EXPECT_EQ(f[0].all[0].header, "source");
  EXPECT_EQ(f[0].all[1].path, (std::vector<std::string>{"order", "total"}));
  ASSERT_EQ(f[0].all[1].any[0].comparisons.size(), 2U);
  EXPECT_EQ(f[0].all[1].any[0].comparisons[1].second, 1e6);
  EXPECT_EQ(f[1].all[0].any[0].kind, Matcher::Kind::kAnythingBut);
  EXPECT_EQ(f[1].all[0].any[0].literals[1].type, Literal::Type::kNull);
  const Lambda back = lambda_from_json(to_json(c.lambdas[0]));
  ASSERT_EQ(back.filters.size(), 2U) << "the consumer is told its filters";
  EXPECT_EQ(back.filters[0].pattern, f[0].pattern);
  EXPECT_EQ(back.filters[1].all[0].any[0].literals[0].text, "test");
}

}  // namespace
}  // namespace sluice::config

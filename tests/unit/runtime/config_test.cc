#include "runtime/config.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "util/redact.h"

namespace sluice {
namespace {

OptionSpec Opt(std::string name, OptionType type, bool required = false) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.required = required;
  spec.description = "test option";
  return spec;
}

OptionSpec SlotOpt() {
  OptionSpec spec = Opt("slot", OptionType::kString);
  spec.one_per_pipeline = true;
  return spec;
}

// Fake plugins: the loader only reads their option tables; `create` is never called.
const Registry& TestRegistry() {
  static const Registry registry = [] {
    Registry r;
    r.AddSource(
        {"postgres",
         "fake",
         {Opt("dsn", OptionType::kString, true), SlotOpt(), Opt("publication", OptionType::kString),
          Opt("batch", OptionType::kInt), Opt("include", OptionType::kList)},
         [](const SourceContext&) -> Result<std::unique_ptr<Source>> {
           return Status::Internal("fake");
         }});
    auto no_sink = [](const SinkContext&) -> Result<std::unique_ptr<Sink>> {
      return Status::Internal("fake");
    };
    r.AddSink({"stdout", "fake", {Opt("path", OptionType::kString)}, no_sink});
    r.AddSink({"redis",
               "fake",
               {Opt("key", OptionType::kString), Opt("ttl", OptionType::kDuration)},
               no_sink});
    r.AddSink({"strict", "fake", {Opt("index", OptionType::kString, true)}, no_sink});
    return r;
  }();
  return registry;
}

std::optional<std::string> Env(const std::string& name) {
  if (name == "PGPORT") return "5433";
  if (name == "SINK") return "out";
  return std::nullopt;
}

LoadResult Load(const std::string& yaml) {
  return LoadConfigString(yaml, "test.yaml", TestRegistry(), Env);
}

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.errors) out += d.ToString() + "\n";
  return out;
}

// Lines 1-10; line 11 is the first pipeline, whose value starts at column 6.
const std::string kBase = R"(sources:
  shop:
    type: postgres
    dsn: "host=db"
sinks:
  out:
    type: stdout
  cache:
    type: redis
pipelines:
)";

std::string Pipe(const std::string& pipe) { return kBase + "  p: " + pipe + "\n"; }

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

struct BadCase {
  std::string yaml;
  int line;
  int column;
  std::string message;
  size_t error_count = 1;
};

}  // namespace

TEST_CASE("Config: malformed input gives the message at its line and column", "[unit][config]") {
  const std::string ok_pipe = "  p: shop.public.a | out\n";
  const BadCase cases[] = {
      {"sources: [a, b\nsinks: {}\n", 2, 6, "YAML syntax error: end of sequence flow not found"},
      {"- a\n- b\n", 1, 1, "expected a mapping at the top level (keys: state_dir, http, log"},
      {Pipe("shop.public.a | out") + "sink: {}\n", 12, 1,
       "unknown top-level key 'sink' (known top-level keys: state_dir, http, log, limits, "
       "sources, sinks, pipelines, shutdown_timeout, readiness); did you mean 'sinks'?"},
      {"sources: [shop]\nsinks: {out: {type: stdout}}\npipelines: {p: shop.a.b | out}\n", 1, 10,
       "'sources' must be a mapping of source names to their settings", 2},
      {Replace(Pipe("shop.a.b | out"), "    type: postgres\n", ""), 2, 3,
       "source 'shop' has no 'type' (known source types: postgres)"},
      {Replace(Pipe("shop.a.b | out"), "type: postgres", "type: postgress"), 3, 11,
       "unknown source type 'postgress' (known source types: postgres); did you mean "
       "'postgres'?"},
      {Replace(Pipe("shop.a.b | out"), "    type: stdout\n", "    type: stdout\n    pth: x\n"), 8,
       5,
       "unknown option 'pth' for sink type 'stdout' (known options: path); did you mean "
       "'path'?"},
      {Replace(Pipe("shop.a.b | out"), "    type: redis\n", "    type: kafka\n"), 9, 11,
       "unknown sink type 'kafka' (known sink types: redis, stdout, strict)"},
      {Replace(Pipe("shop.a.b | out"), "sinks:\n", "    batch: many\nsinks:\n"), 5, 12,
       "option 'batch' expects an integer, got 'many'"},
      {Replace(Pipe("shop.a.b | out"), "    dsn: \"host=db\"\n", ""), 2, 3,
       "source 'shop' (type postgres) is missing required option 'dsn' (string: test option)"},
      {Replace(Pipe("shop.a.b | out"), "\"host=db\"", "\"host=db port=${NOPE}\""), 4, 24,
       "environment variable 'NOPE' is not set (set it, or give a default: ${NOPE:-value})"},
      {Replace(Pipe("shop.a.b | out"), "\"host=db\"", "{host: db}"), 4, 10,
       "option 'dsn' expects a single value, got a mapping"},
      {Pipe("shop.public.a | out |"), 11, 26, "expected a sink after the last '|'"},
      {Pipe("shop.public.a | | out"), 11, 22, "empty stage between '|' and '|'"},
      {Pipe("shop.public.a | where s = 'x | out"), 11, 32,
       "unterminated quoted string: the quote opened here is never closed"},
      {Pipe("shop | out"), 11, 10,
       "expected '.' after source 'shop': selectors are SOURCE.SCHEMA.TABLE"},
      {Pipe("\"shop.public.a | out |\""), 11, 27, "expected a sink after the last '|'"},
      {Pipe("shopp.public.a | out"), 11, 6,
       "unknown source 'shopp' (known sources: shop); did you mean 'shop'?"},
      {Pipe("shop.public.a | serch.x"), 11, 22, "unknown sink 'serch' (known sinks: out, cache)"},
      {Pipe("shop.public.a | filter x | out"), 11, 22,
       "unknown transform 'filter' (known transforms: select, drop, rename, where)"},
      {Pipe("shop.public.a | where x ~ 1 | out"), 11, 30,
       "expected an operator after 'x' (=, !=, <>, <, <=, >, >=, is null, is not null)"},
      {Pipe("shop.public.a | where x = null | out"), 11, 32,
       "compare with NULL using 'is null' or 'is not null'"},
      {Pipe("shop.public.a, other.public.b | out"), 11, 21,
       "all selectors of a pipeline must read from one source: 'other' differs from 'shop'"},
      {Pipe("shop.public.a | cache tll=5s"), 11, 28,
       "unknown option 'tll' for sink type 'redis' (known options: key, ttl); did you mean "
       "'ttl'?"},
      {Pipe("shop.public.a | cache ttl=forever"), 11, 32,
       "option 'ttl' expects a duration such as 500ms, 5s, 2m, got 'forever'"},
      {Pipe("shop.public.a | out.${TOPIC}"), 11, 26, "environment variable 'TOPIC' is not set"},
      {Replace(Pipe("shop.a.b | out"), "sinks:\n", "  shop:\n    type: postgres\nsinks:\n"), 5, 3,
       "duplicate source 'shop' (first defined at line 2)"},
      {Pipe("shop.a.b | out") + "  p: shop.a.c | out\n", 12, 3,
       "duplicate pipeline 'p' (first defined at line 11)"},
      {kBase + "  9p: shop.a.b | out\n", 11, 3,
       "invalid pipeline name '9p': names start with a letter or '_' and hold only letters, "
       "digits, '_' and '-'"},
      {kBase + "  p: [shop.a.b, out]\n", 11, 6,
       "pipeline 'p' must be a pipe such as 'shop.public.orders | out' or a mapping with 'from' "
       "and 'to', got a list"},
      {kBase + "  p:\n    to: out\n", 11, 3,
       "pipeline 'p' has no 'from' (the tables to read, e.g. from: shop.public.orders)"},
      {kBase + "  p:\n    from: shop.a.b\n", 11, 3, "pipeline 'p' has no 'to'"},
      {kBase + "  p:\n    from: shop.a.b\n    to: out\n    transform: [select a]\n", 14, 5,
       "unknown key 'transform' in pipeline 'p' (known keys: from, transforms, to, "
       "source_options, readiness); did you mean 'transforms'?"},
      {kBase + "  p:\n    from: shop.a.b\n    to: out\n    source_options: {slot: s, pub: x}\n", 14,
       31, "unknown option 'pub' for source type 'postgres'"},
      {kBase + "  p:\n    from: [shop.a.b, other.c.d]\n    to: out\n", 12, 22,
       "all selectors of a pipeline must read from one source: 'other' differs from 'shop'"},
      {kBase + "  p:\n    from: shop.a.b\n    to: [out, cache ttl=x]\n", 13, 25,
       "option 'ttl' expects a duration"},
      {"limits:\n  batch_changes: 0\n" + Pipe("shop.a.b | out"), 2, 18,
       "'batch_changes' in 'limits' must be greater than 0, got '0'"},
      {"limits:\n  queue_bytes: lots\n" + Pipe("shop.a.b | out"), 2, 16,
       "'queue_bytes' expects a size such as 512KB or 5MB, got 'lots'"},
      {"limits: {queue_batches: -1}\n" + Pipe("shop.a.b | out"), 1, 25,
       "'queue_batches' in 'limits' must be greater than 0, got '-1'"},
      {"limits:\n  batches: 3\n" + Pipe("shop.a.b | out"), 2, 3,
       "unknown key 'batches' in 'limits' (known keys: batch_changes, batch_bytes, "
       "queue_batches, queue_bytes)"},
      {"log: { level: loud }\n" + Pipe("shop.a.b | out"), 1, 15,
       "'level' expects one of: trace, debug, info, warn, error, got 'loud'"},
      {"http:\n  listen: localhost\n" + Pipe("shop.a.b | out"), 2, 11,
       "'listen' expects HOST:PORT such as 127.0.0.1:8080, got 'localhost'"},
      {"http: 8080\n" + Pipe("shop.a.b | out"), 1, 7, "'http' must be a mapping"},
      {"http:\n  max_connections: 0\n" + Pipe("shop.a.b | out"), 2, 20,
       "'max_connections' in 'http' must be between 1 and 65536, got '0'"},
      {"http:\n  max_waiters: 256\n" + Pipe("shop.a.b | out"), 2, 16,
       "'max_waiters' in 'http' must be at least 1 and less than max_connections (256), since "
       "each waiting request holds a connection and the probes need some: got '256'"},
      {"http:\n  request_timeout: 50ms\n" + Pipe("shop.a.b | out"), 2, 20,
       "'request_timeout' in 'http' must be between 100ms and 600000ms, got '50ms'"},
      {"http: { idle_timeout: soon }\n" + Pipe("shop.a.b | out"), 1, 23,
       "'idle_timeout' expects a duration"},
      {Replace(kBase, "pipelines:\n", ""), 1, 1, "no pipelines: add a 'pipelines:' section"},
      {kBase, 10, 1, "'pipelines' is empty"},
      {Replace(kBase, "cache:", "\"my cache\":") + ok_pipe, 8, 3, "invalid sink name 'my cache'"},
      {Replace(kBase, "type: redis", "type: strict") + "  p: shop.a.b | cache\n", 11, 17,
       "sink 'cache' (type strict) needs option 'index': set it on the sink or in the pipe "
       "(cache index=...)"},
  };
  for (const BadCase& c : cases) {
    LoadResult r = Load(c.yaml);
    INFO("yaml:\n" << c.yaml << "\nerrors:\n" << AllErrors(r));
    REQUIRE(r.errors.size() == c.error_count);
    const Diagnostic& d = r.errors[0];
    CHECK_THAT(d.message, Catch::Contains(c.message));
    CHECK(d.where.file == "test.yaml");
    CHECK(d.where.line == c.line);
    CHECK(d.where.column == c.column);
  }
}

TEST_CASE("Config: every mistake is reported at once", "[unit][config]") {
  const std::string yaml = R"(sources:
  shop:
    type: postgres
    dsn: "port=${PGPORT}"
    slott: x
sinks:
  out:
    type: stdout
pipelines:
  a: shop.public.orders | selekt id | out
  b: shop.public.orders | nowhere
)";
  LoadResult r = Load(yaml);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].ToString() ==
        "test.yaml:5:5: unknown option 'slott' for source type 'postgres' (known options: dsn, "
        "slot, publication, batch, include); did you mean 'slot'?");
  CHECK(r.errors[1].ToString() ==
        "test.yaml:10:27: unknown transform 'selekt' (known transforms: select, drop, rename, "
        "where)");
  CHECK(r.errors[2].ToString() == "test.yaml:11:27: unknown sink 'nowhere' (known sinks: out)");
}

TEST_CASE("Config: a bad stage does not hide other mistakes of its pipeline", "[unit][config]") {
  LoadResult r = Load(kBase + "  a: shopp.public.x | selct id | outt\n" +
                      "  b:\n    from: shop.a.b\n    transforms: [\"where total >> 5\"]\n");
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0].ToString() ==
        "test.yaml:11:23: unknown transform 'selct' (known transforms: "
        "select, drop, rename, where)");
  CHECK_THAT(r.errors[1].ToString(), Catch::StartsWith("test.yaml:11:6: unknown source 'shopp'"));
  CHECK_THAT(r.errors[2].ToString(), Catch::StartsWith("test.yaml:11:34: unknown sink 'outt'"));
  CHECK_THAT(r.errors[3].ToString(), Catch::StartsWith("test.yaml:12:3: pipeline 'b' has no 'to'"));
  CHECK_THAT(r.errors[4].ToString(),
             Catch::StartsWith("test.yaml:14:32: expected a literal after '>'"));
}

TEST_CASE("Config: a valid file", "[unit][config]") {
  const std::string yaml = R"(state_dir: /var/lib/sluice
http: { listen: "0.0.0.0:9090", token: t0ken }
log: { format: json, level: debug }
limits:
  batch_changes: 500
  batch_bytes: 2MB
  queue_batches: 8
  queue_bytes: 1GiB
sources:
  shop:
    type: postgres
    dsn: "host=db port=${PGPORT} user=${PGUSER:-sluice} pass=$$ecret"
    include: [public.a, public.b]
sinks:
  out: { type: "${SINK_TYPE:-stdout}", path: /tmp/x.jsonl }
  cache: { type: redis }
pipelines:
  products: shop.public.products | select id, name | where price > 10 | cache.products key="p:{id}" ttl=60s
  everything: shop.*
    | ${SINK}
)";
  LoadResult r = Load(yaml);
  INFO(AllErrors(r));
  REQUIRE(r.ok());
  const Config& c = r.config;
  CHECK(c.file == "test.yaml");
  CHECK(c.state_dir == "/var/lib/sluice");
  CHECK(c.http_listen == "0.0.0.0:9090");
  CHECK(c.log_format == "json");
  CHECK(c.log_level == "debug");
  CHECK(c.batch_max_changes == 500);
  CHECK(c.batch_max_bytes == 2u << 20);
  CHECK(c.queue_max_batches == 8);
  CHECK(c.queue_max_bytes == 1u << 30);
  REQUIRE(c.sources.size() == 1);
  const PluginConfig* shop = c.FindSource("shop");
  REQUIRE(shop != nullptr);
  CHECK(shop->type == "postgres");
  CHECK(shop->options ==
        std::map<std::string, std::string>{{"dsn", "host=db port=5433 user=sluice pass=$ecret"},
                                           {"include", "public.a, public.b"}});  // not defaulted
  CHECK(shop->where.line == 10);
  CHECK(shop->where.column == 3);
  REQUIRE(c.FindSink("out") != nullptr);
  CHECK(c.FindSink("out")->type == "stdout");
  CHECK(c.FindSink("out")->options.at("path") == "/tmp/x.jsonl");
  CHECK(c.FindSink("nope") == nullptr);
  REQUIRE(c.pipelines.size() == 2);
  const PipelineConfig& p = c.pipelines[0];
  CHECK(p.name == "products");
  CHECK(p.source == "shop");
  CHECK(p.tables == std::vector<TableSelector>{{"public", "products"}});
  REQUIRE(p.transforms.size() == 2);
  CHECK(p.transforms[1].where.line == 18);
  CHECK(p.transforms[1].where.column == 54);
  REQUIRE(p.sinks.size() == 1);
  CHECK(p.sinks[0].sink == "cache");
  CHECK(p.sinks[0].target == "products");
  CHECK(p.sinks[0].options ==
        std::map<std::string, std::string>{{"key", "p:{id}"}, {"ttl", "60s"}});
  CHECK(p.sinks[0].where.column == 73);
  const PipelineConfig& all = c.pipelines[1];
  CHECK(all.tables == std::vector<TableSelector>{{"*", "*"}});
  CHECK(all.sinks[0].sink == "out");
  CHECK(all.sinks[0].where.line == 20);  // folded plain scalar: still the right place
  CHECK(all.sinks[0].where.column == 7);
}

TEST_CASE("Config: pipe and structured forms are equivalent", "[unit][config]") {
  const std::string yaml =
      kBase +
      R"(  piped: 'shop.public.orders, shop.sales.* | select id, total | rename total=amount | where amount >= 10.5 | cache.orders key=x'
  structured:
    from: [shop.public.orders, "shop.sales.*"]
    transforms: ["select id, total", "rename total=amount", "where amount >= 10.5"]
    to: cache.orders key=x
    source_options: { slot: my_slot }
)";
  LoadResult r = Load(yaml);
  INFO(AllErrors(r));
  REQUIRE(r.ok());
  REQUIRE(r.config.pipelines.size() == 2);
  const PipelineConfig& a = r.config.pipelines[0];
  const PipelineConfig& b = r.config.pipelines[1];
  CHECK(a.source == b.source);
  CHECK(a.tables == b.tables);
  CHECK(a.tables.size() == 2);
  REQUIRE(a.transforms.size() == b.transforms.size());
  for (size_t i = 0; i < a.transforms.size(); ++i) {
    CHECK(a.transforms[i].kind == b.transforms[i].kind);
    CHECK(a.transforms[i].columns == b.transforms[i].columns);
    CHECK(a.transforms[i].renames == b.transforms[i].renames);
    CHECK(a.transforms[i].where_column == b.transforms[i].where_column);
    CHECK(a.transforms[i].where_op == b.transforms[i].where_op);
    CHECK(a.transforms[i].where_literal == b.transforms[i].where_literal);
    CHECK(a.transforms[i].where_literal_is_string == b.transforms[i].where_literal_is_string);
  }
  REQUIRE(a.sinks.size() == 1);
  REQUIRE(b.sinks.size() == 1);
  CHECK(a.sinks[0].sink == b.sinks[0].sink);
  CHECK(a.sinks[0].target == b.sinks[0].target);
  CHECK(a.sinks[0].options == b.sinks[0].options);
  CHECK(a.source_options.empty());
  CHECK(b.source_options == std::map<std::string, std::string>{{"slot", "my_slot"}});
  // Each form locates its pieces in the file.
  CHECK(a.transforms[0].where.line == 11);
  CHECK(a.transforms[0].where.column == 46);
  CHECK(b.transforms[1].where.line == 14);
  CHECK(b.transforms[1].where.column == 39);
  CHECK(b.sinks[0].where.line == 15);
  CHECK(b.sinks[0].where.column == 9);
}

TEST_CASE("Config: a structured pipeline may write to several sinks", "[unit][config]") {
  LoadResult r = Load(kBase + "  p:\n    from: shop.a.b\n    to: [out, cache.x ttl=5s]\n");
  INFO(AllErrors(r));
  REQUIRE(r.ok());
  REQUIRE(r.config.pipelines[0].sinks.size() == 2);
  CHECK(r.config.pipelines[0].sinks[1].sink == "cache");
  CHECK(r.config.pipelines[0].sinks[1].options.at("ttl") == "5s");
}

TEST_CASE("Config: defaults and file errors", "[unit][config]") {
  SECTION("defaults when sections are absent") {
    LoadResult r = Load(Pipe("shop.a.b | out"));
    REQUIRE(r.ok());
    CHECK(r.config.state_dir == "./state");
    CHECK(r.config.http_listen == "127.0.0.1:8080");
    CHECK(r.config.log_format == "text");
    CHECK(r.config.batch_max_changes == 1000);
    CHECK(r.config.queue_max_bytes == 64u << 20);
  }
  SECTION("missing file: one diagnostic at line 0") {
    LoadResult r = LoadConfigFile("/nonexistent/sluice.yaml", TestRegistry(), Env);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where.file == "/nonexistent/sluice.yaml");
    CHECK(r.errors[0].where.line == 0);
    CHECK(r.errors[0].where.column == 0);
    CHECK_THAT(r.errors[0].message, Catch::Contains("cannot read config file"));
    CHECK_THAT(r.errors[0].ToString(), Catch::StartsWith("/nonexistent/sluice.yaml: "));
  }
  SECTION("empty text") {
    LoadResult r = Load("");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].ToString() ==
          "test.yaml:1:1: the config is empty: expected a mapping with sources, sinks and "
          "pipelines");
  }
  SECTION("process environment") {
    CHECK(ProcessEnv()("PATH").has_value());
    CHECK_FALSE(ProcessEnv()("SLUICE_SURELY_UNSET_VARIABLE_1234").has_value());
  }
}

}  // namespace sluice

namespace sluice {

TEST_CASE("Config: mangled files never throw and point inside the file", "[unit][config]") {
  const std::string good = R"(limits: { batch_bytes: 1MB }
sources:
  shop: { type: postgres, dsn: "host=${PGPORT:-x}", include: [a, 'b'] }
sinks:
  out: { type: redis, ttl: 5s }
pipelines:
  p: shop.public.a, shop.x.* | where a >= 'it''s' | rename a=b | out.t key="k:{id}"
  q:
    from: ["shop.\"S\".t"]
    transforms: [select a]
    to: out
)";
  const int lines = 12;
  size_t loads = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (const char* insert : {"", "\"", "'", "|", "{", "[", ":", "$", "\n", " ", "\\", "${"}) {
      std::string text = good.substr(0, i) + insert + good.substr(i + 1);
      LoadResult r;
      REQUIRE_NOTHROW(r = Load(text));
      ++loads;
      for (const Diagnostic& d : r.errors) {
        INFO(text << "\n" << d.ToString());
        CHECK(d.where.line >= 1);
        CHECK(d.where.line <= lines + 1);
        CHECK(d.where.column >= 1);
        CHECK_FALSE(d.message.empty());
      }
    }
  }
  CHECK(loads == good.size() * 12);
}

}  // namespace sluice

namespace sluice {

TEST_CASE("Config: http limits", "[unit][config]") {
  LoadResult r =
      Load("http: { max_connections: 1000, request_timeout: 2s, idle_timeout: 250ms }\n" +
           Pipe("shop.a.b | out"));
  INFO(AllErrors(r));
  REQUIRE(r.ok());
  CHECK(r.config.http_limits.max_connections == 1000);
  CHECK(r.config.http_limits.request_timeout == std::chrono::seconds(2));
  CHECK(r.config.http_limits.idle_timeout == std::chrono::milliseconds(250));
  LoadResult defaults = Load(Pipe("shop.a.b | out"));
  CHECK(defaults.config.http_limits.max_connections == 256);
  CHECK(defaults.config.http_limits.request_timeout == std::chrono::seconds(5));
  CHECK(defaults.config.http_limits.idle_timeout == std::chrono::seconds(10));
  CHECK(defaults.config.MaxWaiters() == 192);  // three quarters of the connections
  CHECK(r.config.MaxWaiters() == 750);
  LoadResult waiters =
      Load("http: { max_connections: 5000, max_waiters: 4000 }\n" + Pipe("shop.a.b | out"));
  INFO(AllErrors(waiters));
  REQUIRE(waiters.ok());
  CHECK(waiters.config.MaxWaiters() == 4000);
}

TEST_CASE("Config: http.listen counts as loopback only when every address it resolves to is",
          "[unit][config]") {
  auto with_listen = [](const std::string& listen, const std::string& token) {
    return Load("http:\n  listen: \"" + listen + "\"\n" + token + Pipe("shop.a.b | out"));
  };
  SECTION("loopback names and addresses need no token") {
    for (const char* listen :
         {"localhost:8080", "127.0.0.1:8080", "127.1.2.3:0", "[::1]:8080", "::1:8080"}) {
      LoadResult r = with_listen(listen, "");
      INFO(listen << "\n" << AllErrors(r));
      CHECK(r.ok());
    }
  }
  SECTION("a name that starts like a loopback address is a name: it must resolve") {
    for (const std::string token : {"", "  token: t0ken\n"}) {
      LoadResult r = with_listen("127.evil.example:8080", token);
      INFO(AllErrors(r));
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].ToString().rfind("test.yaml:2:11: ", 0) == 0);
      CHECK_THAT(r.errors[0].message,
                 Catch::Contains("'listen' '127.evil.example:8080': host '127.evil.example' "));
    }
    LoadResult r = with_listen("no-such-host.invalid:8080", "");
    REQUIRE(r.errors.size() == 1);
    // "does not resolve to an address", or "cannot be resolved now" without a resolver.
    CHECK_THAT(r.errors[0].message, Catch::Contains("host 'no-such-host.invalid' "));
  }
  SECTION("addresses of every interface need the token") {
    for (const char* listen : {"0.0.0.0:8080", "[::]:8080", "10.0.0.5:80"}) {
      LoadResult r = with_listen(listen, "");
      INFO(listen << "\n" << AllErrors(r));
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].where.line == 2);
      CHECK(r.errors[0].where.column == 11);
      CHECK_THAT(r.errors[0].message, Catch::Contains("is not a loopback address (it resolves to"));
      CHECK(with_listen(listen, "  token: t0ken\n").ok());
    }
  }
}

namespace {

// Every diagnostic stays on one line of printable text, so `file:line:column: ...` parses.
void CheckPrintable(const LoadResult& r) {
  for (const Diagnostic& d : r.errors) {
    const std::string line = d.ToString();
    INFO(line);
    for (size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      CHECK((c >= 0x20 && c != 0x7f));
      CHECK(c < 0x80);  // the cases below hold no valid non-ASCII text
    }
  }
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("Config: control characters and invalid UTF-8 are escaped in messages",
          "[unit][config]") {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const Case cases[] = {
      {Pipe("shop.a.b | out") + "\"a\\nb\": 1\n", "unknown top-level key 'a\\nb'"},
      {Pipe("shop.a.b | out") + "\"a\\tb\\r\\x01\\x7f\": 1\n",
       "unknown top-level key 'a\\tb\\r\\x01\\x7f'"},
      {Pipe("shop.a.b | out") + "a\xff\xc3: 1\n", "unknown top-level key 'a\\xff\\xc3'"},
      {Pipe("shop.a.b | out") + "\"a\\\\nb\": 1\n", "unknown top-level key 'a\\\\nb'"},
      {Pipe("shop.a.b | out") + "\"\\x85\": 1\n", "unknown top-level key '\\u0085'"},
      {Replace(Pipe("shop.a.b | out"), "type: postgres", "type: \"post\\ngres\""),
       "unknown source type 'post\\ngres'"},
      {Replace(kBase, "cache:", "\"ca\\nche\":") + "  p: shop.a.b | out\n",
       "invalid sink name 'ca\\nche'"},
      {Replace(kBase, "cache:", "\"ca\\nche\":") + "  p: shop.a.b | nope\n",
       "unknown sink 'nope' (known sinks: out, ca\\nche)"},
      {Pipe("\"shop.a.b | o\\x01ut\""), "got '\\x01ut'"},
      {Pipe("\"shop.a.b | ${A\\x02}\""), "invalid variable name 'A\\x02'"},
  };
  for (const Case& c : cases) {
    LoadResult r = Load(c.yaml);
    INFO("yaml:\n" << c.yaml << "\nerrors:\n" << AllErrors(r));
    REQUIRE_FALSE(r.ok());
    CheckPrintable(r);
    bool found = false;
    for (const Diagnostic& d : r.errors) found = found || Contains(d.message, c.message);
    CHECK(found);
  }
  SECTION("valid UTF-8 is kept as it is") {
    LoadResult r = Load(Pipe("shop.a.b | out") + "caf\xc3\xa9: 1\n");
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].message, Catch::StartsWith("unknown top-level key 'caf\xc3\xa9'"));
  }
  SECTION("the file name too") {
    LoadResult r = LoadConfigString("- a\n", "bad\nname.yaml", TestRegistry(), Env);
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].ToString(), Catch::StartsWith("bad\\nname.yaml:1:1: "));
  }
}

TEST_CASE("Config: YAML nested too deeply names the line of the nesting", "[unit][config]") {
  struct Case {
    std::string name;
    std::string yaml;
    int line;
  };
  std::string flow_lines = "x: 1\na:\n";
  for (int i = 0; i < 600; ++i) flow_lines += "  [\n";
  flow_lines += "b: 2\n";
  std::string block = "x: 1\na:\n";
  for (int i = 1; i < 600; ++i) block += std::string(i, ' ') + "k:\n";
  std::string dashes = "x: 1\na:\n  " + [] {
    std::string s;
    for (int i = 0; i < 600; ++i) s += "- ";
    return s;
  }() + "1\nb: 2\n";
  const Case cases[] = {
      {"open flow on one line", "x: 1\na: " + std::string(3000, '[') + "\nb: 1\n", 2},
      {"closed flow on one line",
       "x: 1\na: " + std::string(600, '[') + std::string(600, ']') + "\nb: 1\n", 2},
      {"flow over many lines", flow_lines, 0},
      {"block mappings", block, 0},
      {"block sequences", dashes, 3},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    LoadResult r = Load(c.yaml);
    INFO(AllErrors(r));
    REQUIRE(r.errors.size() == 1);
    const Diagnostic& d = r.errors[0];
    CHECK_THAT(d.message, Catch::StartsWith("YAML is nested too deeply"));
    CHECK(d.where.column >= 1);
    int lines = static_cast<int>(std::count(c.yaml.begin(), c.yaml.end(), '\n'));
    if (c.line > 0) {
      CHECK(d.where.line == c.line);
    } else {
      // Somewhere inside the nesting, not at the end of the file.
      CHECK(d.where.line > 2);
      CHECK(d.where.line < lines - 1);
    }
  }
}

TEST_CASE("Config: YAML merge keys are resolved", "[unit][config]") {
  const std::string sources = R"(sources:
  shop: &pg
    type: postgres
    dsn: "host=db"
    slot: s1
  other:
    <<: *pg
    slot: s2
  third:
    <<: [{slot: s3, batch: 7}, *pg]
sinks:
  out: { type: stdout }
pipelines:
  p: shop.a.b | out
)";
  SECTION("explicit keys win, earlier mappings in a list win over later ones") {
    LoadResult r = Load(sources);
    INFO(AllErrors(r));
    REQUIRE(r.ok());
    const PluginConfig* other = r.config.FindSource("other");
    REQUIRE(other != nullptr);
    CHECK(other->type == "postgres");
    CHECK(other->options == std::map<std::string, std::string>{{"dsn", "host=db"}, {"slot", "s2"}});
    const PluginConfig* third = r.config.FindSource("third");
    REQUIRE(third != nullptr);
    CHECK(third->type == "postgres");
    CHECK(third->options ==
          std::map<std::string, std::string>{{"dsn", "host=db"}, {"slot", "s3"}, {"batch", "7"}});
  }
  SECTION("merged values are located where they are written") {
    LoadResult r = Load(Replace(sources, "slot: s1", "batch: many"));
    REQUIRE(r.errors.size() == 2);  // shop's own, then other's via the merge
    for (const Diagnostic& d : r.errors) {
      CHECK(d.message == "option 'batch' expects an integer, got 'many'");
      CHECK(d.where.line == 5);
    }
  }
  SECTION("a merge of something else than mappings is refused at its line") {
    LoadResult r = Load(Replace(sources, "<<: *pg", "<<: 5"));
    REQUIRE(r.errors.size() >= 1);
    CHECK(r.errors[0].where.line == 7);
    CHECK_THAT(r.errors[0].message,
               Catch::StartsWith("'<<' (a YAML merge key) expects a mapping or a list of "
                                 "mappings, such as <<: *defaults; got a single value"));
  }
  SECTION("a quoted '<<' is an ordinary key") {
    LoadResult r = Load(Replace(sources, "<<: *pg", "\"<<\": x\n    type: postgres\n    dsn: y"));
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].message, Catch::StartsWith("unknown option '<<'"));
  }
  SECTION("a mapping that merges itself does not loop") {
    LoadResult r = Load(Replace(sources, "  other:\n    <<: *pg", "  other: &o\n    <<: *o"));
    REQUIRE_NOTHROW(r.errors.size());
    CHECK_FALSE(r.ok());
  }
}

}  // namespace sluice

namespace sluice {

TEST_CASE("Config: secret values are known to Redact once loaded", "[unit][config]") {
  auto no_source = [](const SourceContext&) -> Result<std::unique_ptr<Source>> {
    return Status::Internal("fake");
  };
  auto no_sink = [](const SinkContext&) -> Result<std::unique_ptr<Sink>> {
    return Status::Internal("fake");
  };
  OptionSpec url = Opt("url", OptionType::kString);
  url.secrets = [](const std::string& value) -> Result<std::vector<std::string>> {
    if (value == "refused-91") return Status::InvalidArgument("not a test URL");
    return std::vector<std::string>{"part-" + value};
  };
  Registry registry;
  registry.AddSource({"db", "fake", {Opt("dsn", OptionType::kSecret)}, no_source});
  registry.AddSink({"vault", "fake", {Opt("password", OptionType::kSecret), url}, no_sink});
  const std::string yaml = R"(http: { token: "token-91" }
sources:
  s: { type: db, dsn: "dsn ${PW}" }
sinks:
  v: { type: vault, password: "pw-91", url: u-91 }
pipelines:
  p: s.a.b | v url=pipe-91 password=pipe-pw-91
  q:
    from: s.a.b
    to: v
)";
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "PW") return "from-env-91";
    return std::nullopt;
  };
  LoadResult r = LoadConfigString(yaml, "test.yaml", registry, env);
  INFO(AllErrors(r));
  REQUIRE(r.ok());
  // Whole kSecret values (interpolated), and only the parts a hook names of other values.
  CHECK(Redact("token-91 | dsn from-env-91 | pw-91 | u-91 part-u-91 | part-pipe-91 | pipe-pw-91") ==
        "*** | *** | *** | u-91 *** | *** | ***");

  SECTION("a value its hook refuses is a config error at the value, and hidden") {
    LoadResult bad =
        LoadConfigString(Replace(yaml, "url: u-91", "url: refused-91"), "test.yaml", registry, env);
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].ToString() == "test.yaml:5:45: option 'url' is not a test URL");
    CHECK(Redact("x refused-91 y") == "x *** y");
  }
}

TEST_CASE("Config: two pipelines of one source may not share a slot, {pipeline} gives each its own",
          "[unit][config]") {
  const std::string shared = R"(sources:
  shop:
    type: postgres
    dsn: "host=db"
    slot: app_slot
sinks:
  out:
    type: stdout
pipelines:
  orders: shop.public.orders | out
  users: shop.public.users | out
  other:
    from: shop.public.items
    to: out
    source_options: { slot: own }
)";
  LoadResult r = Load(shared);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where.line == 11);
  CHECK(r.errors[0].message ==
        "pipelines 'orders' (test.yaml:10:3) and 'users' both use slot 'app_slot' of source "
        "'shop': a slot serves one pipeline; leave slot unset for a default per pipeline, or "
        "put {pipeline} in it");

  std::string placeholder = shared;
  placeholder.replace(placeholder.find("app_slot"), 8, "app_{pipeline}");
  LoadResult ok = Load(placeholder);
  INFO(AllErrors(ok));
  REQUIRE(ok.ok());
  const Config& c = ok.config;
  CHECK(PipelineSourceOptions(*c.FindSource("shop"), c.pipelines[1], {SlotOpt()}).at("slot") ==
        "app_users");
  // A pipeline's own source_options override the source's.
  CHECK(PipelineSourceOptions(*c.FindSource("shop"), c.pipelines[2], {SlotOpt()}).at("slot") ==
        "own");

  std::string same_override = shared;
  same_override.replace(same_override.find("app_slot"), 8, "own");
  same_override.replace(same_override.find("  users: shop.public.users | out\n"), 33, "");
  LoadResult clash = Load(same_override);
  REQUIRE(clash.errors.size() == 1);
  CHECK(clash.errors[0].message.find("'orders' (test.yaml:10:3) and 'other' both use slot 'own'") !=
        std::string::npos);
}

TEST_CASE("Config: {pipeline} expands to an identifier-safe form of the name", "[unit][config]") {
  CHECK(ExpandPipelineName("sluice_{pipeline}", "Orders-EU.v2") == "sluice_orders_eu_v2");
  CHECK(ExpandPipelineName("{pipeline}_{pipeline}", "a") == "a_a");
  CHECK(ExpandPipelineName("fixed", "a") == "fixed");
  CHECK(ExpandPipelineName("{pipe}", "a") == "{pipe}");
}

}  // namespace sluice

#include "runtime/config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include "runtime/interpolate.h"
#include "runtime/listen_address.h"
#include "runtime/pipe_parser.h"
#include "util/printable.h"
#include "util/redact.h"

namespace sluice {

namespace {

// Every text of the file that a message quotes goes through Quote: see core/printable.h.
std::string Quote(const std::string& s) { return QuotePrintable(s); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + Printable(item);
  return out.empty() ? "none" : out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "unknown sink 'serch' (known sinks: out, search); did you mean 'search'?"
std::string Unknown(const std::string& noun, const std::string& name,
                    const std::vector<std::string>& known, const std::string& extra = "") {
  std::string message =
      "unknown " + noun + " " + Quote(name) + extra + " (known " + noun + "s: " + Join(known) + ")";
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const auto& k : known) {
    size_t d = EditDistance(name, k);
    if (d < best_distance && d < name.size()) {
      best = &k;
      best_distance = d;
    }
  }
  if (best != nullptr) message += "; did you mean " + Quote(*best) + "?";
  return message;
}

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "an empty value";
  }
}

bool IsValidName(const std::string& name) {
  auto ok = [](char c, bool first) {
    auto u = static_cast<unsigned char>(c);
    return std::isalpha(u) || c == '_' || (!first && (std::isdigit(u) || c == '-'));
  };
  if (name.empty() || !ok(name[0], true)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return ok(c, false); });
}

std::optional<int64_t> ToInt(const std::string& text) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

const std::vector<std::string> kTopKeys = {"state_dir", "http",  "log",       "limits",
                                           "sources",   "sinks", "pipelines", "shutdown_timeout",
                                           "readiness"};
const std::vector<std::string> kStructuredKeys = {"from", "transforms", "to", "source_options",
                                                  "readiness"};

OptionSpec Spec(std::string name, OptionType type, std::vector<std::string> choices = {}) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.choices = std::move(choices);
  return spec;
}

// A whole-number or duration setting with its bounds, checked after its type.
struct Bounded {
  OptionSpec spec;
  int64_t min;  // for durations, in milliseconds
  int64_t max;
};

Bounded Bound(std::string name, OptionType type, std::string default_value, int64_t min,
              int64_t max, std::string description) {
  OptionSpec spec = Spec(std::move(name), type);
  spec.default_value = std::move(default_value);
  spec.description = std::move(description);
  return {std::move(spec), min, max};
}

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// The limits of the HTTP server, with their bounds; the defaults are HttpServerLimits'.
const std::vector<Bounded>& HttpLimitSpecs() {
  static const HttpServerLimits d;
  static const std::vector<Bounded> specs = {
      Bound("max_connections", OptionType::kInt, std::to_string(d.max_connections), 1, 65536,
            "connections open at once; beyond it the one that has waited longest for its "
            "request is closed"),
      Bound("request_timeout", OptionType::kDuration, Millis(d.request_timeout), 100, 600000,
            "a request must arrive whole within this time of its first byte, and its answer be "
            "taken within this time"),
      Bound("idle_timeout", OptionType::kDuration, Millis(d.idle_timeout), 100, 3600000,
            "a connection without a request in progress is closed after this time")};
  return specs;
}

const std::vector<OptionSpec>& HttpSpecs() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> s = {
        Spec("listen", OptionType::kString), Spec("token", OptionType::kSecret),
        Spec("wedged_after", OptionType::kDuration), Spec("max_waiters", OptionType::kInt)};
    for (const Bounded& b : HttpLimitSpecs()) s.push_back(b.spec);
    return s;
  }();
  return specs;
}

const std::vector<OptionSpec>& ReadinessSpecs() {
  static const std::vector<OptionSpec> specs = {Spec("ready_during_snapshot", OptionType::kBool),
                                                Spec("max_lag_seconds", OptionType::kDuration),
                                                Spec("max_lag_bytes", OptionType::kBytes)};
  return specs;
}

const std::vector<OptionSpec>& LogSpecs() {
  static const std::vector<OptionSpec> specs = {
      Spec("format", OptionType::kEnum, {"text", "json", "auto"}),
      Spec("level", OptionType::kEnum, {"trace", "debug", "info", "warn", "error"}),
      Spec("progress_interval", OptionType::kDuration)};
  return specs;
}

const std::vector<OptionSpec>& LimitSpecs() {
  static const std::vector<OptionSpec> specs = {
      Spec("batch_changes", OptionType::kInt), Spec("batch_bytes", OptionType::kBytes),
      Spec("queue_batches", OptionType::kInt), Spec("queue_bytes", OptionType::kBytes)};
  return specs;
}

std::vector<std::string> SpecNames(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return names;
}

// One key of a mapping, in file order. Not assignable: assigning a YAML::Node does not
// rebind it but overwrites the node it refers to, corrupting the document.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  Entry(std::string key_in, const YAML::Node& key_node_in, const YAML::Node& value_in)
      : key(std::move(key_in)), key_node(key_node_in), value(value_in) {}
  Entry(const Entry&) = default;
  Entry& operator=(const Entry&) = delete;
};

// An interpolated scalar that can locate any of its characters in the file.
struct Text {
  std::string value;
  std::vector<size_t> origin;  // value offset -> offset in the decoded scalar
  ScalarPositions positions;
  std::string file;

  SourceLocation At(size_t offset) const {
    size_t raw = origin.empty() ? offset : origin[std::min(offset, origin.size() - 1)];
    ScalarPositions::Position p = positions.At(raw);
    return {file, p.line + 1, p.column + 1};
  }
};

// Who owns a table of options, for messages: "option" "for source type 'postgres'".
struct OptionOwner {
  std::string noun;   // "option" or "key"
  std::string owner;  // " for source type 'postgres'" or " in 'limits'"
};

// Where the deepest mapping or list of a text opens. yaml-cpp's DeepRecursion carries the
// mark of its scanner, which has often read ahead to the end of the file; the events it
// emitted before giving up say where the nesting went too deep.
class NestingTracker : public YAML::EventHandler {
 public:
  // The mark of the deepest collection opened, or nullopt when `text` opens none.
  static std::optional<YAML::Mark> DeepestOpening(const std::string& text) {
    NestingTracker tracker;
    std::istringstream in(text);
    try {
      YAML::Parser parser(in);
      while (parser.HandleNextDocument(tracker)) {
      }
    } catch (const YAML::Exception&) {
      // Expected: the text is the one that failed to load.
    }
    return tracker.deepest_mark_;
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Open(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Open(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Open(const YAML::Mark& mark) {
    if (++depth_ > deepest_) {
      deepest_ = depth_;
      deepest_mark_ = mark;
    }
  }

  int depth_ = 0;
  int deepest_ = 0;
  std::optional<YAML::Mark> deepest_mark_;
};

// Walks one config text and fills a LoadResult. Lives for one load call.
class Loader {
 public:
  Loader(std::string_view text, std::string file_name, const Registry& registry,
         const EnvLookup& env)
      : text_(text), registry_(registry), env_(env) {
    result_.config.file = std::move(file_name);
  }

  LoadResult Run() && {
    try {
      LoadRoot(YAML::Load(std::string(text_)));
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp says only "bad file", at a mark that may be the end of the file.
      Error(Loc(NestingTracker::DeepestOpening(std::string(text_)).value_or(e.mark)),
            "YAML is nested too deeply (yaml-cpp stops after a few hundred levels of mappings "
            "and lists); the deepest level it read opens here");
    } catch (const YAML::ParserException& e) {
      Error(Loc(e.mark), "YAML syntax error: " + e.msg);
    } catch (const YAML::Exception& e) {
      Error(Loc(e.mark), "cannot read YAML: " + e.msg);
    } catch (const std::exception& e) {
      Error({file(), 0, 0}, std::string("cannot load config: ") + e.what());
    }
    return std::move(result_);
  }

 private:
  const std::string& file() const { return result_.config.file; }
  Config& config() { return result_.config; }
  SourceLocation Loc(const YAML::Mark& m) const { return {file(), m.line + 1, m.column + 1}; }
  // A null value's mark points past it; its key is where the user looks.
  SourceLocation Loc(const Entry& e) const {
    return Loc(e.value.IsNull() ? e.key_node.Mark() : e.value.Mark());
  }
  // Printable() also catches file text that reached `message` without Quote (pipe parser,
  // interpolation): one diagnostic is always one line.
  void Error(SourceLocation where, const std::string& message) {
    result_.errors.push_back({std::move(where), Printable(message)});
  }

  // The keys of a mapping, in file order, followed by those its merge keys (`<<`) bring in.
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& noun);
  void AppendMerged(const YAML::Node& map, const Entry& merge, const std::string& noun,
                    std::vector<Entry>* out);
  std::optional<Text> Scalar(const Entry& e, const std::string& subject);
  std::optional<std::string> OptionValue(const Entry& e, const OptionSpec& spec,
                                         const OptionOwner& owner);
  std::map<std::string, std::string> LoadOptions(const std::vector<Entry>& entries,
                                                 const std::vector<OptionSpec>& specs,
                                                 const OptionOwner& owner);
  bool ExpectMap(const Entry& e, const std::string& subject, const std::string& expected);
  Status RememberSecrets(const OptionSpec& spec, const std::string& value, SourceLocation where);

  void LoadRoot(const YAML::Node& root);
  void LoadSettings(const Entry& e);
  void LoadHttp(const Entry& e, const std::vector<Entry>& entries,
                std::map<std::string, std::string> values);
  void LoadHttpLimits(const Entry& e, const std::vector<Entry>& entries,
                      const std::map<std::string, std::string>& values);
  void LoadMaxWaiters(const SourceLocation& at, const std::string& text);
  void CheckListenLoopback(const SourceLocation& where);
  // Where key `key` of a mapping's `entries` was written (it may come from a merge key), or
  // the mapping's own key.
  SourceLocation EntryAt(const Entry& e, const std::vector<Entry>& entries, const std::string& key);
  void LoadReadiness(const Entry& e, ReadinessPolicy* policy);
  void LoadShutdownTimeout(const Entry& e);
  void LoadLimits(const Entry& e);
  void LoadPlugins(const Entry& section, bool sources);
  void LoadPlugin(const Entry& e, bool sources);
  std::vector<std::string> PluginTypes(bool sources) const;
  const std::vector<OptionSpec>* PluginSpecs(bool sources, const std::string& type) const;
  void LoadPipelines(const Entry& section);
  void LoadPipe(const Entry& e);
  void LoadStructured(const Entry& e);
  void LoadStructuredParts(const std::map<std::string, Entry>& parts, PipelineConfig* pipeline);
  std::vector<Text> ScalarList(const Entry& e, const std::string& subject);
  void ResolveSelectors(const std::vector<SelectorSyntax>& selectors, const Text& text,
                        PipelineConfig* pipeline);
  void ResolveSink(const SinkRefSyntax& syntax, const Text& text, PipelineConfig* pipeline);
  void LoadSourceOptions(const Entry& e, PipelineConfig* pipeline);
  void CheckOnePerPipeline();
  template <typename T>
  bool ReportParse(const Parsed<T>& parsed, const Text& text) {
    for (const auto& err : parsed.errors) Error(text.At(err.offset), err.message);
    return parsed.ok();
  }

  std::string_view text_;
  const Registry& registry_;
  const EnvLookup& env_;
  LoadResult result_;
  // Every declared name, even of entries with errors, so pipelines do not pile on.
  std::vector<std::string> source_names_;
  std::vector<std::string> sink_names_;
  // The mappings whose merge keys are being resolved, outermost first: a cycle stops there.
  std::vector<YAML::Node> merging_;
};

// A YAML 1.1 merge key: a plain `<<` (a quoted "<<" is an ordinary key) or one tagged !!merge.
bool IsMergeKey(const YAML::Node& key) {
  return (key.Scalar() == "<<" && key.Tag() == "?") || key.Tag() == "tag:yaml.org,2002:merge";
}

std::vector<Entry> Loader::Entries(const YAML::Node& map, const std::string& noun) {
  std::vector<Entry> out;
  std::vector<Entry> merges;
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e{"", it->first, it->second};
    if (!e.key_node.IsScalar()) {
      Error(Loc(e.key_node.Mark()), "expected a " + noun + " name, got " + KindName(e.key_node));
      continue;
    }
    e.key = e.key_node.Scalar();
    if (IsMergeKey(e.key_node)) {
      merges.push_back(std::move(e));
      continue;
    }
    auto [seen, inserted] = first_line.emplace(e.key, e.key_node.Mark().line + 1);
    if (!inserted) {
      Error(Loc(e.key_node.Mark()), "duplicate " + noun + " " + Quote(e.key) +
                                        " (first defined at line " + std::to_string(seen->second) +
                                        ")");
      continue;
    }
    out.push_back(std::move(e));
  }
  for (const Entry& merge : merges) AppendMerged(map, merge, noun, &out);
  return out;
}

// `<<: *defaults` or `<<: [*a, *b]`: the keys of those mappings that `map` does not set
// itself, earlier mappings before later ones (YAML 1.1's merge key type). Merged values keep
// their own marks, so their mistakes are reported where they are written.
void Loader::AppendMerged(const YAML::Node& map, const Entry& merge, const std::string& noun,
                          std::vector<Entry>* out) {
  std::vector<YAML::Node> sources;
  if (merge.value.IsMap()) sources.push_back(merge.value);
  if (merge.value.IsSequence()) {
    for (const YAML::Node& item : merge.value) sources.push_back(item);
  }
  const bool all_maps =
      std::all_of(sources.begin(), sources.end(), [](const YAML::Node& n) { return n.IsMap(); });
  if (sources.empty() || !all_maps) {
    const YAML::Node& bad = merge.value.IsSequence() && !sources.empty()
                                ? *std::find_if(sources.begin(), sources.end(),
                                                [](const YAML::Node& n) { return !n.IsMap(); })
                                : merge.value;
    Error(Loc(Entry{merge.key, merge.key_node, bad}),
          "'<<' (a YAML merge key) expects a mapping or a list of mappings, such as "
          "<<: *defaults; got " +
              std::string(KindName(bad)));
    return;
  }
  for (const YAML::Node& source : sources) {
    // An alias may name a mapping that contains it: `a: &x { <<: *x }`.
    bool cycle = source.is(map) || std::any_of(merging_.begin(), merging_.end(),
                                               [&](const YAML::Node& n) { return n.is(source); });
    if (cycle) {
      Error(Loc(merge.key_node.Mark()), "'<<' (a YAML merge key) merges a mapping into itself");
      continue;
    }
    merging_.push_back(map);
    std::vector<Entry> merged = Entries(source, noun);
    merging_.pop_back();
    for (Entry& e : merged) {
      bool set =
          std::any_of(out->begin(), out->end(), [&](const Entry& x) { return x.key == e.key; });
      if (!set) out->push_back(std::move(e));
    }
  }
}

// Tells Redact (core/redact.h) what of `value` is secret, so no message shows it: the whole
// value of a kSecret option, or what its plugin's `secrets` hook names. A value the hook
// refuses is a config error, and hidden whole.
Status Loader::RememberSecrets(const OptionSpec& spec, const std::string& value,
                               SourceLocation where) {
  if (spec.secrets == nullptr) {
    if (spec.type == OptionType::kSecret) AddSecret(value);
    return Status::Ok();
  }
  Result<std::vector<std::string>> parts = spec.secrets(value);
  if (!parts.ok()) {
    AddSecret(value);
    Error(std::move(where), "option " + Quote(spec.name) + " is " + parts.status().message());
    return parts.status();
  }
  for (const std::string& part : *parts) AddSecret(part);
  return Status::Ok();
}

bool Loader::ExpectMap(const Entry& e, const std::string& subject, const std::string& expected) {
  if (e.value.IsMap()) return true;
  Error(Loc(e), subject + " must be " + expected + ", got " + KindName(e.value));
  return false;
}

std::optional<Text> Loader::Scalar(const Entry& e, const std::string& subject) {
  if (!e.value.IsScalar()) {
    Error(Loc(e), subject + " expects a single value, got " + KindName(e.value));
    return std::nullopt;
  }
  const YAML::Mark mark = e.value.Mark();
  Text text;
  text.file = file();
  text.positions = ScalarPositions(text_, mark.pos, mark.line, mark.column, e.value.Scalar());
  Interpolated in = Interpolate(e.value.Scalar(), env_);
  for (const auto& err : in.errors) Error(text.At(err.offset), err.message);
  if (!in.ok()) return std::nullopt;
  text.value = std::move(in.text);
  text.origin = std::move(in.origin);
  return text;
}

// A plugin option's text: a scalar, or a list joined with ", " for kList options.
std::optional<std::string> Loader::OptionValue(const Entry& e, const OptionSpec& spec,
                                               const OptionOwner& owner) {
  const std::string subject = (owner.noun == "option" ? "option " : "") + Quote(spec.name);
  if (!e.value.IsSequence() || spec.type != OptionType::kList) {
    std::optional<Text> text = Scalar(e, subject);
    if (!text) return std::nullopt;
    Status status = ValidateOption(spec, text->value);
    if (!status.ok()) {
      // ValidateOption says "option 'x' ..."; settings sections call them keys.
      std::string message = status.message();
      if (owner.noun != "option" && message.rfind("option ", 0) == 0) message.erase(0, 7);
      Error(text->At(0), message);
    }
    if (status.ok()) status = RememberSecrets(spec, text->value, text->At(0));
    return status.ok() ? std::optional(text->value) : std::nullopt;
  }
  std::string joined;
  bool ok = true;
  for (const YAML::Node& item : e.value) {
    std::optional<Text> text = Scalar({spec.name, e.key_node, item}, "each item of " + subject);
    if (text) joined += (joined.empty() ? "" : ", ") + text->value;
    ok = ok && text.has_value();
  }
  return ok ? std::optional(joined) : std::nullopt;
}

std::map<std::string, std::string> Loader::LoadOptions(const std::vector<Entry>& entries,
                                                       const std::vector<OptionSpec>& specs,
                                                       const OptionOwner& owner) {
  std::map<std::string, std::string> out;
  for (const Entry& e : entries) {
    const OptionSpec* spec = FindOption(specs, e.key);
    if (spec == nullptr) {
      Error(Loc(e.key_node.Mark()), Unknown(owner.noun, e.key, SpecNames(specs), owner.owner));
    } else if (std::optional<std::string> value = OptionValue(e, *spec, owner)) {
      out[e.key] = std::move(*value);
    }
  }
  return out;
}

void Loader::LoadRoot(const YAML::Node& root) {
  if (root.IsNull()) {
    Error({file(), 1, 1},
          "the config is empty: expected a mapping with sources, sinks and "
          "pipelines");
    return;
  }
  if (!root.IsMap()) {
    Error(Loc(root.Mark()), std::string("expected a mapping at the top level (keys: ") +
                                Join(kTopKeys) + "), got " + KindName(root));
    return;
  }
  std::optional<Entry> pipelines;
  for (const Entry& e : Entries(root, "top-level key")) {
    if (e.key == "state_dir") {
      if (auto text = Scalar(e, "'state_dir'")) config().state_dir = text->value;
    } else if (e.key == "http" || e.key == "log") {
      LoadSettings(e);
    } else if (e.key == "limits") {
      LoadLimits(e);
    } else if (e.key == "readiness") {
      LoadReadiness(e, &config().readiness);
    } else if (e.key == "shutdown_timeout") {
      LoadShutdownTimeout(e);
    } else if (e.key == "sources" || e.key == "sinks") {
      LoadPlugins(e, e.key == "sources");
    } else if (e.key == "pipelines") {
      pipelines.emplace(e);  // after sources and sinks, wherever it appears
    } else {
      Error(Loc(e.key_node.Mark()), Unknown("top-level key", e.key, kTopKeys));
    }
  }
  if (pipelines) LoadPipelines(*pipelines);
  CheckOnePerPipeline();
  if (config().pipelines.empty() && !pipelines) {
    Error({file(), 1, 1},
          "no pipelines: add a 'pipelines:' section, for example "
          "'pipelines: { orders: shop.public.orders | out }'");
  }
}

void Loader::LoadSettings(const Entry& e) {
  if (e.value.IsNull()) return;
  const bool http = e.key == "http";
  if (!ExpectMap(e, Quote(e.key),
                 http ? "a mapping such as { listen: \"127.0.0.1:8080\" }"
                      : "a mapping such as { format: text, level: info }")) {
    return;
  }
  const auto& specs = http ? HttpSpecs() : LogSpecs();
  std::vector<Entry> entries = Entries(e.value, "key");
  auto values = LoadOptions(entries, specs, {"key", " in " + Quote(e.key)});
  if (http) return LoadHttp(e, entries, std::move(values));
  if (values.count("format")) config().log_format = values["format"];
  if (values.count("level")) config().log_level = values["level"];
  if (values.count("progress_interval")) {
    config().log_progress_interval = Options(values).Duration("progress_interval");
  }
}

void Loader::LoadHttp(const Entry& e, const std::vector<Entry>& entries,
                      std::map<std::string, std::string> values) {
  Options options(values);
  const SourceLocation listen_at = EntryAt(e, entries, "listen");
  if (values.count("token")) config().http_token = values["token"];
  if (values.count("wedged_after")) config().wedged_after = options.Duration("wedged_after");
  LoadHttpLimits(e, entries, values);
  if (values.count("max_waiters")) {
    LoadMaxWaiters(EntryAt(e, entries, "max_waiters"), values["max_waiters"]);
  }
  if (values.count("listen")) {
    Result<ListenSpec> spec = ParseListen(values["listen"]);
    if (!spec.ok()) return Error(listen_at, spec.status().message());
    config().http_listen = values["listen"];
  }
  CheckListenLoopback(listen_at);
}

SourceLocation Loader::EntryAt(const Entry& e, const std::vector<Entry>& entries,
                               const std::string& key) {
  auto it =
      std::find_if(entries.begin(), entries.end(), [&](const Entry& x) { return x.key == key; });
  return it == entries.end() ? Loc(e.key_node.Mark()) : Loc(*it);
}

void Loader::LoadHttpLimits(const Entry& e, const std::vector<Entry>& entries,
                            const std::map<std::string, std::string>& values) {
  for (const Bounded& b : HttpLimitSpecs()) {
    auto it = values.find(b.spec.name);
    if (it == values.end()) continue;
    const bool duration = b.spec.type == OptionType::kDuration;
    int64_t n = duration ? Options(values).Duration(b.spec.name).count()
                         : ToInt(it->second).value_or(b.min - 1);
    if (n < b.min || n > b.max) {
      std::string range = duration
                              ? std::to_string(b.min) + "ms and " + std::to_string(b.max) + "ms"
                              : std::to_string(b.min) + " and " + std::to_string(b.max);
      Error(EntryAt(e, entries, b.spec.name), Quote(b.spec.name) + " in 'http' must be between " +
                                                  range + ", got " + Quote(it->second));
      continue;
    }
    HttpServerLimits& limits = config().http_limits;
    if (b.spec.name == "max_connections") limits.max_connections = static_cast<size_t>(n);
    if (b.spec.name == "request_timeout") limits.request_timeout = std::chrono::milliseconds(n);
    if (b.spec.name == "idle_timeout") limits.idle_timeout = std::chrono::milliseconds(n);
  }
}

// After max_connections: the waits must leave connections for everything else.
void Loader::LoadMaxWaiters(const SourceLocation& at, const std::string& text) {
  const size_t connections = config().http_limits.max_connections;
  std::optional<int64_t> n = ToInt(text);
  if (!n || *n < 1 || static_cast<size_t>(*n) >= connections) {
    return Error(at, "'max_waiters' in 'http' must be at least 1 and less than max_connections (" +
                         std::to_string(connections) +
                         "), since each waiting request holds a connection and the probes need "
                         "some: got " +
                         Quote(text));
  }
  config().http_max_waiters = static_cast<size_t>(*n);
}

// A listener without a token must be loopback. Decided on what the host resolves to: every
// address of it must be loopback, since the server binds one of them.
void Loader::CheckListenLoopback(const SourceLocation& where) {
  const std::string& listen = config().http_listen;
  Result<ListenSpec> spec = ParseListen(listen);
  if (!spec.ok()) return;  // reported where it was read
  Result<std::vector<SocketAddress>> addresses = ResolveListen(*spec);
  if (!addresses.ok()) {
    return Error(where, "'listen' " + Quote(listen) + ": " + addresses.status().message());
  }
  if (config().http_token.empty() && !AllLoopback(*addresses)) {
    std::string resolved;
    for (const SocketAddress& a : *addresses) {
      resolved += (resolved.empty() ? "" : ", ") + a.ToString();
    }
    Error(where, "'listen' " + Quote(listen) + " is not a loopback address (it resolves to " +
                     resolved +
                     "): set 'token' in 'http' (for example token: ${SLUICE_HTTP_TOKEN}) so that "
                     "/status and /metrics need it");
  }
}

void Loader::LoadReadiness(const Entry& e, ReadinessPolicy* policy) {
  if (e.value.IsNull()) return;
  if (!ExpectMap(e, "'readiness'", "a mapping such as { max_lag_seconds: 30s }")) return;
  auto values = LoadOptions(Entries(e.value, "key"), ReadinessSpecs(), {"key", " in 'readiness'"});
  Options options(values);
  if (values.count("ready_during_snapshot")) {
    policy->ready_during_snapshot = options.Bool("ready_during_snapshot");
  }
  if (values.count("max_lag_seconds")) policy->max_lag = options.Duration("max_lag_seconds");
  if (values.count("max_lag_bytes")) policy->max_lag_bytes = options.Bytes("max_lag_bytes");
}

void Loader::LoadShutdownTimeout(const Entry& e) {
  std::optional<Text> text = Scalar(e, "'shutdown_timeout'");
  if (!text) return;
  std::optional<std::chrono::milliseconds> d = ParseDuration(text->value);
  if (!d || d->count() <= 0) {
    Error(text->At(0), "'shutdown_timeout' expects a duration greater than 0 such as 30s, got " +
                           Quote(text->value));
    return;
  }
  config().shutdown_timeout = *d;
}

void Loader::LoadLimits(const Entry& e) {
  if (e.value.IsNull()) return;
  if (!ExpectMap(e, "'limits'", "a mapping such as { batch_changes: 1000, queue_bytes: 64MB }")) {
    return;
  }
  std::vector<Entry> entries = Entries(e.value, "key");
  auto values = LoadOptions(entries, LimitSpecs(), {"key", " in 'limits'"});
  const std::pair<const char*, size_t*> targets[] = {{"batch_changes", &config().batch_max_changes},
                                                     {"batch_bytes", &config().batch_max_bytes},
                                                     {"queue_batches", &config().queue_max_batches},
                                                     {"queue_bytes", &config().queue_max_bytes}};
  for (const auto& [name, target] : targets) {
    auto it = values.find(name);
    if (it == values.end()) continue;
    const OptionSpec* spec = FindOption(LimitSpecs(), name);
    std::optional<int64_t> n = spec->type == OptionType::kInt
                                   ? ToInt(it->second)
                                   : std::optional<int64_t>(ParseBytes(it->second).value_or(0));
    if (n && *n > 0) {
      *target = static_cast<size_t>(*n);
      continue;
    }
    auto entry = std::find_if(entries.begin(), entries.end(),
                              [&key = name](const Entry& x) { return x.key == key; });
    Error(Loc(*entry), std::string("'") + name + "' in 'limits' must be greater than 0, got " +
                           Quote(it->second));
  }
}

void Loader::LoadPlugins(const Entry& section, bool sources) {
  if (section.value.IsNull()) return;
  const std::string noun = sources ? "source" : "sink";
  if (!ExpectMap(section, Quote(section.key),
                 "a mapping of " + noun + " names to their settings (name: { type: ... })")) {
    return;
  }
  for (const Entry& e : Entries(section.value, noun)) {
    (sources ? source_names_ : sink_names_).push_back(e.key);
    if (!IsValidName(e.key)) {
      Error(Loc(e.key_node.Mark()), "invalid " + noun + " name " + Quote(e.key) +
                                        ": names start with a letter or '_' and hold only "
                                        "letters, digits, '_' and '-'");
    }
    LoadPlugin(e, sources);
  }
}

std::vector<std::string> Loader::PluginTypes(bool sources) const {
  std::vector<std::string> types;
  if (sources) {
    for (const auto* p : registry_.Sources()) types.push_back(p->type);
  } else {
    for (const auto* p : registry_.Sinks()) types.push_back(p->type);
  }
  return types;
}

const std::vector<OptionSpec>* Loader::PluginSpecs(bool sources, const std::string& type) const {
  if (sources) {
    const SourcePlugin* p = registry_.FindSource(type);
    return p ? &p->options : nullptr;
  }
  const SinkPlugin* p = registry_.FindSink(type);
  return p ? &p->options : nullptr;
}

void Loader::LoadPlugin(const Entry& e, bool sources) {
  const std::string noun = sources ? "source" : "sink";
  const std::string subject = noun + " " + Quote(e.key);
  if (!ExpectMap(e, subject, "a mapping with a 'type' and its options")) return;
  std::vector<Entry> options;
  std::optional<Entry> type_entry;
  for (const Entry& x : Entries(e.value, "option")) {
    if (x.key == "type") {
      type_entry.emplace(x);
    } else {
      options.push_back(x);
    }
  }
  if (!type_entry) {
    Error(Loc(e.key_node.Mark()), subject + " has no 'type' (known " + noun +
                                      " types: " + Join(PluginTypes(sources)) + ")");
    return;
  }
  std::optional<Text> type = Scalar(*type_entry, "'type'");
  if (!type) return;
  const std::vector<OptionSpec>* specs = PluginSpecs(sources, type->value);
  if (specs == nullptr) {
    Error(type->At(0), Unknown(noun + " type", type->value, PluginTypes(sources)));
    return;
  }
  PluginConfig plugin{e.key, type->value, {}, Loc(e.key_node.Mark())};
  plugin.options =
      LoadOptions(options, *specs, {"option", " for " + noun + " type " + Quote(type->value)});
  for (const OptionSpec& spec : *specs) {
    // A sink's required options may come from the pipe instead: checked per pipeline.
    // A given but invalid value is already reported, so look at the keys, not the values.
    if (!sources || !spec.required ||
        std::any_of(options.begin(), options.end(),
                    [&](const Entry& x) { return x.key == spec.name; })) {
      continue;
    }
    Error(plugin.where, subject + " (type " + type->value + ") is missing required option " +
                            Quote(spec.name) + " (" + OptionTypeName(spec.type) +
                            (spec.description.empty() ? "" : ": " + spec.description) + ")");
  }
  (sources ? config().sources : config().sinks).push_back(std::move(plugin));
}

void Loader::LoadPipelines(const Entry& section) {
  if (section.value.IsNull() || (section.value.IsMap() && section.value.size() == 0)) {
    Error(Loc(section.key_node.Mark()),
          "'pipelines' is empty: add at least one, for example "
          "'orders: shop.public.orders | out'");
    return;
  }
  if (!ExpectMap(section, "'pipelines'", "a mapping of pipeline names to pipes")) return;
  for (const Entry& e : Entries(section.value, "pipeline")) {
    if (!IsValidName(e.key)) {
      Error(Loc(e.key_node.Mark()), "invalid pipeline name " + Quote(e.key) +
                                        ": names start with a letter or '_' and hold only "
                                        "letters, digits, '_' and '-'");
    }
    if (e.value.IsScalar()) {
      LoadPipe(e);
    } else if (e.value.IsMap()) {
      LoadStructured(e);
    } else {
      Error(Loc(e), "pipeline " + Quote(e.key) +
                        " must be a pipe such as 'shop.public.orders | out' or a mapping with "
                        "'from' and 'to', got " +
                        KindName(e.value));
    }
  }
}

void Loader::LoadPipe(const Entry& e) {
  std::optional<Text> text = Scalar(e, "pipeline " + Quote(e.key));
  if (!text) return;
  Parsed<PipeSyntax> parsed = ParsePipe(text->value);
  ReportParse(parsed, *text);
  PipelineConfig pipeline;
  pipeline.name = e.key;
  pipeline.where = Loc(e.key_node.Mark());
  pipeline.readiness = config().readiness;
  // Names are checked even when another stage is bad: every mistake at once.
  if (parsed.value.selectors_ok) ResolveSelectors(parsed.value.selectors, *text, &pipeline);
  for (TransformSyntax& t : parsed.value.transforms) {
    t.spec.where = text->At(t.offset);
    pipeline.transforms.push_back(std::move(t.spec));
  }
  if (parsed.value.sink_ok) ResolveSink(parsed.value.sink, *text, &pipeline);
  config().pipelines.push_back(std::move(pipeline));
}

std::vector<Text> Loader::ScalarList(const Entry& e, const std::string& subject) {
  std::vector<Text> out;
  if (!e.value.IsSequence()) {
    if (auto text = Scalar(e, subject)) out.push_back(std::move(*text));
    return out;
  }
  for (const YAML::Node& item : e.value) {
    if (auto text = Scalar({e.key, e.key_node, item}, "each item of " + subject)) {
      out.push_back(std::move(*text));
    }
  }
  return out;
}

void Loader::LoadStructured(const Entry& e) {
  PipelineConfig pipeline;
  pipeline.name = e.key;
  pipeline.where = Loc(e.key_node.Mark());
  pipeline.readiness = config().readiness;
  std::map<std::string, Entry> parts;
  for (const Entry& part : Entries(e.value, "key")) {
    if (std::find(kStructuredKeys.begin(), kStructuredKeys.end(), part.key) ==
        kStructuredKeys.end()) {
      Error(Loc(part.key_node.Mark()),
            Unknown("key", part.key, kStructuredKeys, " in pipeline " + Quote(e.key)));
    } else {
      parts.emplace(part.key, part);
    }
  }
  const std::string subject = "pipeline " + Quote(e.key);
  if (!parts.count("from")) {
    Error(pipeline.where,
          subject + " has no 'from' (the tables to read, e.g. from: shop.public.orders)");
  }
  if (!parts.count("to")) {
    Error(pipeline.where, subject + " has no 'to' (the sink to write to, e.g. to: out)");
  }
  LoadStructuredParts(parts, &pipeline);
  config().pipelines.push_back(std::move(pipeline));
}

void Loader::LoadStructuredParts(const std::map<std::string, Entry>& parts,
                                 PipelineConfig* pipeline) {
  auto texts = [&](const char* key) {
    auto it = parts.find(key);
    return it == parts.end() ? std::vector<Text>{} : ScalarList(it->second, Quote(key));
  };
  for (const Text& text : texts("from")) {
    Parsed<std::vector<SelectorSyntax>> parsed = ParseSelectors(text.value);
    if (ReportParse(parsed, text)) ResolveSelectors(parsed.value, text, pipeline);
  }
  for (const Text& text : texts("transforms")) {
    Parsed<TransformSyntax> parsed = ParseTransform(text.value);
    if (!ReportParse(parsed, text)) continue;
    parsed.value.spec.where = text.At(parsed.value.offset);
    pipeline->transforms.push_back(std::move(parsed.value.spec));
  }
  for (const Text& text : texts("to")) {
    Parsed<SinkRefSyntax> parsed = ParseSinkRef(text.value);
    if (ReportParse(parsed, text)) ResolveSink(parsed.value, text, pipeline);
  }
  auto readiness = parts.find("readiness");
  if (readiness != parts.end()) LoadReadiness(readiness->second, &pipeline->readiness);
  auto options = parts.find("source_options");
  if (options != parts.end() && !pipeline->source.empty()) {
    LoadSourceOptions(options->second, pipeline);
  }
}

void Loader::ResolveSelectors(const std::vector<SelectorSyntax>& selectors, const Text& text,
                              PipelineConfig* pipeline) {
  for (const SelectorSyntax& s : selectors) {
    if (pipeline->source.empty()) {
      if (std::find(source_names_.begin(), source_names_.end(), s.source) == source_names_.end()) {
        Error(text.At(s.offset), Unknown("source", s.source, source_names_));
      }
      pipeline->source = s.source;
    } else if (s.source != pipeline->source) {
      Error(text.At(s.offset), "all selectors of a pipeline must read from one source: " +
                                   Quote(s.source) + " differs from " + Quote(pipeline->source));
      continue;
    }
    pipeline->tables.push_back(s.table);
  }
}

void Loader::ResolveSink(const SinkRefSyntax& syntax, const Text& text, PipelineConfig* pipeline) {
  SinkRef ref = syntax.ref;
  ref.where = text.At(syntax.offset);
  if (std::find(sink_names_.begin(), sink_names_.end(), ref.sink) == sink_names_.end()) {
    Error(ref.where, Unknown("sink", ref.sink, sink_names_));
    return;
  }
  const PluginConfig* sink = config().FindSink(ref.sink);
  const SinkPlugin* plugin = sink ? registry_.FindSink(sink->type) : nullptr;
  if (plugin == nullptr) return;  // the sink's own entry is already reported
  for (const SinkOptionSyntax& option : syntax.options) {
    const OptionSpec* spec = FindOption(plugin->options, option.key);
    if (spec == nullptr) {
      Error(text.At(option.key_offset), Unknown("option", option.key, SpecNames(plugin->options),
                                                " for sink type " + Quote(sink->type)));
    } else if (Status status = ValidateOption(*spec, option.value); !status.ok()) {
      Error(text.At(option.value_offset), status.message());
    } else {
      (void)RememberSecrets(*spec, option.value, text.At(option.value_offset));
    }
  }
  for (const OptionSpec& spec : plugin->options) {
    if (!spec.required || sink->options.count(spec.name) || ref.options.count(spec.name)) continue;
    Error(ref.where, "sink " + Quote(ref.sink) + " (type " + sink->type + ") needs option " +
                         Quote(spec.name) + ": set it on the sink or in " + "the pipe (" +
                         ref.sink + " " + spec.name + "=...)");
  }
  pipeline->sinks.push_back(std::move(ref));
}

void Loader::LoadSourceOptions(const Entry& e, PipelineConfig* pipeline) {
  if (!ExpectMap(e, "'source_options'", "a mapping of source options such as { slot: my_slot }"))
    return;
  const PluginConfig* source = config().FindSource(pipeline->source);
  const SourcePlugin* plugin = source ? registry_.FindSource(source->type) : nullptr;
  if (plugin == nullptr) return;  // unknown source: already reported
  pipeline->source_options = LoadOptions(Entries(e.value, "option"), plugin->options,
                                         {"option", " for source type " + Quote(source->type)});
}

// Two pipelines of one source holding the same slot would fight over it at run time (the
// server answers "replication slot ... already exists" or "is active for PID ...").
void Loader::CheckOnePerPipeline() {
  std::map<std::tuple<std::string, std::string, std::string>, const PipelineConfig*> held;
  for (const PipelineConfig& p : config().pipelines) {
    const PluginConfig* source = config().FindSource(p.source);
    const SourcePlugin* plugin = source ? registry_.FindSource(source->type) : nullptr;
    if (plugin == nullptr) continue;
    std::map<std::string, std::string> options = PipelineSourceOptions(*source, p, plugin->options);
    for (const OptionSpec& spec : plugin->options) {
      auto it = options.find(spec.name);
      if (!spec.one_per_pipeline || it == options.end() || it->second.empty()) continue;
      auto [at, fresh] = held.emplace(std::make_tuple(source->name, spec.name, it->second), &p);
      if (fresh) continue;
      const PipelineConfig& first = *at->second;
      Error(p.where, "pipelines " + Quote(first.name) + " (" + Diagnostic{first.where, ""}.Where() +
                         ") and " + Quote(p.name) + " both use " + spec.name + " " +
                         Quote(it->second) + " of source " + Quote(source->name) + ": a " +
                         spec.name + " serves one pipeline; leave " + spec.name +
                         " unset for a default per pipeline, or put {pipeline} in it");
    }
  }
}

}  // namespace

LoadResult LoadConfigString(const std::string& text, const std::string& file_name,
                            const Registry& registry, const EnvLookup& env) {
  return Loader(text, file_name, registry, env).Run();
}

LoadResult LoadConfigFile(const std::string& path, const Registry& registry, const EnvLookup& env) {
  std::error_code ec;
  std::string problem;
  if (std::filesystem::is_directory(path, ec)) problem = "is a directory";
  std::ifstream in(path, std::ios::binary);
  if (problem.empty() && !in) problem = std::strerror(errno);
  std::string text;
  if (problem.empty()) {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) problem = "read failed";
  }
  if (problem.empty()) return LoadConfigString(text, path, registry, env);
  LoadResult result;
  result.config.file = path;
  result.errors.push_back({{path, 0, 0}, "cannot read config file: " + problem});
  return result;
}

}  // namespace sluice
